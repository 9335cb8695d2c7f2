using System.CommandLine;
using Microsoft.Extensions.Hosting;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica serve &lt;host&gt;</c>: runs one of the web hosts in the foreground until Ctrl+C.</summary>
internal sealed class ServeCommand : Command
{
    public ServeCommand()
        : base("serve", "Run a web host in the foreground.")
    {
        Add(new GatewayCommand());
        Add(new FollowerAgentCommand());
    }

    /// <summary>The web hosts' common options: ASP.NET's --urls.</summary>
    private static Option<string?> Urls() => new("--urls")
    {
        Description = "Where to listen, e.g. http://127.0.0.1:8080 (default: ASP.NET's ASPNETCORE_URLS or http://localhost:5000).",
    };

    /// <summary><c>serve gateway</c>: authn, the follower pull API, the admin API (F7, S1).</summary>
    private sealed class GatewayCommand : Command
    {
        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _account = CommonOptions.Account();
        private readonly Option<string?> _urls = Urls();

        public GatewayCommand()
            : base("gateway", "Serve the leader-side gateway: authn, edge (follower pull) and admin APIs, health, OpenAPI. Needs PARTIALREPLICA_GATEWAY_KEY, and CONJUR_DATA_KEY for API keys (it never decrypts secrets).")
        {
            Add(_leader);
            Add(_account);
            Add(_urls);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                var overrides = new Dictionary<string, string?>();
                if (result.GetValue(_leader) is { } leader)
                {
                    overrides["Gateway:Leader"] = leader;
                }

                if (result.GetValue(_account) is { } account)
                {
                    overrides["Gateway:Account"] = account;
                }

                if (result.GetValue(_urls) is { } urls)
                {
                    overrides["urls"] = urls;
                }

                await using var app = GatewayApplication.Build([], overrides);
                // Settings first: a missing or malformed one is one line, before anything is logged.
                HostSettings.Validate(app.Services);
                await GatewayApplication.CheckGatewayKeyAsync(app, cancellationToken);
                // The host overload: WebApplication.RunAsync(string) would take the token for a URL.
                await HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken);
                return ExitCode.Success;
            }));
        }
    }

    /// <summary><c>serve follower --name F</c>: the follower agent that applies the gateway's pushes (F6).</summary>
    private sealed class FollowerAgentCommand : Command
    {
        private readonly Option<string> _name = new("--name") { Description = "The follower's host identifier, e.g. conjur/followers/east-1.", Required = true };
        private readonly Option<string?> _db = CommonOptions.FollowerDb();
        private readonly Option<string?> _gateway = new("--gateway-url") { Description = "The gateway's base URL (env PARTIALREPLICA_GATEWAY_URL); its JWKS verifies pushes." };
        private readonly Option<string?> _account = CommonOptions.Account();
        private readonly Option<string?> _urls = Urls();

        public FollowerAgentCommand()
            : base("follower", "Serve a follower agent: accepts only the gateway's pushes addressed to this follower and applies them to its database.")
        {
            Add(_name);
            Add(_db);
            Add(_gateway);
            Add(_account);
            Add(_urls);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                var overrides = new Dictionary<string, string?> { ["Agent:Name"] = result.GetRequiredValue(_name) };
                if (result.GetValue(_db) is { } db)
                {
                    overrides["Agent:Database"] = db;
                }

                if (result.GetValue(_gateway) is { } gateway)
                {
                    overrides["Agent:GatewayUrl"] = gateway;
                }

                if (result.GetValue(_account) is { } account)
                {
                    overrides["Agent:Account"] = account;
                }

                if (result.GetValue(_urls) is { } urls)
                {
                    overrides["urls"] = urls;
                }

                await using var app = AgentApplication.Build([], overrides);
                HostSettings.Validate(app.Services);
                await HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken);
                return ExitCode.Success;
            }));
        }
    }
}
