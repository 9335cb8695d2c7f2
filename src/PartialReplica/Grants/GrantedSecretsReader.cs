using System.Data;
using Npgsql;
using PartialReplica.Protocol;
using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>
/// The one reader of "which variables may follower F hold, and their kept versions": the push (changes and full
/// reconciles), the Edge API (full pull, count, one variable, the delta's states), status, the admin directory and
/// verification all ask here. Every query reads the materialised <c>partial_replica.granted</c> (leader baseline,
/// 0002), which the capture keeps equal to the rule <c>partial_replica.granted_variables</c> inside every transaction
/// that changes the rule's inputs (policy loads, plain-SQL grants and revokes, deletes, replica-set changes) and when a
/// follower registers; the rule itself is kept only as the definition that table is checked against.
/// </summary>
/// <remarks>
/// <para>
/// Ids are the grant table's <c>COLLATE "C"</c> (bytewise), so keyset and offset pages agree whatever the database's
/// collation. Joining to <c>secrets</c> names that column's own collation (<c>COLLATE "default"</c>) so its primary key
/// serves the probe.
/// </para>
/// <para>
/// Secrets are read by one primary-key probe per variable, fenced in a LATERAL subquery (<c>OFFSET 0</c> keeps the
/// planner from flattening it): otherwise, after a bulk load, the planner hashes the page and scans the whole
/// <c>secrets</c> table for each page. Where ids order by bytes, a page is read as its ids and then its range of
/// versions, matched in memory, the range bounded and the ids it did not reach probed (<see cref="PageReads"/>).
/// </para>
/// <para>
/// Every other statement that returns versions returns rows <c>(id, version, value, expires_at[, granted])</c> ordered
/// by id, then version; an id without a value has one row of nulls. <see cref="ReadGroupsAsync"/> turns them into
/// variables with their versions, for every caller. Values are the stored Slosilo ciphertext, never decrypted.
/// </para>
/// <para>
/// A "granted secret" (Edge, status) is a granted variable with at least one stored version; the push also carries
/// granted variables without one (an empty state: "hold none").
/// </para>
/// </remarks>
public sealed class GrantedSecretsReader(NpgsqlDataSource leader)
{
    /// <summary>The most ids a page may ask for (Edge and push alike).</summary>
    public const int MaxPageSize = 10_000;

    // The leader's WAL insert position: taken before a state's snapshot, every commit the state misses is later.
    private const string StampSql = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint";

    /// <summary>$1 role id → how many variables it is granted, values or not: one row of <c>granted_counts</c>.</summary>
    private const string CountVariablesSql =
        "SELECT coalesce((SELECT variables FROM partial_replica.granted_counts WHERE follower_role_id = $1), 0)";

    /// <summary>
    /// $1 role id, $2 text[] of ids → one row per distinct id and kept version, with whether the follower is granted
    /// it (column 5); versions only when granted, otherwise one row of nulls. One statement: one snapshot.
    /// </summary>
    private const string StatesAmongSql = """
        SELECT i.id, s.version, s.value, s.expires_at, g.resource_id IS NOT NULL
          FROM (SELECT DISTINCT u.id FROM unnest($2::text[]) AS u(id)) i
          LEFT JOIN partial_replica.granted g ON g.follower_role_id = $1 AND g.resource_id = i.id
          LEFT JOIN LATERAL (
                SELECT s.version, s.value, s.expires_at FROM secrets s
                 WHERE g.resource_id IS NOT NULL AND s.resource_id = i.id OFFSET 0) s ON true
         ORDER BY i.id, s.version
        """;

    /// <summary>
    /// $1 role id, $2 keyset start (exclusive; '' from the start), $3 limit → the page's granted ids (every one, or only
    /// those with a value: <see cref="PageOf"/>).
    /// </summary>
    private static string PageIdsSql(PageOf of) => of == PageOf.Variables ? PageVariableIdsSql : PageSecretIdsSql;

    private const string PageVariableIdsSql = """
        SELECT g.resource_id FROM partial_replica.granted g
         WHERE g.follower_role_id = $1 AND g.resource_id > $2::text COLLATE "C"
         ORDER BY g.resource_id LIMIT $3
        """;

