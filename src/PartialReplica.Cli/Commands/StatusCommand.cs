using System.CommandLine;
using System.Globalization;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Push;
using PartialReplica.Status;
using Spectre.Console;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica status [--json]</c> (SPEC F9).</summary>
internal sealed class StatusCommand : Command
{
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<bool> _json = CommonOptions.Json();

    public StatusCommand()
        : base("status", "Per follower: replica sets, granted and delivered variables (delivered read from the follower's own database through its agent, with PARTIALREPLICA_GATEWAY_KEY), pending changes, lag, subscription state, last error.")
    {
        Add(_leader);
        Add(_json);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            var rows = await ReadAsync(leader, GatewayKeyOption.ReadOptional(), cancellationToken);
            if (result.GetValue(_json))
            {
                Console.WriteLine(ToJson(rows));
            }
            else
            {
                AnsiConsole.Write(ToTable(rows));
            }

            return ExitCode.Success;
        }));
    }

    /// <summary>
    /// The status rows. Delivered counts come from the agents, which answer only the gateway's tokens: without
    /// the gateway key they stay unknown and each row says why.
    /// </summary>
    public static async Task<IReadOnlyList<FollowerStatusRow>> ReadAsync(NpgsqlDataSource leader, GatewayKey? gatewayKey, CancellationToken cancellationToken)
    {
        if (gatewayKey is null)
        {
            return await new StatusReader(leader, (_, _) => throw new PartialReplicaException(
                $"not asked, for {GatewayKey.EnvironmentVariable} (the gateways' key) is not set; set it to read delivered counts")).ReadAsync(cancellationToken);
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await StatusReader.WithAgents(leader, http, SignedPushTokens.ForLeader(leader, gatewayKey)).ReadAsync(cancellationToken);
    }

    public static string ToJson(IReadOnlyList<FollowerStatusRow> rows) => new StatusDocument(rows).ToJson();

    public static Table ToTable(IReadOnlyList<FollowerStatusRow> rows)
    {
        var table = new Table().AddColumns("follower", "replica sets", "granted", "delivered", "pending", "lag ms", "subscription", "last error");
        foreach (var r in rows)
        {
            table.AddRow(
                Markup.Escape(r.Name),
                Markup.Escape(string.Join(", ", r.ReplicaSets)),
                r.Granted.ToString(CultureInfo.InvariantCulture),
                r.Delivered?.ToString(CultureInfo.InvariantCulture) ?? "?",
                r.Pending.ToString(CultureInfo.InvariantCulture),
                r.LagMs.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(r.SubscriptionEvent is null
                    ? r.Subscription
                    : $"{r.Subscription}\n{r.SubscriptionEvent} ({r.SubscriptionEventAt:yyyy-MM-dd HH:mm:ss}Z)"),
                Markup.Escape(r.LastError ?? ""));
        }

        return table;
    }
}
