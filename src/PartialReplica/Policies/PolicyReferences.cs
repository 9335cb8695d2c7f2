using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Policies;

/// <summary>
/// Checks that every record a file refers to exists — declared in the file or present in the database. It runs
/// after the load's deletions (<c>!delete</c>, replace's omissions and what they cascade to), inside the load's
/// transaction, so a record about to go does not count as present and the refusal is located, not a foreign-key error.
/// </summary>
internal static class PolicyReferences
{
    public static async Task CheckAsync(
        NpgsqlConnection connection, PolicyDocument document, PolicyRows rows, CancellationToken cancellationToken)
    {
        // As Conjur: !delete, !revoke and !deny of what does not exist do nothing, so only what the file writes is checked.
        var roleRefs = document.Records.Where(r => !r.OwnedByBranchOwner).Select(r => r.Owner)
            .Concat(document.Memberships.Where(m => !m.Revoke).SelectMany(m => new[] { m.Role, m.Member }))
            .Concat(document.Permissions.Where(p => !p.Deny).Select(p => p.Role));
        var resourceRefs = document.Permissions.Where(p => !p.Deny).Select(p => p.Resource);

        var pending = new List<(PolicyReference Ref, bool IsRole)>();
        var seen = new HashSet<(string, bool)>();
        foreach (var (reference, isRole) in roleRefs.Select(r => (r, true)).Concat(resourceRefs.Select(r => (r, false))))
        {
            var id = reference.Id.ToString();
            if (!rows.Declared.Contains(id) && seen.Add((id, isRole)))
            {
                pending.Add((reference, isRole));
            }
        }

        if (pending.Count == 0)
        {
            return;
        }

        await using var command = ConnectionExtensions.Command(connection, """
            SELECT r.i::int FROM unnest($1::text[], $2::boolean[]) WITH ORDINALITY AS r(id, is_role, i)
             WHERE NOT EXISTS (SELECT 1 FROM roles x WHERE r.is_role AND x.role_id = r.id)
               AND NOT EXISTS (SELECT 1 FROM resources x WHERE NOT r.is_role AND x.resource_id = r.id)
             ORDER BY r.i
            """,
            pending.Select(p => p.Ref.Id.ToString()).ToArray(), pending.Select(p => p.IsRole).ToArray());
        var missing = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var (reference, _) = pending[reader.GetInt32(0) - 1];
                missing.Add($"{reference.Mark}: {reference.Id} does not exist (declare it in this file or load it first)");
            }
        }

        if (missing.Count > 0)
        {
            throw new PartialReplicaException(string.Join(Environment.NewLine, missing.Take(20)) +
                (missing.Count > 20 ? $"{Environment.NewLine}... and {missing.Count - 20} more missing references" : ""));
        }
    }
}
