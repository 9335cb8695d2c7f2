using PartialReplica.Schema;

namespace PartialReplica.Policies;

/// <summary>
/// The set-based statements of a load. They work from the <c>pr_*</c> temporary tables that
/// <see cref="PolicyRows"/> fills. They write no <c>policy_log</c> rows themselves: Conjur's statement triggers
/// log every row they touch under the load's (unfinished) <c>policy_versions</c> row, as for Conjur's own loader.
/// Parameters, in every statement: $1 the loaded branch's policy id, $2 its new version, $3 the branch id
/// again (the policy_id of every row the load writes, and of those replace may remove).
/// </summary>
internal static class PolicyStatements
{
    private sealed record Table(string Name, string[] Keys, string[] Values);

    private static readonly Table Roles = new("roles", ["role_id"], ["policy_id"]);
    private static readonly Table Resources = new("resources", ["resource_id"], ["owner_id", "policy_id"]);
    private static readonly Table Memberships = new("role_memberships", ["role_id", "member_id", "ownership"], ["admin_option", "policy_id"]);
    private static readonly Table Permissions = new("permissions", ["privilege", "resource_id", "role_id"], ["policy_id"]);
    private static readonly Table Annotations = new("annotations", ["resource_id", "name"], ["value", "policy_id"]);

    /// <summary>
    /// Rows of the replace scope: those the branch's own loads wrote, as in Conjur. Rows of a sub-branch go when its
    /// policy does (the schema's policy_id and owner foreign keys cascade, as Conjur's do).
    /// </summary>
    private const string InScope = "(x.policy_id = $3)";

    /// <summary>Replace: the records of the branch that the file does not declare.</summary>
    public static readonly string[] CollectOmittedRecords =
    [
        $"INSERT INTO pr_gone_roles SELECT x.role_id FROM roles x WHERE {InScope} " +
        "AND NOT EXISTS (SELECT 1 FROM pr_roles t WHERE t.role_id = x.role_id) ON CONFLICT DO NOTHING",
        $"INSERT INTO pr_gone_resources SELECT x.resource_id FROM resources x WHERE {InScope} " +
        "AND NOT EXISTS (SELECT 1 FROM pr_resources t WHERE t.resource_id = x.resource_id) ON CONFLICT DO NOTHING",
    ];

    /// <summary>Update and replace: the records named by <c>!delete</c>.</summary>
    public static readonly string[] CollectDeletedRecords =
    [
        "INSERT INTO pr_gone_roles SELECT d.id FROM pr_deletes d JOIN roles r ON r.role_id = d.id ON CONFLICT DO NOTHING",
        "INSERT INTO pr_gone_resources SELECT d.id FROM pr_deletes d JOIN resources r ON r.resource_id = d.id ON CONFLICT DO NOTHING",
    ];

    /// <summary>Removes the collected records and, first, every row that refers to them (so each is logged).</summary>
    public static readonly string[] RemoveRecords =
    [
        Delete(Annotations, "EXISTS (SELECT 1 FROM pr_gone_resources g WHERE g.resource_id = x.resource_id)"),
        Delete(Permissions, "EXISTS (SELECT 1 FROM pr_gone_resources g WHERE g.resource_id = x.resource_id) OR EXISTS (SELECT 1 FROM pr_gone_roles g WHERE g.role_id = x.role_id)"),
        Delete(Memberships, "EXISTS (SELECT 1 FROM pr_gone_roles g WHERE g.role_id = x.role_id OR g.role_id = x.member_id)"),
        Delete(Resources, "EXISTS (SELECT 1 FROM pr_gone_resources g WHERE g.resource_id = x.resource_id)"),
        Delete(Roles, "EXISTS (SELECT 1 FROM pr_gone_roles g WHERE g.role_id = x.role_id)"),
    ];

    /// <summary>Replace: memberships, permissions and annotations of the branch that the file omits.</summary>
    public static readonly string[] RemoveOmittedRows =
    [
        Delete(Annotations, $"{InScope} AND NOT EXISTS (SELECT 1 FROM pr_annotations t WHERE t.resource_id = x.resource_id AND t.name = x.name)"),
        Delete(Permissions, $"{InScope} AND NOT EXISTS (SELECT 1 FROM pr_permissions t WHERE t.privilege = x.privilege AND t.resource_id = x.resource_id AND t.role_id = x.role_id)"),
        Delete(Memberships, $"{InScope} AND NOT EXISTS (SELECT 1 FROM pr_memberships t WHERE t.role_id = x.role_id AND t.member_id = x.member_id AND t.ownership = x.ownership)"),
    ];

    /// <summary>
    /// <c>!revoke</c> and <c>!deny</c>: as Conjur's loader, they remove only rows the loaded branch wrote ($3); a row
    /// another branch wrote stays. Ownership is not revoked by a grant statement.
    /// </summary>
    public static readonly string[] RevokeAndDeny =
    [
        Delete(Memberships, "x.policy_id = $3 AND NOT x.ownership AND EXISTS (SELECT 1 FROM pr_revokes t WHERE t.role_id = x.role_id AND t.member_id = x.member_id)"),
        Delete(Permissions, "x.policy_id = $3 AND EXISTS (SELECT 1 FROM pr_denies t WHERE t.privilege = x.privilege AND t.resource_id = x.resource_id AND t.role_id = x.role_id)"),
    ];

