using Npgsql;
using NpgsqlTypes;

namespace PartialReplica.Policies;

/// <summary>
/// The rows a parsed document wants in Conjur's tables, deduplicated, and their bulk copy into the
/// temporary tables the load statements work from (binary COPY: 10,000 records in a few milliseconds).
/// </summary>
internal sealed class PolicyRows
{
    public List<object?[]> Roles { get; } = [];
    public List<object?[]> Resources { get; } = [];
    public List<object?[]> Memberships { get; } = [];
    public List<object?[]> Permissions { get; } = [];
    public List<object?[]> Annotations { get; } = [];
    public List<object?[]> Credentials { get; } = [];
    public List<object?[]> Revokes { get; } = [];
    public List<object?[]> Denies { get; } = [];
    public List<object?[]> Deletes { get; } = [];

    /// <summary>The ids the file declares.</summary>
    public HashSet<string> Declared { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The rows of <paramref name="document"/>; records declared at root without an owner are owned by
    /// <paramref name="rootOwner"/> (the root policy's owner, as in Conjur).
    /// </summary>
    public static PolicyRows From(PolicyDocument document, string rootOwner)
    {
        var rows = new PolicyRows();
        var firstMark = new Dictionary<string, SourceMark>(StringComparer.Ordinal);
        var memberships = new HashSet<(string, string, bool)>();
        var permissions = new HashSet<(string, string, string)>();
        foreach (var record in document.Records)
        {
            var id = record.Id.ToString();
            if (!firstMark.TryAdd(id, record.Mark))
            {
                throw PolicyErrors.At(record.Mark, $"{id} is declared more than once (first at {firstMark[id]})");
            }

            rows.Declared.Add(id);
            var policy = record.PolicyId.ToString();
            var owner = record.OwnedByBranchOwner ? rootOwner : record.Owner.Id.ToString();
            if (record.IsResource)
            {
                rows.Resources.Add([id, owner, policy]);
            }

            if (record.IsRole)
            {
                rows.Roles.Add([id, policy]);
                // As Conjur: the owner of a role's resource is a member of the role, with admin option.
                if (record.IsResource && owner != id && memberships.Add((id, owner, true)))
                {
                    rows.Memberships.Add([id, owner, true, true, policy]);
                }
            }

            if (record.Id.Kind is "user" or "host")
            {
                rows.Credentials.Add([id, record.RestrictedTo.ToArray()]);
            }

            foreach (var (name, value) in record.Annotations)
            {
                rows.Annotations.Add([id, name, value, policy]);
            }
        }

        var revokes = new HashSet<(string, string)>();
        foreach (var m in document.Memberships)
        {
            var role = m.Role.Id.ToString();
            var member = m.Member.Id.ToString();
            if (m.Revoke)
            {
                if (revokes.Add((role, member)))
                {
                    rows.Revokes.Add([role, member]);
                }
            }
            else if (memberships.Add((role, member, false)))
            {
                rows.Memberships.Add([role, member, m.Admin, false, m.PolicyId.ToString()]);
            }
        }

        var denies = new HashSet<(string, string, string)>();
        foreach (var p in document.Permissions)
        {
            var key = (p.Privilege, p.Resource.Id.ToString(), p.Role.Id.ToString());
            if (p.Deny)
            {
                if (denies.Add(key))
                {
                    rows.Denies.Add([key.Privilege, key.Item2, key.Item3]);
                }
            }
            else if (permissions.Add(key))
            {
                rows.Permissions.Add([key.Privilege, key.Item2, key.Item3, p.PolicyId.ToString()]);
            }
        }

        foreach (var id in document.Deletions.Select(d => d.Record.Id.ToString()).Distinct(StringComparer.Ordinal))
        {
            rows.Deletes.Add([id]);
        }

        return rows;
    }

    /// <summary>Creates the temporary tables (dropped at commit) and copies the rows in.</summary>
    public async Task CopyAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var create = new NpgsqlCommand("""
            CREATE TEMP TABLE pr_roles (role_id text PRIMARY KEY, policy_id text) ON COMMIT DROP;
            CREATE TEMP TABLE pr_resources (resource_id text PRIMARY KEY, owner_id text, policy_id text) ON COMMIT DROP;
            CREATE TEMP TABLE pr_memberships (role_id text, member_id text, admin_option boolean, ownership boolean,
                policy_id text, PRIMARY KEY (role_id, member_id, ownership)) ON COMMIT DROP;
            CREATE TEMP TABLE pr_permissions (privilege text, resource_id text, role_id text, policy_id text,
                PRIMARY KEY (privilege, resource_id, role_id)) ON COMMIT DROP;
            CREATE TEMP TABLE pr_annotations (resource_id text, name text, value text, policy_id text,
                PRIMARY KEY (resource_id, name)) ON COMMIT DROP;
            CREATE TEMP TABLE pr_credentials (role_id text PRIMARY KEY, restricted_to text[]) ON COMMIT DROP;
            CREATE TEMP TABLE pr_revokes (role_id text, member_id text) ON COMMIT DROP;
            CREATE TEMP TABLE pr_denies (privilege text, resource_id text, role_id text) ON COMMIT DROP;
            CREATE TEMP TABLE pr_deletes (id text PRIMARY KEY) ON COMMIT DROP;
            CREATE TEMP TABLE pr_gone_roles (role_id text PRIMARY KEY) ON COMMIT DROP;
            CREATE TEMP TABLE pr_gone_resources (resource_id text PRIMARY KEY) ON COMMIT DROP;
            """, connection))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await CopyAsync(connection, "pr_roles (role_id, policy_id)", Roles, cancellationToken);
        await CopyAsync(connection, "pr_resources (resource_id, owner_id, policy_id)", Resources, cancellationToken);
        await CopyAsync(connection, "pr_memberships (role_id, member_id, admin_option, ownership, policy_id)", Memberships, cancellationToken);
        await CopyAsync(connection, "pr_permissions (privilege, resource_id, role_id, policy_id)", Permissions, cancellationToken);
        await CopyAsync(connection, "pr_annotations (resource_id, name, value, policy_id)", Annotations, cancellationToken);
        await CopyAsync(connection, "pr_credentials (role_id, restricted_to)", Credentials, cancellationToken);
        await CopyAsync(connection, "pr_revokes (role_id, member_id)", Revokes, cancellationToken);
        await CopyAsync(connection, "pr_denies (privilege, resource_id, role_id)", Denies, cancellationToken);
        await CopyAsync(connection, "pr_deletes (id)", Deletes, cancellationToken);
        // Statistics matter for big files only (the planner's guess for an unanalysed temp table suits small ones).
        if (Resources.Count + Memberships.Count + Permissions.Count > 1000)
        {
            await using var analyze = new NpgsqlCommand("ANALYZE pr_roles, pr_resources, pr_memberships, pr_permissions, pr_annotations", connection);
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task CopyAsync(
        NpgsqlConnection connection, string target, List<object?[]> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        await using var importer = await connection.BeginBinaryImportAsync($"COPY {target} FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(cancellationToken);
            foreach (var value in row)
            {
                switch (value)
                {
                    case string s:
                        await importer.WriteAsync(s, NpgsqlDbType.Text, cancellationToken);
                        break;
                    case bool b:
                        await importer.WriteAsync(b, NpgsqlDbType.Boolean, cancellationToken);
                        break;
                    case string[] a:
                        await importer.WriteAsync(a, NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
                        break;
                    default:
                        await importer.WriteNullAsync(cancellationToken);
                        break;
                }
            }
        }

        await importer.CompleteAsync(cancellationToken);
    }
}
