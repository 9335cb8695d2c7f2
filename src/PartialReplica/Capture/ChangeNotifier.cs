using Npgsql;
using PartialReplica.Schema;
using PartialReplica.Setup;

namespace PartialReplica.Capture;

/// <summary>What <c>partial-replica notify</c> does: wake the dispatcher, or re-queue work durably first.</summary>
public static class ChangeNotifier
{
    /// <summary>Wakes every listening gateway (empty payload; a wake-up only).</summary>
    public static async Task WakeAsync(NpgsqlConnection leader, CancellationToken cancellationToken) =>
        await leader.ExecuteAsync("SELECT pg_notify($1, '')", cancellationToken, ReplicationRoles.ChangesChannel);

    /// <summary>Queues a re-push of one variable's state to every follower, then wakes the gateway.</summary>
    public static async Task RequeueResourceAsync(NpgsqlConnection leader, string resourceId, CancellationToken cancellationToken)
    {
        var exists = await leader.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM resources WHERE resource_id = $1)", cancellationToken, resourceId);
        if (!exists && !await leader.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM secrets WHERE resource_id = $1)", cancellationToken, resourceId))
        {
            throw new PartialReplicaException($"No resource {resourceId} on the leader; give a full id such as default:variable:prod/db/password.");
        }

        await leader.ExecuteAsync(
            "INSERT INTO partial_replica.changes (kind, resource_id) VALUES ('requeue', $1)", cancellationToken, resourceId);
        await WakeAsync(leader, cancellationToken);
    }

    /// <summary>Owes a follower a full reconcile (upsert every granted secret, delete extras), then wakes the gateway.</summary>
    public static async Task RequeueFollowerAsync(NpgsqlConnection leader, string follower, CancellationToken cancellationToken)
    {
        var updated = await leader.ExecuteAsync(
            "UPDATE partial_replica.delivery SET needs_reconcile = true, updated_at = clock_timestamp() WHERE follower = $1",
            cancellationToken, follower);
        if (updated == 0)
        {
            throw new PartialReplicaException($"Unknown follower '{follower}'. Register it with 'partial-replica follower init --name {follower}'.");
        }

        await WakeAsync(leader, cancellationToken);
    }
}
