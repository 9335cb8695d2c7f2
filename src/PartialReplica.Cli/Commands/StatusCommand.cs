using System.CommandLine;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Leader.Relay;
using PartialReplica.Status;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica status [--json] [--watch [--interval S]]</c> (SPEC F9).</summary>
internal sealed class StatusCommand : Command
{
    /// <summary>The width a table printed into a pipe or a log keeps to.</summary>
    public const int RedirectedWidth = 80;

    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _relay = CommonOptions.Relay();
    private readonly Option<bool> _json = CommonOptions.Json();
    private readonly Option<bool> _watch = new("--watch") { Description = "Refresh the table in place until Ctrl-C." };
    private readonly Option<double> _interval = new("--interval")
    {
        Description = "Seconds between refreshes with --watch.",
        DefaultValueFactory = _ => 2,
    };

    public StatusCommand()
        : base("status", "Per follower: replica sets, granted and delivered variables (delivered read from the follower's own database through its agent, with PARTIALREPLICA_GATEWAY_KEY), pending changes, lag, subscription state, last push, WAL its slot retains on the relay, last error and the push breaker.")
    {
        Add(_leader);
        Add(_relay);
        Add(_json);
        Add(_watch);
        Add(_interval);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var leaderConnection = CommonOptions.LeaderConnection(result, _leader);
            await using var leader = NpgsqlDataSource.Create(leaderConnection);
            await using var relay = new RelayAdmin(leaderConnection, CommonOptions.RelayConnection(result, _relay));
            var gatewayKey = GatewayKeyOption.ReadOptional();
            if (result.GetValue(_watch))
            {
                var interval = TimeSpan.FromSeconds(result.GetValue(_interval));
                if (interval <= TimeSpan.Zero)
                {
                    throw new PartialReplicaException("--interval must be a positive number of seconds.");
                }

                return await WatchAsync(() => ReadDocumentAsync(leader, gatewayKey, cancellationToken, relay), result.GetValue(_json), interval, cancellationToken);
            }

            var status = await ReadDocumentAsync(leader, gatewayKey, cancellationToken, relay);
            Console.Out.Write(result.GetValue(_json) ? status.ToJson() + "\n" : Render(status));
            return ExitCode.Success;
        }));
    }

    /// <summary>
    /// The status rows. Delivered counts come from the agents, which answer only the gateway's tokens: without
    /// the gateway key they stay unknown and each row says why. Retained WAL is read on the relay when given.
    /// </summary>
    public static async Task<IReadOnlyList<FollowerStatusRow>> ReadAsync(
        NpgsqlDataSource leader, GatewayKey? gatewayKey, CancellationToken cancellationToken, RelayAdmin? relay = null) =>
        (await ReadDocumentAsync(leader, gatewayKey, cancellationToken, relay)).Followers;

    /// <summary>The status rows (<see cref="ReadAsync"/>) and the live gateways.</summary>
    public static async Task<StatusDocument> ReadDocumentAsync(
        NpgsqlDataSource leader, GatewayKey? gatewayKey, CancellationToken cancellationToken, RelayAdmin? relay = null)
    {
        if (gatewayKey is null)
        {
            return await new StatusReader(leader, (_, _) => throw new PartialReplicaException(
                $"{GatewayKey.EnvironmentVariable} (the gateways' key) is not set; set it to read delivered counts"), relay is null ? null : relay.GetAsync)
                .ReadDocumentAsync(cancellationToken);
        }

        using var http = AgentHttp.Create(TimeSpan.FromSeconds(10));
        return await StatusReader.WithAgents(leader, http, SignedPushTokens.ForLeader(leader, gatewayKey), relay is null ? null : relay.GetAsync)
            .ReadDocumentAsync(cancellationToken);
    }

    public static string ToJson(StatusDocument status) => status.ToJson();

    /// <summary>The table at the terminal's width, or at <see cref="RedirectedWidth"/> when the output is not a terminal.</summary>
    public static string Render(IReadOnlyList<FollowerStatusRow> rows) => StatusTable.Render(rows, OutputWidth(), DateTimeOffset.UtcNow);

    /// <summary>The table and the live gateways under it.</summary>
    public static string Render(StatusDocument status) => StatusTable.Render(status, OutputWidth(), DateTimeOffset.UtcNow);

    private static int OutputWidth()
    {
        if (Console.IsOutputRedirected)
        {
            return RedirectedWidth;
        }

        try
        {
            // The last column of a terminal line wraps on some terminals: one left free.
            return Console.WindowWidth > 0 ? Console.WindowWidth - 1 : RedirectedWidth;
        }
        catch (IOException)
        {
            return RedirectedWidth;
        }
    }

    /// <summary>
    /// Prints the status every <paramref name="interval"/> until Ctrl-C: in place on a terminal, one dated block after
    /// another into a pipe or a log. Ctrl-C is how a watch ends, so it ends with success.
    /// </summary>
    private static async Task<int> WatchAsync(
        Func<Task<StatusDocument>> read, bool json, TimeSpan interval, CancellationToken cancellationToken)
    {
        var inPlace = !Console.IsOutputRedirected && !json;
        try
        {
            if (inPlace)
            {
                Console.Out.Write("\u001b[2J");
            }

            while (true)
            {
                var status = await read();
                var body = json ? ToJson(status) + "\n" : Render(status);
                var heading = $"status at {DateTimeOffset.UtcNow:HH:mm:ss}Z, every {interval.TotalSeconds:0.#} s; Ctrl-C stops";
                if (json)
                {
                    Console.Out.Write(body);
                }
                else if (inPlace)
                {
                    // Home, each line cleared to its end, then everything below: no flicker, no stale tail.
                    var lines = (heading + "\n\n" + body).Split('\n');
                    Console.Out.Write("\u001b[H" + string.Join("\u001b[K\n", lines) + "\u001b[J");
                }
                else
                {
                    Console.Out.Write(heading + "\n" + body + "\n");
                }

                await Console.Out.FlushAsync(cancellationToken);
                await Task.Delay(interval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCode.Success;
        }
    }
}