    // Both tables in byte order: a merge anti-join, a fraction of a millisecond per page.
    private const string PageSecretIdsSql = """
        SELECT g.resource_id FROM partial_replica.granted g
         WHERE g.follower_role_id = $1 AND g.resource_id > $2::text COLLATE "C"
           AND NOT EXISTS (SELECT 1 FROM partial_replica.unset_variables u WHERE u.resource_id = g.resource_id)
         ORDER BY g.resource_id LIMIT $3
        """;

    /// <summary>
    /// $1 role id, $2 keyset start (exclusive; '' from the start), $3 limit → the page's ids (<see cref="PageIdsSql"/>)
    /// with their versions (a variable without a value: one row of nulls), by one probe per variable.
    /// </summary>
    private static string PageWithVersionsSql(PageOf of) => of == PageOf.Variables ? PageVariablesWithVersionsSql : PageSecretsWithVersionsSql;

    private static readonly string PageVariablesWithVersionsSql = WithVersions(PageVariableIdsSql);

    private static readonly string PageSecretsWithVersionsSql = WithVersions(PageSecretIdsSql);

    private static string WithVersions(string pageIdsSql) => $"""
        WITH page AS ({pageIdsSql})
        SELECT p.resource_id, s.version, s.value, s.expires_at
          FROM page p
          LEFT JOIN LATERAL (
                SELECT s.version, s.value, s.expires_at FROM secrets s
                 WHERE s.resource_id = p.resource_id COLLATE "default" OFFSET 0) s ON true
         ORDER BY p.resource_id, s.version
        """;

    /// <summary>
    /// $1 id, $2 version (a keyset start, exclusive, in the primary key's order), $3 inclusive end id, $4 limit → up to
    /// $4 kept versions of the variables after ($1, $2) through $3, in the primary key's order (no sort): a page read by
    /// range (<see cref="PageReads"/>) reads its versions here in chunks, in the same snapshot as
    /// <see cref="PageIdsSql"/>, and matches them to the page's ids. The range also holds the versions of variables not
    /// granted between the page's ones, read and dropped; the limit bounds that.
    /// </summary>
    private const string RangeVersionsSql = """
        SELECT s.resource_id, s.version, s.value, s.expires_at FROM secrets s
         WHERE (s.resource_id, s.version) > ($1::text COLLATE "default", $2::int) AND s.resource_id <= $3::text COLLATE "default"
         ORDER BY s.resource_id, s.version
         LIMIT $4
        """;

    /// <summary>$1 text[] of ids → their kept versions, one primary-key probe per id (the page's ids a range did not reach).</summary>
    private const string ProbeVersionsSql = """
        SELECT i.id, s.version, s.value, s.expires_at
          FROM unnest($1::text[]) AS i(id)
          JOIN LATERAL (
                SELECT s.version, s.value, s.expires_at FROM secrets s
                 WHERE s.resource_id = i.id COLLATE "default" ORDER BY s.version OFFSET 0) s ON true
        """;

    /// <summary>
    /// Whether <c>secrets.resource_id</c> orders by bytes (collation C or POSIX): only then does a range of ids cut in the
    /// grant table's order mean the same on <c>secrets</c>, so that pages may be read by range.
    /// </summary>
    private static readonly string IdsOrderByBytesSql = ByteOrderSql.ResourceIdsOrderByBytes("'public.secrets'::regclass");

    /// <summary>
    /// $1 role id, $2 limit, $3 offset → an offset page of granted secrets (Conjur's limit/offset). Like keyset pages of
    /// secrets, it leaves out the granted variables without a value (<c>partial_replica.unset_variables</c>); the offset
    /// itself is still read and skipped, so the Edge's first and keyset pages do without one.
    /// </summary>
    private const string OffsetPageSql = """
        WITH page AS (
            SELECT g.resource_id FROM partial_replica.granted g
             WHERE g.follower_role_id = $1
               AND NOT EXISTS (SELECT 1 FROM partial_replica.unset_variables u WHERE u.resource_id = g.resource_id)
             ORDER BY g.resource_id LIMIT $2 OFFSET $3)
        SELECT p.resource_id, s.version, s.value, s.expires_at
          FROM page p JOIN secrets s ON s.resource_id = p.resource_id COLLATE "default"
         ORDER BY p.resource_id, s.version
        """;

    /// <summary>$1 role id, $2 variable id → its versions when granted (no rows otherwise).</summary>
    private const string FindSql = """
        SELECT g.resource_id, s.version, s.value, s.expires_at
          FROM partial_replica.granted g JOIN secrets s ON s.resource_id = g.resource_id COLLATE "default"
         WHERE g.follower_role_id = $1 AND g.resource_id = $2
         ORDER BY s.version
        """;

