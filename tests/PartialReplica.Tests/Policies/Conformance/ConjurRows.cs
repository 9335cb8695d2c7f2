using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies.Conformance;

/// <summary>
/// Every row a policy writes in Conjur's five policy tables, one line each, without the account prefix:
/// <c>role R @P</c>, <c>resource R owner O @P</c>, <c>member R &lt;- M [admin] [ownership] @P</c>,
/// <c>permit M privilege R @P</c>, <c>annotation R name=value @P</c> (P = policy_id).
/// </summary>
internal static class ConjurRows
{
    public static async Task<List<string>> AllAsync(PolicyDatabase db) =>
        [.. (await Db.ColumnAsync(db.ConnectionString, """
            SELECT 'role ' || role_id || ' @' || coalesce(policy_id, '-') FROM roles
            UNION ALL SELECT 'resource ' || resource_id || ' owner ' || owner_id || ' @' || coalesce(policy_id, '-') FROM resources
            UNION ALL SELECT 'member ' || role_id || ' <- ' || member_id || CASE WHEN admin_option THEN ' admin' ELSE '' END
                   || CASE WHEN ownership THEN ' ownership' ELSE '' END || ' @' || coalesce(policy_id, '-') FROM role_memberships
            UNION ALL SELECT 'permit ' || role_id || ' ' || privilege || ' ' || resource_id || ' @' || coalesce(policy_id, '-') FROM permissions
            UNION ALL SELECT 'annotation ' || resource_id || ' ' || name || '=' || value || ' @' || coalesce(policy_id, '-') FROM annotations
            """)).Select(r => r.Replace("default:", "", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    /// <summary>The rows now present that <paramref name="baseline"/> did not hold.</summary>
    public static async Task<List<string>> AddedSinceAsync(PolicyDatabase db, IReadOnlyCollection<string> baseline) =>
        [.. (await AllAsync(db)).Except(baseline)];

    public static List<string> Sorted(params string[] rows) => [.. rows.Order(StringComparer.Ordinal)];
}
