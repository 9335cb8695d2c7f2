using System.CommandLine;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica listen</c>: the dispatcher in the foreground, one line per push (rake's partial_replication:listen).</summary>
internal sealed class ListenCommand : Command
{
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _issuer = new("--issuer") { Description = "Token issuer name the agents expect (default partial-replica-gateway)." };

    public ListenCommand()
        : base("listen", "Run the push dispatcher in the foreground: LISTEN for changes, push each follower its granted part, print one line per push. Signs as the gateway: needs PARTIALREPLICA_GATEWAY_KEY.")
    {
        Add(_leader);
        Add(_issuer);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var gatewayKey = GatewayKeyOption.Read();
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            using var http = AgentHttp.Create(TimeSpan.FromSeconds(30));
            var tokens = SignedPushTokens.ForLeader(leader, gatewayKey, result.GetValue(_issuer) ?? "partial-replica-gateway");
            // The meter factory a host would register; nothing exports it here, but the dispatcher counts the same way.
            await using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var dispatcher = new Dispatcher(leader, new HttpBatchSender(http, tokens),
                new DispatchOptions(), CommandRunner.Logging.CreateLogger("listen"), new PushMetrics(meters.GetRequiredService<IMeterFactory>()));
            dispatcher.Pushed += pushed => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{DateTime.Now:HH:mm:ss.fff} follower={pushed.Follower} variables={pushed.Variables} upserts={pushed.Upserts} deletes={pushed.Deletes} ms={pushed.Milliseconds:0.0}{(pushed.Reconcile ? " (reconcile)" : "")}"));
            Console.Error.WriteLine("listening for changes; Ctrl+C to stop");
            await dispatcher.RunAsync(cancellationToken);
            return ExitCode.Success;
        }));
    }
}