    /// <summary>Inserts (and, outside load mode, updates) the file's roles; returns the ids of the roles that did not exist.</summary>
    public static string UpsertRoles(PolicyMode mode) =>
        $"WITH {Upsert(Roles, "u", "pr_roles", mode)} SELECT role_id FROM u WHERE inserted";

    /// <summary>
    /// Inserts (and, outside load mode, updates) the file's other rows. Memberships go before resources: the ownership
    /// trigger on resources then finds the ownership rows written, stamped with the branch as Conjur's loader stamps
    /// them (alone it writes them with no policy_id). Every row's policy_id is the branch, which exists already.
    /// </summary>
    public static string[] UpsertRest(PolicyMode mode) =>
    [
        $"WITH {Upsert(Memberships, "u", "pr_memberships", mode)} SELECT 1",
        $"WITH {Upsert(Resources, "u", "pr_resources", mode)} SELECT 1",
        $"WITH {Upsert(Permissions, "u", "pr_permissions", mode)} SELECT 1",
        $"WITH {Upsert(Annotations, "u", "pr_annotations", mode)} SELECT 1",
    ];

    /// <summary>
    /// restricted_to of users and hosts: set for new roles ($1 their ids) and, outside load mode, for all.
    /// </summary>
    public static string UpsertCredentials(PolicyMode mode) => $"""
        INSERT INTO credentials (role_id, restricted_to)
        SELECT c.role_id, c.restricted_to::cidr[] FROM pr_credentials c
         WHERE {(mode == PolicyMode.Load ? "c.role_id = ANY($1)" : "true")}
        ON CONFLICT (role_id) DO UPDATE SET restricted_to = EXCLUDED.restricted_to
            WHERE credentials.restricted_to IS DISTINCT FROM EXCLUDED.restricted_to
        """;

    /// <summary>
    /// Refreshes the materialised grants, writes each change to the outbox and wakes the gateway
    /// (empty payload). Returns (follower, follower role, variable, 'grant'|'revoke').
    /// </summary>
    /// <remarks>
    /// Every follower is refreshed here, so the grant changes this transaction's statements recorded (leader baseline) are
    /// cleared: the commit-time refresh then finds nothing to do. The refresh also marks grant_refreshes, as every
    /// refresh does (the baseline's guard for transactions that are not READ COMMITTED).
    /// </remarks>
    public const string RefreshGrants = """
        WITH d AS MATERIALIZED (SELECT * FROM partial_replica.refresh_granted()),
        o AS (INSERT INTO partial_replica.changes (kind, resource_id, follower)
              SELECT d.change, d.resource_id, d.follower FROM d ORDER BY d.follower, d.resource_id),
        marked AS (UPDATE partial_replica.grant_refreshes SET refreshed_at = clock_timestamp()),
        dirty AS (DELETE FROM partial_replica.grants_dirty x WHERE x.tx = pg_current_xact_id()),
        touched AS (DELETE FROM partial_replica.grant_touches x WHERE x.tx = pg_current_xact_id())
        SELECT d.follower, d.follower_role_id, d.resource_id, d.change FROM d ORDER BY 1, 4, 3
        """;

    private static string Delete(Table table, string where) =>
        $"DELETE FROM {SqlIdentifier.Quote(table.Name)} x WHERE {where}";

    // One INSERT ... ON CONFLICT per table, from the temporary table of the file's rows; its foreign-key checks run
    // at the statement's end (Conjur's foreign keys are not deferrable), hence the table order of the load.
    private static string Upsert(Table table, string alias, string source, PolicyMode mode)
    {
        var columns = table.Keys.Concat(table.Values).ToArray();
        var list = string.Join(", ", columns);
        var name = SqlIdentifier.Quote(table.Name);
        // A row another branch wrote (policy_id differs) is shadowed, as in Conjur: left as that branch has it.
        var conflict = mode == PolicyMode.Load
            ? "DO NOTHING"
            : $"DO UPDATE SET {string.Join(", ", table.Values.Select(v => $"{v} = EXCLUDED.{v}"))} " +
              $"WHERE {name}.policy_id = EXCLUDED.policy_id AND ({string.Join(", ", table.Values.Select(v => $"{name}.{v}"))}) IS DISTINCT FROM " +
              $"({string.Join(", ", table.Values.Select(v => $"EXCLUDED.{v}"))})";
        // xmax = 0 tells a fresh insert from an update of an existing row.
        return $"{alias} AS (INSERT INTO {name} ({list}) SELECT {list} FROM {source} " +
               $"ON CONFLICT ({string.Join(", ", table.Keys)}) {conflict} " +
               $"RETURNING {string.Join(", ", table.Keys)}, xmax = 0 AS inserted)";
    }
}
