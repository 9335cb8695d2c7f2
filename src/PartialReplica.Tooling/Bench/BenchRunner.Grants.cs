using System.Diagnostics;
using Npgsql;

namespace PartialReplica.Tooling.Bench;

/// <summary>P7: grants changed with plain SQL.</summary>
internal sealed partial class BenchRunner
{
    /// <summary>
    /// P7: a grant revoked by direct SQL on the leader, as Conjur's policy loader writes a <c>!deny</c> (one
    /// <c>DELETE FROM permissions</c>, its own transaction), timed from its commit until the follower no longer holds
    /// the secret, probed as P3 probes. Each trial revokes the set s0's <c>execute</c> on one of P2's variables that
    /// only follower 0 is granted, then grants it back with an INSERT (not timed) and waits until the follower holds
    /// it again and the gateway recorded both deliveries, so that every trial meets an idle system. The follower is
    /// verified exact afterwards.
    /// </summary>
    private async Task<(double P50, double P99)> MeasureDirectRevokeAsync(string follower, string followerName, CancellationToken cancellationToken)
    {
        Say($"P7: {sizes.P7Trials} grants revoked by direct SQL, commit → secret gone");
        const string carrier = "default:group:conjur/replication-sets/s0/replicated-data";
        // Follower 0's window of P2's variables starts at 0, follower 1's at a quarter: the first quarter is follower 0's alone.
        var candidates = Enumerable.Range(0, sizes.P2Variables / 4).Select(i => BenchData.VariableId("bench/p2", i)).ToArray();
        var latencies = new List<double>();
        await using var leader = await _leaderSource.OpenConnectionAsync(cancellationToken);
        await using var probe = new NpgsqlConnection(follower);
        await probe.OpenAsync(cancellationToken);
        await using var holds = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM secrets WHERE resource_id = $1)", probe);
        var probed = new NpgsqlParameter<string> { TypedValue = "" };
        holds.Parameters.Add(probed);
        await holds.PrepareAsync(cancellationToken);
        async Task<bool> HoldsAsync() => (bool)(await holds.ExecuteScalarAsync(cancellationToken))!;

        for (var trial = 0; trial < sizes.P7Trials; trial++)
        {
            var id = candidates[trial % candidates.Length];
            probed.TypedValue = id;
            var revokeTx = await ChangePermissionAsync(leader,
                "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1 AND role_id = $2", id, carrier, cancellationToken);
            var committed = Stopwatch.GetTimestamp();
            while (await HoldsAsync())
            {
                if (Stopwatch.GetElapsedTime(committed) > TimeSpan.FromSeconds(30))
                {
                    throw new PartialReplicaException($"P7: a revoked secret was still on the follower after 30 s.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(1), cancellationToken);
            }

            latencies.Add(Stopwatch.GetElapsedTime(committed).TotalMilliseconds);
            await DeliveredAsync(leader, followerName, revokeTx, cancellationToken);

            var grantTx = await ChangePermissionAsync(leader,
                "INSERT INTO permissions (privilege, resource_id, role_id, policy_id) VALUES ('execute', $1, $2, 'default:policy:root')", id, carrier, cancellationToken);
            await UntilAsync(HoldsAsync, "P7 re-grant visible", cancellationToken);
            await DeliveredAsync(leader, followerName, grantTx, cancellationToken);
        }

        await VerifyAsync("P7 follower", follower, "default:host:" + followerName, cancellationToken);
        return (Percentile(latencies, 50), Percentile(latencies, 99));
    }

    /// <summary>Runs one permission change in its own transaction; returns the transaction's id.</summary>
    private static async Task<long> ChangePermissionAsync(NpgsqlConnection leader, string sql, string resourceId, string roleId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql + " RETURNING pg_current_xact_id()::text::bigint", leader);
        command.Parameters.Add(new NpgsqlParameter { Value = resourceId });
        command.Parameters.Add(new NpgsqlParameter { Value = roleId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Waits until the gateway recorded a delivery to the follower past transaction <paramref name="tx"/>.</summary>
    private static async Task DeliveredAsync(NpgsqlConnection leader, string followerName, long tx, CancellationToken cancellationToken)
    {
        await using var delivered = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM partial_replica.delivery WHERE follower = $1 AND last_tx >= $2::text::xid8)", leader);
        delivered.Parameters.Add(new NpgsqlParameter { Value = followerName });
        delivered.Parameters.Add(new NpgsqlParameter { Value = tx.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await UntilAsync(async () => (bool)(await delivered.ExecuteScalarAsync(cancellationToken))!, "P7 delivery recorded", cancellationToken);
    }
}
