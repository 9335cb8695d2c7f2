using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Edge;

/// <summary>
/// Every question "which secrets may follower F read" the Edge API, status and admin ask, in one place. All of
/// them go through <c>partial_replica.granted_variables</c> (the leader baseline, 0002), the live form of the
/// grant rule; the push path reads the materialised table instead. A variable counts as a granted secret when it
/// is granted and has at least one stored version. Ids are ordered bytewise (COLLATE "C") so offset and
/// keyset paging agree whatever the database's collation. The edges check caller text before it comes here
/// (<see cref="CallerText"/>); should a statement still fail on the server, the connection's prepared statements are
/// reset before the pool hands it on (<see cref="PreparedStatementReset"/>).
/// </summary>
public static class GrantedSecretsQuery
{
    // Offset paging must count only variables with values before it can skip, so it checks every granted
    // variable for a value; keyset paging (and the first page) avoids that, see KeysetSql.
    private const string OffsetSql = """
        WITH page AS (
            SELECT g.resource_id
              FROM partial_replica.granted_variables($1) g
             WHERE EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = g.resource_id)
             ORDER BY g.resource_id COLLATE "C"
             LIMIT $2 OFFSET $3)
        SELECT s.resource_id, s.version, s.expires_at, s.value
          FROM page JOIN secrets s ON s.resource_id = page.resource_id
         ORDER BY s.resource_id COLLATE "C", s.version
        """;

    // The next granted ids after the cursor, with their versions; an id without any value comes back once
    // with a null version. Checking for values only on the page (not on every granted variable before
    // sorting) makes this several times cheaper than OffsetSql on a large granted set.
    private const string KeysetSql = """
        WITH page AS (
            SELECT g.resource_id
              FROM partial_replica.granted_variables($1) g
             WHERE $2::text IS NULL OR g.resource_id COLLATE "C" > $2::text COLLATE "C"
             ORDER BY g.resource_id COLLATE "C"
             LIMIT $3)
        SELECT page.resource_id, s.version, s.expires_at, s.value
          FROM page LEFT JOIN secrets s ON s.resource_id = page.resource_id
         ORDER BY page.resource_id COLLATE "C", s.version
        """;

    // The states of given ids (delta pulls): the same granted reader, asked only about those ids; an id not
    // granted, or granted without a value, comes back once with a null version (a tombstone).
    private const string StatesSql = """
        WITH asked AS (SELECT a.id, a.n FROM unnest($2::text[]) WITH ORDINALITY AS a(id, n)),
             kept AS (SELECT g.resource_id FROM partial_replica.granted_variables($1) g WHERE g.resource_id = ANY ($2::text[]))
        SELECT asked.id, s.version, s.expires_at, s.value
          FROM asked
          LEFT JOIN secrets s ON s.resource_id = asked.id AND asked.id IN (SELECT kept.resource_id FROM kept)
         ORDER BY asked.n, s.version
        """;