    /// <summary>
    /// $1 role id → every kept version of every granted variable, as rows <c>(resource_id, version, value,
    /// expires_at)</c> of table alias <c>s</c>: what a follower must hold exactly (verification wraps it).
    /// </summary>
    public const string GrantedSecretRowsSql = """
        SELECT s.resource_id, s.version, s.value, s.expires_at
          FROM partial_replica.granted g JOIN secrets s ON s.resource_id = g.resource_id COLLATE "default"
         WHERE g.follower_role_id = $1
        """;

    /// <summary>
    /// A scalar subquery: how many granted secrets (variables with at least one version) the follower whose role id
    /// is the SQL expression <paramref name="roleId"/> has (a parameter such as <c>$1</c>, or a column of a query
    /// over followers, as status reads them all in one statement). Never caller text: parameters carry values.
    /// Its granted count less those of its variables without a version (<c>partial_replica.unset_variables</c>, kept
    /// by the capture): one row read and a probe per unset variable, however large the granted set.
    /// </summary>
    public static string CountSecretsSql(string roleId) => $"""
        (coalesce((SELECT n.variables FROM partial_replica.granted_counts n WHERE n.follower_role_id = {roleId}), 0)
         - (SELECT count(*) FROM partial_replica.unset_variables u
              JOIN partial_replica.granted g ON g.follower_role_id = {roleId} AND g.resource_id = u.resource_id))
        """;

    /// <summary>
    /// The stamp of a state read next on <paramref name="connection"/>: the leader's WAL insert position, taken before
    /// the read's snapshot, so every commit the state misses has a larger one.
    /// </summary>
    public static Task<long> ReadStampAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        connection.ScalarAsync<long>(StampSql, cancellationToken);

    /// <summary>How a pass over a granted set reads its pages on this leader (<see cref="PageReads"/>); asked once per pass.</summary>
    public static async Task<PageReads> PlanPageReadsAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        new(await connection.ScalarAsync<bool>(IdsOrderByBytesSql, cancellationToken));

    /// <summary>How many variables the follower may hold, with or without values (status, admin, push).</summary>
    public static Task<long> CountVariablesAsync(NpgsqlConnection connection, string followerRoleId, CancellationToken cancellationToken) =>
        connection.ScalarAsync<long>(CountVariablesSql, cancellationToken, followerRoleId);

    /// <summary>How many granted secrets the follower has: the length of the Edge's full list.</summary>
    public static Task<long> CountSecretsAsync(NpgsqlConnection connection, string followerRoleId, CancellationToken cancellationToken) =>
        connection.ScalarAsync<long>("SELECT " + CountSecretsSql("$1"), cancellationToken, followerRoleId);

    /// <summary>
    /// A full reconcile's page: the next <paramref name="limit"/> granted variables after <paramref name="after"/>
    /// ('' from the start) with their kept versions (empty when without value), stamped before the read, in one round
    /// trip on a connection of its own.
    /// </summary>
    public async Task<IReadOnlyList<VariableState>> ReadPushPageAsync(
        string followerRoleId, string after, int limit, PageReads reads, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        var stamp = await ReadStampAsync(connection, cancellationToken);
        var states = new List<VariableState>(limit);
        foreach (var variable in await ReadPageGroupsAsync(connection, followerRoleId, PageOf.Variables, after, limit, reads, cancellationToken))
        {
            states.Add(new VariableState(variable.Id, stamp, variable.Versions));
        }

        return states;
    }

