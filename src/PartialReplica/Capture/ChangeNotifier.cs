using Npgsql;
using PartialReplica.Policies;
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

    /// <summary>
    /// Owes a follower a full reconcile (upsert every granted secret, delete extras), then wakes the gateway.
    /// The follower's materialised grant table is brought up to date first, under the policy-load lock, so
    /// the reconcile also honours grants changed outside policy loads.
    /// </summary>
    public static async Task RequeueFollowerAsync(NpgsqlConnection leader, string follower, CancellationToken cancellationToken)
    {
        await using (var transaction = await leader.BeginTransactionAsync(cancellationToken))
        {
            await leader.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, PolicyLoader.PolicyLockKey);
            var roleId = await leader.ScalarAsync<string?>(
                "SELECT role_id FROM partial_replica.followers WHERE name = $1", cancellationToken, follower);
            if (roleId is null)
            {
                throw new PartialReplicaException($"Unknown follower '{follower}'. Register it with 'partial-replica follower init --name {follower}'.");
            }

            await leader.ExecuteAsync("SELECT count(*) FROM partial_replica.refresh_granted($1)", cancellationToken, roleId);
            await leader.ExecuteAsync(
                "UPDATE partial_replica.delivery SET needs_reconcile = true, updated_at = clock_timestamp() WHERE follower = $1",
                cancellationToken, follower);
            await transaction.CommitAsync(cancellationToken);
        }

        await WakeAsync(leader, cancellationToken);
    }
}
