using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>One replica set: its name (N of <c>conjur/replication-sets/N</c>), webservice id and sizes.</summary>
public sealed record ReplicaSetSummary(string Name, string SetId, int Followers, long Variables);

/// <summary>The replica sets of an account (SPEC F4), with how many registered followers receive each and what it carries.</summary>
public static class ReplicaSetCatalog
{
    public static async Task<IReadOnlyList<ReplicaSetSummary>> ListAsync(NpgsqlConnection leader, string account, CancellationToken cancellationToken)
    {
        var prefix = account + ":webservice:conjur/replication-sets/";
        await using var command = ConnectionExtensions.Command(leader, """
            WITH sets AS (
                SELECT r.resource_id AS set_id FROM resources r
                 WHERE starts_with(r.resource_id, $1) AND position('/' IN substr(r.resource_id, length($1) + 1)) = 0),
            receivers AS (
                SELECT s.set_id, count(*)::int AS followers
                  FROM partial_replica.followers f, LATERAL partial_replica.follower_replica_sets(f.role_id) s
                 GROUP BY s.set_id)
            SELECT substr(sets.set_id, length($1) + 1), sets.set_id, COALESCE(receivers.followers, 0),
                   (SELECT count(*) FROM partial_replica.set_variables(sets.set_id))
              FROM sets LEFT JOIN receivers USING (set_id)
             ORDER BY sets.set_id COLLATE "C"
            """, prefix);
        var sets = new List<ReplicaSetSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sets.Add(new ReplicaSetSummary(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3)));
        }

        return sets;
    }
}