    /// <summary>
    /// The push's states of <paramref name="ids"/>: each granted one with its kept versions; one not granted as an
    /// empty state only when listed in <paramref name="sendAbsent"/> (revocations, deletions), otherwise left out.
    /// Stamp and states in one round trip, on the caller's session, prepared (this runs for every push).
    /// </summary>
    public static async Task<IReadOnlyList<VariableState>> ReadPushStatesAsync(
        NpgsqlConnection connection, string followerRoleId, IReadOnlyCollection<string> ids, IReadOnlySet<string> sendAbsent,
        CancellationToken cancellationToken)
    {
        // Each statement takes its own snapshot, in order: the stamp is older than the states' snapshot.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                ConnectionExtensions.BatchCommand(StampSql),
                ConnectionExtensions.BatchCommand(StatesAmongSql, followerRoleId, ids.ToArray()),
            },
        };
        await batch.PrepareAsync(cancellationToken);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var stamp = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken);
        var states = new List<VariableState>(ids.Count);
        foreach (var variable in await ReadGroupsAsync(reader, ids.Count, cancellationToken))
        {
            if (variable.Granted || sendAbsent.Contains(variable.Id))
            {
                states.Add(new VariableState(variable.Id, stamp, variable.Versions));
            }
        }

        return states;
    }

    /// <summary>
    /// The current state of each of <paramref name="ids"/>, in their order: granted with at least one version → its
    /// versions; otherwise null (a tombstone). On the caller's connection and transaction (its snapshot).
    /// </summary>
    public static async Task<IReadOnlyList<GrantedState>> ReadStatesAsync(
        NpgsqlConnection connection, string followerRoleId, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, StatesAmongSql, followerRoleId, ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var read = (await ReadGroupsAsync(reader, ids.Count, cancellationToken)).ToDictionary(v => v.Id, StringComparer.Ordinal);
        var states = new List<GrantedState>(ids.Count);
        foreach (var id in ids)
        {
            var variable = read[id];
            states.Add(new GrantedState(id, variable.Granted && variable.Versions.Count > 0 ? variable.Versions : null));
        }

        return states;
    }

    /// <summary>
    /// One page of the follower's granted secrets (variables without a value skipped), ordered by id bytewise, each
    /// with all its kept versions: keyset after <see cref="GrantedPage.After"/>, or Conjur's offset.
    /// </summary>
    public static async Task<IReadOnlyList<GrantedSecret>> ReadPageAsync(
        NpgsqlConnection connection, string followerRoleId, GrantedPage page, CancellationToken cancellationToken)
    {
        var limit = page.Limit is > 0 and <= MaxPageSize ? page.Limit : throw new PartialReplicaException($"limit must be between 1 and {MaxPageSize}");
        if (page.Offset < 0)
        {
            throw new PartialReplicaException("offset must not be negative");
        }

        var secrets = new List<GrantedSecret>(limit);
        if (page.Offset > 0)
        {
            await using var command = ConnectionExtensions.Command(connection, OffsetPageSql, followerRoleId, limit, page.Offset);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            foreach (var variable in await ReadGroupsAsync(reader, limit, cancellationToken))
            {
                secrets.Add(new GrantedSecret(variable.Id, variable.Versions));
            }

            return secrets;
        }

        // Keyset: only variables with a value are read (the capture keeps unset_variables in the writers' transactions,
        // so in the page's snapshot each id read has a version).
        var reads = await PlanPageReadsAsync(connection, cancellationToken);
        foreach (var variable in await ReadPageGroupsAsync(connection, followerRoleId, PageOf.Secrets, page.After ?? "", limit, reads, cancellationToken))
        {
            secrets.Add(new GrantedSecret(variable.Id, variable.Versions));
        }

        return secrets;
    }

    /// <summary>One variable when it is granted to the follower and has a value; null otherwise.</summary>
    public static async Task<GrantedSecret?> FindAsync(
        NpgsqlConnection connection, string followerRoleId, string variableId, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, FindSql, followerRoleId, variableId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = await ReadGroupsAsync(reader, 1, cancellationToken);
        return found.Count == 0 ? null : new GrantedSecret(found[0].Id, found[0].Versions);
    }

    /// <summary>
    /// The next <paramref name="limit"/> granted variables after <paramref name="after"/> with their versions: by one
    /// probe per variable, or (<paramref name="reads"/> permitting) as the page's ids and then its range of versions in
    /// bounded chunks, the ids the range did not reach probed; all in one repeatable-read snapshot, matched here. Every
    /// read follows an index, so the leader neither hashes nor sorts.
    /// </summary>
    private static async Task<List<GrantedVariable>> ReadPageGroupsAsync(
        NpgsqlConnection connection, string followerRoleId, PageOf of, string after, int limit, PageReads reads,
        CancellationToken cancellationToken)
    {
        if (!reads.NextPageByRange())
        {
            await using var command = ConnectionExtensions.Command(connection, PageWithVersionsSql(of), followerRoleId, after, limit);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await ReadGroupsAsync(reader, limit, cancellationToken);
        }

        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var variables = new List<GrantedVariable>(limit);
        var byId = new Dictionary<string, List<SecretVersion>>(limit, StringComparer.Ordinal);
        await using (var command = ConnectionExtensions.Command(connection, PageIdsSql(of), followerRoleId, after, limit))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var versions = new List<SecretVersion>(1);
                var id = reader.GetString(0);
                byId[id] = versions;
                variables.Add(new GrantedVariable(id, true, versions));
            }
        }

        if (variables.Count > 0)
        {
            var unreached = await ReadRangeAsync(connection, variables, byId, after, cancellationToken);
            reads.RangeEnded(reachedPageEnd: unreached == variables.Count);
            if (unreached < variables.Count)
            {
                var probed = variables.Skip(unreached).Select(v => v.Id).ToArray();
                await using var command = ConnectionExtensions.Command(connection, ProbeVersionsSql, new object?[] { probed });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    byId[reader.GetString(0)].Add(ReadVersion(reader));
                }
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return variables;
    }

    /// <summary>
    /// Reads the versions between <paramref name="after"/> and the page's last id in chunks, adding each page id's to
    /// <paramref name="byId"/>, while a chunk reaches at least one page id in <see cref="PageReads.MostRowsPerReachedId"/>
    /// rows. Returns the index of the first page id whose versions it did not read completely (the page's length when
    /// it read them all); that id and every later one hold no versions read here.
    /// </summary>
    private static async Task<int> ReadRangeAsync(
        NpgsqlConnection connection, List<GrantedVariable> page, Dictionary<string, List<SecretVersion>> byId, string after,
        CancellationToken cancellationToken)
    {
        var through = page[^1].Id;
        (string Id, int Version) from = (after, int.MaxValue);
        var reached = 0;
        while (true)
        {
            var bound = PageReads.RowsPerId * (page.Count - reached);
            var rows = 0;
            await using (var command = ConnectionExtensions.Command(connection, RangeVersionsSql, from.Id, from.Version, through, bound))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows++;
                    var version = ReadVersion(reader);
                    from = (reader.GetString(0), version.Version);
                    if (byId.TryGetValue(from.Id, out var versions))
                    {
                        versions.Add(version);
                    }
                }
            }

            if (rows < bound)
            {
                return page.Count;
            }

            // The chunk stopped at `from`: every page id before it is complete; `from` itself may have more versions.
            var before = reached;
            while (reached < page.Count && SweepRange.CompareUtf8(page[reached].Id, from.Id) < 0)
            {
                reached++;
            }

            if ((reached - before) * PageReads.MostRowsPerReachedId < rows)
            {
                if (reached < page.Count && page[reached].Id == from.Id)
                {
                    page[reached].Versions.Clear();
                }

                return reached;
            }
        }
    }

    /// <summary>The version in columns 1–3 of a row <c>(id, version, value, expires_at)</c> whose version is not null.</summary>
    private static SecretVersion ReadVersion(NpgsqlDataReader reader) =>
        // Conjur's expires_at is a timestamp without time zone, read as UTC.
        new(reader.GetInt32(1), reader.GetFieldValue<byte[]>(2),
            reader.IsDBNull(3) ? null : DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc));

    /// <summary>
    /// Groups rows <c>(id, version, value, expires_at[, granted])</c> ordered by id into variables with their versions
    /// (a row whose version is null adds none); <c>granted</c> is read from the id's first row, true when absent.
    /// </summary>
    private static async Task<List<GrantedVariable>> ReadGroupsAsync(NpgsqlDataReader reader, int capacity, CancellationToken cancellationToken)
    {
        var variables = new List<GrantedVariable>(capacity);
        var withGranted = reader.FieldCount > 4;
        string? current = null;
        List<SecretVersion>? versions = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (id != current)
            {
                current = id;
                versions = [];
                variables.Add(new GrantedVariable(id, !withGranted || reader.GetBoolean(4), versions));
            }

            if (!reader.IsDBNull(1))
            {
                versions!.Add(ReadVersion(reader));
            }
        }

        return variables;
    }

    private sealed record GrantedVariable(string Id, bool Granted, List<SecretVersion> Versions);

    /// <summary>What a keyset page lists: every granted variable (the push: one without a value is an empty state), or
    /// only those with a value (the Edge's secrets).</summary>
    private enum PageOf
    {
        Variables,
        Secrets,
    }
}
