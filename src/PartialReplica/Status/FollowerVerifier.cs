using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Schema;

namespace PartialReplica.Status;

/// <summary>How a follower's secrets compare with what the grant model says it must hold.</summary>
/// <param name="Expected">Secret versions the follower must hold (leader rows of its granted variables).</param>
/// <param name="Missing">Versions the follower lacks or holds with different bytes.</param>
/// <param name="Extra">Versions the follower holds but must not.</param>
public sealed record VerificationResult(int Expected, IReadOnlyList<string> Missing, IReadOnlyList<string> Extra)
{
    public bool Exact => Missing.Count == 0 && Extra.Count == 0;
}

/// <summary>
/// Checks that a follower holds exactly its granted set: every kept version of every granted variable,
/// byte-exact (compared by SHA-256 computed in each database), and nothing else.
/// </summary>
public static class FollowerVerifier
{
    public static async Task<VerificationResult> VerifyAsync(
        NpgsqlDataSource leader, NpgsqlDataSource follower, string followerRoleId, CancellationToken cancellationToken)
    {
        var expected = await RowsAsync(leader, $"""
            SELECT s.resource_id || '#' || s.version || '#' || encode(sha256(s.value), 'hex') || '#' || coalesce(extract(epoch FROM s.expires_at)::text, '')
              FROM ({GrantedSecretsReader.GrantedSecretRowsSql}) s
            """, followerRoleId, cancellationToken);
        var actual = await RowsAsync(follower, """
            SELECT resource_id || '#' || version || '#' || encode(sha256(value), 'hex') || '#' || coalesce(extract(epoch FROM expires_at)::text, '')
              FROM secrets
            """, null, cancellationToken);
        return new VerificationResult(
            expected.Count,
            expected.Except(actual).Order(StringComparer.Ordinal).ToList(),
            actual.Except(expected).Order(StringComparer.Ordinal).ToList());
    }

    private static async Task<HashSet<string>> RowsAsync(NpgsqlDataSource database, string sql, string? role, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = role is null ? ConnectionExtensions.Command(connection, sql) : ConnectionExtensions.Command(connection, sql, role);
        var rows = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
