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
using PartialReplica.Follower;
using PartialReplica.Protocol;
using PartialReplica.Web.Agent.Apis;
using PartialReplica.Web.Hosting;
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.Web.Agent;

/// <summary>
/// The follower agent (follower side of SPEC F6): accepts only the gateway's tokens addressed to this
/// follower, applies each batch in one transaction once its own replicated policy, replayed up to the batch's
/// leader position, grants what the batch shows (<see cref="BatchAdmission"/>), reports what it applied or why it
/// refused. Copies ciphertext; never
/// needs the data key.
/// </summary>
public static class AgentApplication
{
    private static readonly (string Variable, string Key)[] FlatNames =
    [
        ("PARTIALREPLICA_FOLLOWER_DB", AgentOptions.Section + ":" + nameof(AgentOptions.Database)),
        ("PARTIALREPLICA_GATEWAY_URL", AgentOptions.Section + ":" + nameof(AgentOptions.GatewayUrl)),
        ("PARTIALREPLICA_ACCOUNT", AgentOptions.Section + ":" + nameof(AgentOptions.Account)),
        ("PARTIALREPLICA_GATEWAY_CA", AgentOptions.Section + ":" + nameof(AgentOptions.GatewayCa)),
        .. ServerCertificate.FlatNames,
    ];

    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddFlatEnvironment(FlatNames, overrides);

        var services = builder.Services;
        services.AddHostChecks();
        services.AddParentProcessWatch();
        services.AddPlainHttpWarning();
        services.AddInMemoryDataProtection();
        // Data annotations are checked by the validator, whose failures name each setting and how to set it.
        services.AddOptions<AgentOptions>().BindConfiguration(AgentOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AgentOptions>, AgentOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => ServiceDataSources.Create(
            ConnectionStrings.ForService(sp.GetRequiredService<IOptions<AgentOptions>>().Value.Database, "follower database"), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new BatchApplier(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(sp => new ReplayWatch(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<ILogger<ReplayWatch>>()));
        services.AddHostedService<ReplayWatchService>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AgentOptions>>().Value;
            return new BatchAdmission(
                sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<BatchApplier>(), options.Name,
                ConjurId.Host(options.Account, options.Name).ToString(), new AdmissionOptions { ReplayTimeout = options.ReplayTimeout },
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ReplayWatch>());
        });
        // S5: the gateway's JWKS is fetched trusting only Agent:GatewayCa when it is set.
        services.AddSingleton(sp => PeerTrust.From(sp.GetRequiredService<IOptions<AgentOptions>>().Value.GatewayCa, AgentOptionsValidator.GatewayCaOption));
        services.AddHttpClient("jwks", client => client.Timeout = TimeSpan.FromSeconds(10))
            .TrustingConfiguredCa(sp => sp.GetRequiredService<PeerTrust>().Authority);
        services.AddSingleton<IJwksSource>(sp => new HttpJwksSource(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient("jwks"),
            new Uri(new Uri(sp.GetRequiredService<IOptions<AgentOptions>>().Value.GatewayUrl), "/.well-known/jwks.json"),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AgentOptions>>().Value;
            return new TokenValidator(
                sp.GetRequiredService<IJwksSource>(), options.Issuer, ConjurId.Host(options.Account, options.Name).ToString(), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<AgentWarmup>();
        services.AddHostedService(sp => sp.GetRequiredService<AgentWarmup>());
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, PushJsonContext.Default));
        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<AgentOptions>>((kestrel, agent) => kestrel.Limits.MaxRequestBodySize = agent.Value.MaxRequestBodyBytes);
        services.AddHealthChecks()
            .AddCheck<FollowerHealthCheck>("follower", tags: [HealthApi.ReadyTag])
            .AddCheck<WarmupHealthCheck>("warm-up", tags: [HealthApi.ReadyTag]);

        var app = builder.Build();
        app.UsePeerCertificateRefusals(AgentOptionsValidator.GatewayCaOption);
        app.MapHealthApi();
        app.MapAgentApi();
        app.MapAgentSubscriptionApi();
        return app;
    }
}
