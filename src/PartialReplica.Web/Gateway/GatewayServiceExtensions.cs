using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Configuration;
using PartialReplica.Conjur;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Leader.Relay;
using PartialReplica.Status;
using PartialReplica.Supervision;
using PartialReplica.Web.Gateway.Apis;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Gateway.SharedState;
using PartialReplica.Web.Hosting;
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.Web.Gateway;

/// <summary>The gateway's services, in one place.</summary>
internal static class GatewayServiceExtensions
{
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // Data annotations are checked by GatewayOptionsValidator, whose failures name each setting and how to set it.
        services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.Section)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => ServiceDataSources.Create(
            ConnectionStrings.ForService(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Leader, "leader"), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new SigningKeyRing(
            sp.GetRequiredService<NpgsqlDataSource>(),
            GatewayKey.FromBase64(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.GatewayKey),
            sp.GetRequiredService<TimeProvider>()));
        // The data key, for API keys only (GatewayOptions.DataKey); the only Slosilo the gateway registers.
        services.AddSingleton(sp => Slosilo.FromBase64Key(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.DataKey));
        // Before the server listens: a gateway key that does not open the leader's signing keys stops the start.
        services.AddSingleton<SigningKeyCheck>();
        services.AddHostedService(sp => sp.GetRequiredService<SigningKeyCheck>());
        services.AddSingleton(sp => new TokenIssuer(
            sp.GetRequiredService<SigningKeyRing>(), sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Issuer, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            // Tokens for the gateway's own API carry the issuer as audience; push tokens (audience = a
            // follower's role id) are therefore refused here.
            return new TokenValidator(sp.GetRequiredService<SigningKeyRing>(), options.Issuer, options.Issuer, sp.GetRequiredService<TimeProvider>());
        });

        // S5: failed authentications limited per login and per client address.
        services.AddOptions<AuthenticationLimitOptions>()
            .BindConfiguration(AuthenticationLimitOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // F14: those limits, the token deny-list and follower wake-ups shared through Redis when Gateway:Redis is set.
        services.AddSharedState(builder.Configuration[$"{SharedStateOptions.Section}:{nameof(SharedStateOptions.Redis)}"]);

        // Issue 26: revocations recorded on the leader (Conjur's rotations and deletions, the CLI's follower remove).
        services.AddSingleton(sp => new LeaderTokenRevocationFeed(
            sp.GetRequiredService<NpgsqlDataSource>(),
            LeaderTokenRevocationFeed.ListenerFor(
                ConnectionStrings.ForService(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Leader, "leader"), sp.GetRequiredService<ILoggerFactory>()),
            sp.GetRequiredService<ITokenRevocations>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<LoopSupervisor>(),
            sp.GetRequiredService<ILogger<LeaderTokenRevocationFeed>>()));
        services.AddHostedService(sp => sp.GetRequiredService<LeaderTokenRevocationFeed>());

        services.AddAuthentication(GatewayTokenHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, GatewayTokenHandler>(GatewayTokenHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddOptions<AuthorizationOptions>()
            .Configure<IOptions<GatewayOptions>>((authorization, gateway) =>
                authorization.AddPolicy(GatewayRoles.AdminPolicy, GatewayRoles.Admin(gateway.Value.Account)));

        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<GatewayOptions>>((kestrel, gateway) => kestrel.Limits.MaxRequestBodySize = gateway.Value.MaxRequestBodyBytes);
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.Converters.Add(new EdgeSecretVersionJson());
        });
        // Status (F9) asks each follower's agent with the gateway's own push tokens.
        services.AddSingleton<IPushTokenSource>(sp => new SignedPushTokens(sp.GetRequiredService<TokenIssuer>(), sp.GetRequiredService<TimeProvider>()));
        // S5: every call to an agent trusts only Gateway:AgentCa when it is set.
        services.AddSingleton(sp => PeerTrust.From(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.AgentCa, GatewayOptionsValidator.AgentCaOption));
        services.AddHttpClient(StatusApi.AgentClientName, client => client.Timeout = TimeSpan.FromSeconds(5))
            .TrustingConfiguredCa(sp => sp.GetRequiredService<PeerTrust>().Authority);
        services.AddTransient(sp => StatusReader.WithAgents(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(StatusApi.AgentClientName),
            sp.GetRequiredService<IPushTokenSource>(),
            sp.GetRequiredService<RelayAdmin>().GetAsync));
        // S6: the followers' slots on the relay are checked and healed by one gateway at a time.
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            return new RelayAdmin(ConnectionStrings.Normalize(options.Leader, "leader"), options.Relay, sp.GetRequiredService<ILoggerFactory>());
        });
        services.AddHttpClient(SubscriptionHealService.HttpClientName, client => client.Timeout = TimeSpan.FromMinutes(5))
            .TrustingConfiguredCa(sp => sp.GetRequiredService<PeerTrust>().Authority);
        services.AddHostedService<SubscriptionHealService>();
        // The dashboard's charts (F11): 15 minutes of per-second samples in memory. Dashboard:History:Enabled=false
        // stops the sampling (its leader query each second) on a gateway that only serves the APIs.
        services.AddSingleton<DashboardHistory>();
        if (builder.Configuration.GetValue("Dashboard:History:Enabled", true))
        {
            services.AddHostedService<DashboardHistorySampler>();
        }
        services.AddHealthChecks().AddCheck<LeaderHealthCheck>("leader", tags: [HealthApi.ReadyTag]);
        services.AddOpenApi();

        // Push (SPEC F6): on by default; Dispatch:Enabled=false (env Dispatch__Enabled) serves only the APIs.
        if (builder.Configuration.GetValue("Dispatch:Enabled", true))
        {
            services.AddOptions<DispatchOptions>().BindConfiguration("Dispatch").ValidateOnStart();
            services.AddSingleton<IValidateOptions<DispatchOptions>, DispatchOptionsValidator>();
            // Its meter comes from the host's IMeterFactory (registered by the host builder).
            services.AddSingleton<PushMetrics>();
            services.AddHttpClient(DispatchService.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(30))
                .TrustingConfiguredCa(sp => sp.GetRequiredService<PeerTrust>().Authority);
            services.AddHostedService<DispatchService>();
        }

        return builder;
    }
}
