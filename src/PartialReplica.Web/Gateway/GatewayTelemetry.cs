using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Exports the gateway's metrics (<see cref="PushMetrics"/>' meter, made by the host's <c>IMeterFactory</c> and matched
/// here by its name; ASP.NET Core's and Kestrel's) over OTLP when an
/// endpoint is configured: the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>Telemetry:OtlpEndpoint</c>.
/// Without one nothing is exported and no exporter runs.
/// </summary>
internal static class GatewayTelemetry
{
    /// <summary>Our configuration key for the OTLP endpoint (e.g. <c>http://collector:4317</c>).</summary>
    public const string EndpointKey = "Telemetry:OtlpEndpoint";

    /// <summary>The OpenTelemetry SDK's own variable, honoured as the exporter documents it.</summary>
    public const string StandardEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meters exported: ours and ASP.NET Core's built-in ones.</summary>
    public static readonly string[] Meters = [PushMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    public static WebApplicationBuilder AddGatewayTelemetry(this WebApplicationBuilder builder)
    {
        var endpoint = builder.Configuration[EndpointKey];
        var standard = builder.Configuration[StandardEndpointVariable];
        if (string.IsNullOrWhiteSpace(endpoint) && string.IsNullOrWhiteSpace(standard))
        {
            return builder;
        }

        // OpenTelemetry.Extensions.Hosting is not in our registry copy; the SDK's own builder does the same job.
        var uri = new Uri(string.IsNullOrWhiteSpace(endpoint) ? standard! : endpoint);
        builder.Services.AddHostedService(_ => new OtlpMetricsExport(uri));
        return builder;
    }

    /// <summary>Owns the meter provider for the host's lifetime; stopping flushes the last measurements.</summary>
    internal sealed class OtlpMetricsExport(Uri endpoint) : IHostedService, IDisposable
    {
        private MeterProvider? _provider;

        public Uri Endpoint => endpoint;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _provider = Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(resource => resource.AddService("partial-replica-gateway"))
                .AddMeter(Meters)
                .AddOtlpExporter(otlp => otlp.Endpoint = endpoint)
                .Build();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            _provider?.ForceFlush(timeoutMilliseconds: 2000);
            return Task.CompletedTask;
        }

        public void Dispose() => _provider?.Dispose();
    }
}
