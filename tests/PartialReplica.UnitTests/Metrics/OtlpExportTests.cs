using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Metrics;

/// <summary>The gateway's OTLP metrics export is registered only when an endpoint is configured (the host is built, never started).</summary>
public sealed class OtlpExportTests
{
    [Fact]
    public void Otlp_export_runs_only_when_an_endpoint_is_configured()
    {
        using var without = GatewayApplication.Build([], new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = "Host=127.0.0.1;Database=none",
            ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(),
            ["Gateway:DataKey"] = Slosilo.GenerateBase64Key(),
        });
        using var with = GatewayApplication.Build([], new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = "Host=127.0.0.1;Database=none",
            ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(),
            ["Gateway:DataKey"] = Slosilo.GenerateBase64Key(),
            [GatewayTelemetry.EndpointKey] = "http://127.0.0.1:4317",
        });

        Assert.DoesNotContain(without.Services.GetServices<IHostedService>(), s => s is GatewayTelemetry.OtlpMetricsExport);
        var export = Assert.Single(with.Services.GetServices<IHostedService>().OfType<GatewayTelemetry.OtlpMetricsExport>());
        Assert.Equal(new Uri("http://127.0.0.1:4317"), export.Endpoint);
    }
}
