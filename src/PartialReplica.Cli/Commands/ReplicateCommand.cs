using System.CommandLine;
using System.Diagnostics;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Leader.Capture;
using PartialReplica.Status;
using Spectre.Console;

namespace PartialReplica.Cli.Commands;

/// <summary>
/// <c>partial-replica replicate --follower F | --all</c>: owes the followers a full reconcile (upsert
/// every granted secret, delete extras), which the running gateway performs, and waits with a progress
/// bar until each follower's own database holds exactly as many variables as it is granted.
/// </summary>
internal sealed class ReplicateCommand : Command
{
    private readonly Option<string?> _follower = new("--follower") { Description = "The follower to reconcile." };
    private readonly Option<bool> _all = new("--all") { Description = "Reconcile every follower." };
    private readonly Option<int> _timeout = new("--timeout") { Description = "Seconds to wait for convergence.", DefaultValueFactory = _ => 300 };
    private readonly Option<string?> _leader = CommonOptions.Leader();

    public ReplicateCommand()
        : base("replicate", "Full reconcile through the gateway; exits 0 only when delivered equals granted for every follower asked (needs PARTIALREPLICA_GATEWAY_KEY to read delivered counts).")
    {
        Add(_follower);
        Add(_all);
        Add(_timeout);
        Add(_leader);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var one = result.GetValue(_follower);
            if ((one is null) == !result.GetValue(_all))
            {
                throw new PartialReplicaException("Give exactly one of --follower NAME or --all.");
            }

            // Delivered counts come from the agents, which answer only tokens signed with the gateways' keys.
            var gatewayKey = GatewayKeyOption.Read();
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            var names = new List<string>();
            await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
            {
                names.AddRange(one is not null ? [one] : (await StatusCommand.ReadAsync(leader, gatewayKey, cancellationToken)).Select(r => r.Name));
                foreach (var name in names)
                {
                    await ChangeNotifier.RequeueFollowerAsync(connection, name, cancellationToken);
                }
            }

            return await WaitAsync(leader, gatewayKey, names, TimeSpan.FromSeconds(result.GetValue(_timeout)), cancellationToken);
        }));
    }

    private static async Task<int> WaitAsync(NpgsqlDataSource leader, GatewayKey gatewayKey, List<string> names, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<FollowerStatusRow> rows = [];
        var converged = false;
        await AnsiConsole.Progress().StartAsync(async progress =>
        {
            var tasks = names.ToDictionary(n => n, n => progress.AddTask(Markup.Escape(n)));
            while (clock.Elapsed < timeout)
            {
                rows = (await StatusCommand.ReadAsync(leader, gatewayKey, cancellationToken)).Where(r => names.Contains(r.Name)).ToList();
                foreach (var row in rows)
                {
                    tasks[row.Name].MaxValue = Math.Max(1, row.Granted);
                    tasks[row.Name].Value = Math.Min(row.Delivered ?? 0, row.Granted);
                }

                converged = rows.Count == names.Count && rows.All(r => r.Pending == 0 && r.Delivered == r.Granted);
                if (converged)
                {
                    foreach (var task in tasks.Values)
                    {
                        task.Value = task.MaxValue;
                    }

                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
        });

        Console.Out.Write(StatusCommand.Render(rows));
        if (converged)
        {
            return ExitCode.Success;
        }

        await Console.Error.WriteLineAsync($"error: not converged after {timeout.TotalSeconds:0} s (delivered ≠ granted or changes pending). Is the gateway running ('partial-replica serve gateway')?");
        return ExitCode.NotConverged;
    }
}
