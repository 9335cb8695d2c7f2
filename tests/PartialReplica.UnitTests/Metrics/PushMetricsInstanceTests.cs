using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Metrics;

/// <summary>
/// The push metrics live on a meter the host's <see cref="IMeterFactory"/> makes: a listener on one instance's meter
/// sees that instance's measurements and no other's, whatever the follower names.
/// </summary>
public sealed class PushMetricsInstanceTests
{
    [Fact]
    public void A_listener_on_one_instance_sees_only_its_measurements()
    {
        using var firstHost = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var secondHost = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var first = new PushMetrics(firstHost.GetRequiredService<IMeterFactory>());
        var second = new PushMetrics(secondHost.GetRequiredService<IMeterFactory>());
        var seen = new List<(string Instrument, long Value, string? Follower)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, first.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            seen.Add((instrument.Name, value, tags.ToArray().FirstOrDefault(t => t.Key == "follower").Value as string)));
        listener.Start();

        first.RecordPush(new PushEvent("east-1", 2, 3, 1, 4.5, Reconcile: false));
        second.RecordPush(new PushEvent("east-1", 9, 9, 9, 9, Reconcile: true));
        second.RecordError("east-1", new HttpRequestException("down"));
        first.RecordError("west-1", new TimeoutException());

        Assert.Equal(PushMetrics.MeterName, first.Meter.Name);
        Assert.NotSame(first.Meter, second.Meter);
        Assert.Equal(
            [("partial_replica.pushes", 1L, "east-1"), ("partial_replica.push.rows", 3L, "east-1"), ("partial_replica.push.rows", 1L, "east-1"),
             ("partial_replica.push.errors", 1L, "west-1")],
            seen);
    }

    [Fact]
    public void The_gateway_makes_its_push_metrics_from_its_own_meter_factory()
    {
        using var app = GatewayApplication.Build([], new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = "Host=127.0.0.1;Database=none",
            ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(),
            ["Gateway:DataKey"] = Slosilo.GenerateBase64Key(),
        });

        var metrics = app.Services.GetRequiredService<PushMetrics>();
        Assert.Same(app.Services.GetRequiredService<IMeterFactory>(), metrics.Meter.Scope);
        Assert.Same(metrics, app.Services.GetRequiredService<PushMetrics>());
    }
}
