using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>A shortest membership path from a role to one that holds a privilege, as explain prints it.</summary>
/// <param name="Steps">One sentence per membership, in order.</param>
/// <param name="End">The role reached (the start itself when it holds the privilege).</param>
internal sealed record MembershipPath(IReadOnlyList<string> Steps, string End);

/// <summary>
/// Walks role memberships as the grant rule's <c>all_roles</c> does (from member to role, transitively, ownership
/// rows included), breadth first, so each role is reached by a shortest path; ties go to the smaller id, so the
/// same database always gives the same chain. One query per level, on the caller's connection and snapshot.
/// </summary>
internal sealed class MembershipWalker(NpgsqlConnection connection)
{
    private readonly Dictionary<string, Dictionary<string, Reached>> _closures = new(StringComparer.Ordinal);

    /// <summary>The roles permitted <paramref name="privilege"/> on <paramref name="resourceId"/>, in id order.</summary>
    public async Task<IReadOnlyList<string>> HoldersAsync(string resourceId, string privilege, CancellationToken cancellationToken)
    {
        var holders = new List<string>();
        await using var command = ConnectionExtensions.Command(connection,
            "SELECT role_id FROM permissions WHERE resource_id = $1 AND privilege = $2 ORDER BY role_id COLLATE \"C\"", resourceId, privilege);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            holders.Add(reader.GetString(0));
        }

        return holders;
    }

    /// <summary>The shortest path from <paramref name="start"/> to any of <paramref name="targets"/>, or null when it reaches none.</summary>
    public async Task<MembershipPath?> PathAsync(string start, IReadOnlyList<string> targets, CancellationToken cancellationToken)
    {
        var closure = await ClosureAsync(start, cancellationToken);
        var end = targets.Where(closure.ContainsKey)
            .OrderBy(t => closure[t].Depth).ThenBy(t => t, StringComparer.Ordinal)
            .FirstOrDefault();
        if (end is null)
        {
            return null;
        }

        var steps = new List<string>();
        for (var role = end; closure[role].Member is { } member; role = member)
        {
            steps.Add(closure[role].Ownership
                ? $"{member} owns {role} (an owner is a member of what it owns)"
                : $"{member} is a member of {role}");
        }

        steps.Reverse();
        return new MembershipPath(steps, end);
    }

    private async Task<Dictionary<string, Reached>> ClosureAsync(string start, CancellationToken cancellationToken)
    {
        if (_closures.TryGetValue(start, out var known))
        {
            return known;
        }

        var closure = new Dictionary<string, Reached>(StringComparer.Ordinal) { [start] = new Reached(null, false, 0) };
        var frontier = new List<string> { start };
        for (var depth = 1; frontier.Count > 0; depth++)
        {
            var next = new List<string>();
            // A pair with both an ownership row and a granted one is shown as the grant.
            await using var command = ConnectionExtensions.Command(connection, """
                SELECT rm.member_id, rm.role_id, bool_and(rm.ownership)
                  FROM role_memberships rm
                 WHERE rm.member_id = ANY($1)
                 GROUP BY rm.member_id, rm.role_id
                 ORDER BY rm.member_id COLLATE "C", rm.role_id COLLATE "C"
                """, (object)frontier.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var role = reader.GetString(1);
                if (closure.TryAdd(role, new Reached(reader.GetString(0), reader.GetBoolean(2), depth)))
                {
                    next.Add(role);
                }
            }

            frontier = next;
        }

        _closures[start] = closure;
        return closure;
    }

    /// <summary>How a role was first reached: from which member, whether as its owner, at what depth.</summary>
    private sealed record Reached(string? Member, bool Ownership, int Depth);
}
