using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using PartialReplica.Web.Gateway.Apis;
using PartialReplica.Web.Hosting;
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.Web.Gateway;

/// <summary>The leader-side gateway web host: authn, follower pull API, admin API, status and dashboard, health, OpenAPI.</summary>
public static class GatewayApplication
{
    /// <summary>
    /// Builds the gateway from ASP.NET's usual sources (appsettings, env, <paramref name="args"/> such as
    /// <c>--urls</c>) plus <paramref name="overrides"/> (configuration keys such as <c>Gateway:Leader</c>).
    /// </summary>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddFlatEnvironment(
        [
            ("PARTIALREPLICA_LEADER", GatewayOptions.Section + ":" + nameof(GatewayOptions.Leader)),
            ("PARTIALREPLICA_ACCOUNT", GatewayOptions.Section + ":" + nameof(GatewayOptions.Account)),
            ("PARTIALREPLICA_RELAY", GatewayOptions.Section + ":" + nameof(GatewayOptions.Relay)),
            (PartialReplica.Authn.GatewayKey.EnvironmentVariable, GatewayOptions.Section + ":" + nameof(GatewayOptions.GatewayKey)),
            ("CONJUR_DATA_KEY", GatewayOptions.Section + ":" + nameof(GatewayOptions.DataKey)),
            ("PARTIALREPLICA_AGENT_CA", GatewayOptions.Section + ":" + nameof(GatewayOptions.AgentCa)),
            (SharedState.SharedStateOptions.EnvironmentVariable, SharedState.SharedStateOptions.Section + ":" + nameof(SharedState.SharedStateOptions.Redis)),
            ("PARTIALREPLICA_GATEWAY_ID", GatewayOptions.Section + ":" + nameof(GatewayOptions.Id)),
            ("PARTIALREPLICA_GATEWAY_PUBLIC_URL", GatewayOptions.Section + ":" + nameof(GatewayOptions.PublicUrl)),
            .. ServerCertificate.FlatNames,
        ], overrides);
        builder.AddGateway();
        builder.Services.AddHostChecks();
        builder.Services.AddParentProcessWatch();
        builder.Services.AddPlainHttpWarning();
        builder.Services.AddInMemoryDataProtection();
        builder.AddGatewayTelemetry();

        var app = builder.Build();
        app.UseMiddleware<RequestBodyLimit>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi();
        app.MapHealthApi();
        app.MapAuthnApi();
        app.MapEdgeApi();
        app.MapAdminApi();
        app.MapExplainApi();
        app.MapPolicyApi();
        app.MapStatusApi();
        app.MapDashboardApi();
        app.MapDashboardHistoryApi();
        return app;
    }

    /// <summary>
    /// Checks before <paramref name="app"/> starts that its gateway key opens the leader's signing keys, throwing
    /// the one-line <see cref="PartialReplicaException"/> when not (the start checks too, but the host logs a
    /// failed start with its stack trace). An unreachable leader passes: the start goes on and health reports it.
    /// </summary>
    public static Task CheckGatewayKeyAsync(WebApplication app, CancellationToken cancellationToken) =>
        app.Services.GetRequiredService<SigningKeyCheck>().CheckAsync(cancellationToken);
}
