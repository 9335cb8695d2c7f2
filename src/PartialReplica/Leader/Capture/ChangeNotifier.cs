using Npgsql;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Capture;

/// <summary>What <c>partial-replica notify</c> does: wake the dispatcher, or re-queue work durably first.</summary>
public static class ChangeNotifier
{
    /// <summary>
    /// The payload of an operator's wake-up: every worker re-reads its follower's delivery row (a reconcile may have
    /// been ordered) besides reading the outbox. Secret writes and policy loads notify with an empty payload, which
    /// wakes workers to read the outbox only; a busy writer's commits must not make every worker re-read and
    /// rewrite its delivery row. Payloads are visible to every user: this one names no secret, follower or value.
    /// </summary>
    public const string RecheckPayload = "recheck";

    /// <summary>Wakes every listening gateway and has its workers re-read their delivery rows (<see cref="RecheckPayload"/>).</summary>
    public static async Task WakeAsync(NpgsqlConnection leader, CancellationToken cancellationToken) =>
        await leader.ExecuteAsync("SELECT pg_notify($1, $2)", cancellationToken, ReplicationRoles.ChangesChannel, RecheckPayload);

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
