using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>A replica set (SPEC F4): the webservice <c>account:webservice:conjur/replication-sets/N</c>.</summary>
/// <param name="Id">The webservice id.</param>
/// <param name="Name">N.</param>
/// <param name="Followers">How many registered followers may replicate it.</param>
public sealed record ReplicaSetListing(string Id, string Name, long Followers);

/// <summary>Lists the replica sets defined by policy, for the admin API.</summary>
public static class ReplicaSetDirectory
{
    // The set's webservice sits directly under conjur/replication-sets/ (no further slash).
    private const string SetsSql = """
        SELECT r.resource_id, substr(r.resource_id, length($1) + 1) AS name
          FROM resources r
         WHERE starts_with(r.resource_id, $1)
           AND position('/' IN substr(r.resource_id, length($1) + 1)) = 0
        """;

    /// <summary>Replica sets of the account ordered by id, with their follower counts.</summary>
    public static async Task<IReadOnlyList<ReplicaSetListing>> ListAsync(
        NpgsqlDataSource leader, string account, int limit, int offset, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, $"""
            WITH sets AS ({SetsSql} ORDER BY r.resource_id COLLATE "C" LIMIT $2 OFFSET $3)
            SELECT sets.resource_id, sets.name,
                   (SELECT count(*) FROM partial_replica.followers f
                     WHERE EXISTS (SELECT 1 FROM partial_replica.follower_replica_sets(f.role_id) fs
                                    WHERE fs.set_id = sets.resource_id))
              FROM sets ORDER BY sets.resource_id COLLATE "C"
            """, Prefix(account), limit, offset);
        var sets = new List<ReplicaSetListing>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sets.Add(new ReplicaSetListing(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        }

        return sets;
    }

    /// <summary>How many replica sets the account has.</summary>
    public static async Task<long> CountAsync(NpgsqlDataSource leader, string account, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return await connection.ScalarAsync<long>($"SELECT count(*) FROM ({SetsSql}) sets", cancellationToken, Prefix(account));
    }

    private static string Prefix(string account) => account + ":webservice:conjur/replication-sets/";
}
