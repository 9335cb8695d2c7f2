using System.CommandLine;
using Npgsql;
using PartialReplica.Leader.Capture;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica notify</c>: wake the dispatcher, or re-queue a resource or a follower (rake's partial_replication:notify).</summary>
internal sealed class NotifyCommand : Command
{
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _resource = new("--resource") { Description = "Re-push this variable's state (full id) to every follower." };
    private readonly Option<string?> _follower = new("--follower") { Description = "Owe this follower a full reconcile." };

    public NotifyCommand()
        : base("notify", "Wake the gateway's dispatcher; with --resource or --follower, first queue the work durably.")
    {
        Add(_leader);
        Add(_resource);
        Add(_follower);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            await using var connection = await leader.OpenConnectionAsync(cancellationToken);
            if (result.GetValue(_resource) is { } resource)
            {
                await ChangeNotifier.RequeueResourceAsync(connection, resource, cancellationToken);
                Console.WriteLine($"Queued {resource} for every follower.");
            }
            else if (result.GetValue(_follower) is { } follower)
            {
                await ChangeNotifier.RequeueFollowerAsync(connection, follower, cancellationToken);
                Console.WriteLine($"Queued a full reconcile of {follower}.");
            }
            else
            {
                await ChangeNotifier.WakeAsync(connection, cancellationToken);
                Console.WriteLine("Notified.");
            }

            return ExitCode.Success;
        }));
    }
}