    /// <summary>One page of the follower's granted secrets, ordered by id, each with all its kept versions.</summary>
    public static async Task<IReadOnlyList<GrantedSecret>> PageAsync(
        NpgsqlDataSource leader, string followerRoleId, GrantedPage page, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            return await PageOnAsync(connection, followerRoleId, page, cancellationToken);
        }
        catch (PostgresException)
        {
            PreparedStatementReset.After(connection);
            throw;
        }
    }

    /// <summary>
    /// One page of the full pull with the position to start delta pulls from (<see cref="EdgeDeltaQuery"/>), taken on
    /// the same connection before the page is read: every change the page does not show yet is at or after it. A
    /// client keeps the position of its first page. Null position: the caller is not a registered follower.
    /// </summary>
    public static async Task<GrantedSecretsPage> PageWithPositionAsync(
        NpgsqlDataSource leader, string followerRoleId, GrantedPage page, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            var position = await EdgeDeltaQuery.PositionOnAsync(connection, followerRoleId, cancellationToken);
            return new GrantedSecretsPage(await PageOnAsync(connection, followerRoleId, page, cancellationToken), position);
        }
        catch (PostgresException)
        {
            PreparedStatementReset.After(connection);
            throw;
        }
    }

    /// <summary>
    /// The current state of each of <paramref name="ids"/>, in their order, by the full pull's rule: granted to the
    /// follower with at least one version → all kept versions; otherwise a tombstone. Runs on the caller's connection
    /// (and transaction), so it reads the caller's snapshot.
    /// </summary>
    internal static async Task<IReadOnlyList<EdgeChange>> StatesOnAsync(
        NpgsqlConnection connection, string followerRoleId, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, StatesSql, followerRoleId, ids.ToArray());
        var changes = new List<EdgeChange>(ids.Count);
        string? currentId = null;
        List<SecretVersion>? versions = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (reader.IsDBNull(1))
            {
                changes.Add(new EdgeChange(id, null));
                currentId = null;
                continue;
            }

            if (id != currentId)
            {
                versions = [];
                changes.Add(new EdgeChange(id, versions));
                currentId = id;
            }

            versions!.Add(ReadVersion(reader));
        }

        return changes;
    }

    private static async Task<IReadOnlyList<GrantedSecret>> PageOnAsync(
        NpgsqlConnection connection, string followerRoleId, GrantedPage page, CancellationToken cancellationToken)
    {
        if (page.Offset > 0)
        {
            await using var command = ConnectionExtensions.Command(connection, OffsetSql, followerRoleId, page.Limit, page.Offset);
            return await ReadSecretsAsync(command, cancellationToken);
        }

        // Variables without a value are skipped, so a page may need another round to fill up.
        var secrets = new List<GrantedSecret>(Math.Min(page.Limit, 10_000));
        var after = page.After;
        while (secrets.Count < page.Limit)
        {
            await using var command = ConnectionExtensions.Command(connection, KeysetSql,
                followerRoleId, new NpgsqlParameter { Value = (object?)after ?? DBNull.Value, DataTypeName = "text" }, page.Limit);
            var (round, scanned, lastId) = await ReadKeysetRoundAsync(command, cancellationToken);
            secrets.AddRange(round.Take(page.Limit - secrets.Count));
            if (scanned < page.Limit)
            {
                break;
            }

            after = lastId;
        }

        return secrets;
    }

    /// <summary>How many granted secrets the follower has (the length of the full list, whatever the page).</summary>
    public static async Task<long> CountAsync(NpgsqlDataSource leader, string followerRoleId, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            return await connection.ScalarAsync<long>("""
                SELECT count(*) FROM partial_replica.granted_variables($1) g
                 WHERE EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = g.resource_id)
                """, cancellationToken, followerRoleId);
        }
        catch (PostgresException)
        {
            PreparedStatementReset.After(connection);
            throw;
        }
    }

    /// <summary>How many variables the follower is granted, with or without values (status).</summary>
    public static async Task<long> CountGrantedVariablesAsync(NpgsqlConnection leader, string followerRoleId, CancellationToken cancellationToken) =>
        await leader.ScalarAsync<long>("SELECT count(*) FROM partial_replica.granted_variables($1)", cancellationToken, followerRoleId);

    /// <summary>
    /// One variable when it is granted to the follower and has a value; null otherwise. "Not granted" and
    /// "does not exist" are deliberately the same answer (S2).
    /// </summary>
    public static async Task<GrantedSecret?> FindAsync(
        NpgsqlDataSource leader, string followerRoleId, string variableId, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = ConnectionExtensions.Command(connection, """
                SELECT s.resource_id, s.version, s.expires_at, s.value
                  FROM secrets s
                 WHERE s.resource_id = $2
                   AND EXISTS (SELECT 1 FROM partial_replica.granted_variables($1) g WHERE g.resource_id = $2)
                 ORDER BY s.version
                """, followerRoleId, variableId);
            var found = await ReadSecretsAsync(command, cancellationToken);
            return found.Count == 0 ? null : found[0];
        }
        catch (PostgresException)
        {
            PreparedStatementReset.After(connection);
            throw;
        }
    }

    private static async Task<(List<GrantedSecret> Secrets, int Scanned, string? LastId)> ReadKeysetRoundAsync(
        NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var secrets = new List<GrantedSecret>();
        var scanned = 0;
        string? currentId = null;
        List<SecretVersion>? versions = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (id != currentId)
            {
                scanned++;
                currentId = id;
                versions = null;
            }

            if (reader.IsDBNull(1))
            {
                continue;
            }

            if (versions is null)
            {
                versions = [];
                secrets.Add(new GrantedSecret(id, versions));
            }

            versions.Add(ReadVersion(reader));
        }

        return (secrets, scanned, currentId);
    }

    private static async Task<List<GrantedSecret>> ReadSecretsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var secrets = new List<GrantedSecret>();
        string? currentId = null;
        List<SecretVersion>? versions = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (id != currentId)
            {
                versions = [];
                secrets.Add(new GrantedSecret(id, versions));
                currentId = id;
            }

            versions!.Add(ReadVersion(reader));
        }

        return secrets;
    }

    private static SecretVersion ReadVersion(NpgsqlDataReader reader) => new(
        reader.GetInt32(1),
        // Conjur's expires_at is a timestamp without time zone, read as UTC.
        reader.IsDBNull(2) ? null : new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc)),
        reader.GetFieldValue<byte[]>(3));
}
