using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// Listens to one in-process gateway's own meter (its <see cref="PushMetrics"/>, made by its host's IMeterFactory), so
/// no other test's measurements arrive: the instruments whose names <paramref name="instruments"/> accepts, each long
/// measurement handed to <paramref name="measured"/> (called from the gateway's threads).
/// </summary>
internal sealed class GatewayMeterListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private Meter? _meter;

    public GatewayMeterListener(Func<string, bool> instruments, MeasurementCallback<long> measured)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter) && instruments(instrument.Name))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback(measured);
    }

    /// <summary>Starts listening to <paramref name="world"/>'s in-process gateway: a step of the builder, after its gateway.</summary>
    public Task ListenAsync(TestWorld world)
    {
        _meter = world.GatewayApp!.Services.GetRequiredService<PushMetrics>().Meter;
        _listener.Start();
        return Task.CompletedTask;
    }

    /// <summary>Has the observable gauges report now.</summary>
    public void RecordObservableInstruments() => _listener.RecordObservableInstruments();

    public void Dispose() => _listener.Dispose();
}
