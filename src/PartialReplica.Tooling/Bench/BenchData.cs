using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using PartialReplica.Conjur;

namespace PartialReplica.Tooling.Bench;

/// <summary>Bulk set-up of the benchmark's variables, grants and values (not measured).</summary>
internal static class BenchData
{
    /// <summary>The replica sets and follower hosts, as policy (each set once, each host granted its set).</summary>
    public static string Policy(IEnumerable<(string Set, string Host)> sets)
    {
        var yaml = new StringBuilder("- !policy\n  id: conjur/replication-sets\n  body:\n");
        foreach (var set in sets.Select(pair => pair.Set).Distinct(StringComparer.Ordinal))
        {
            yaml.Append(CultureInfo.InvariantCulture, $"""
                  - !policy
                    id: {set}
                    body:
                    - !webservice
                    - !group replicated-data
                    - !layer followers
                    - !permit
                      role: !layer followers
                      privilege: replicate
                      resource: !webservice

                """);
        }

        foreach (var (set, host) in sets)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"""
                - !host {host}
                - !grant
                  role: !layer conjur/replication-sets/{set}/followers
                  member: !host {host}

                """);
        }

        return yaml.ToString();
    }

    public static string VariableId(string prefix, int index) => string.Create(CultureInfo.InvariantCulture, $"default:variable:{prefix}/v{index:D7}");

    /// <summary>Creates <paramref name="count"/> variables; <paramref name="grant"/> says which set (if any) may execute each.</summary>
    public static async Task CreateVariablesAsync(NpgsqlDataSource leader, string prefix, int count, Func<int, IEnumerable<string>> grant, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using (var resources = await connection.BeginBinaryImportAsync("COPY resources (resource_id, owner_id, policy_id) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < count; i++)
            {
                await resources.StartRowAsync(cancellationToken);
                await resources.WriteAsync(VariableId(prefix, i), NpgsqlDbType.Text, cancellationToken);
                await resources.WriteAsync("default:user:admin", NpgsqlDbType.Text, cancellationToken);
                await resources.WriteAsync("default:policy:root", NpgsqlDbType.Text, cancellationToken);
            }

            await resources.CompleteAsync(cancellationToken);
        }

        await using (var permissions = await connection.BeginBinaryImportAsync("COPY permissions (privilege, resource_id, role_id, policy_id) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < count; i++)
            {
                foreach (var set in grant(i))
                {
                    await permissions.StartRowAsync(cancellationToken);
                    await permissions.WriteAsync("execute", NpgsqlDbType.Text, cancellationToken);
                    await permissions.WriteAsync(VariableId(prefix, i), NpgsqlDbType.Text, cancellationToken);
                    await permissions.WriteAsync($"default:group:conjur/replication-sets/{set}/replicated-data", NpgsqlDbType.Text, cancellationToken);
                    await permissions.WriteAsync("default:policy:root", NpgsqlDbType.Text, cancellationToken);
                }
            }

            await permissions.CompleteAsync(cancellationToken);
        }
    }

    /// <summary>One random 32-byte value per variable, encrypted, by binary COPY (capture fires per statement).</summary>
    public static async Task InsertValuesAsync(NpgsqlDataSource leader, string prefix, int count, Slosilo crypto, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var writer = await connection.BeginBinaryImportAsync("COPY secrets (resource_id, value) FROM STDIN (FORMAT BINARY)", cancellationToken);
        for (var i = 0; i < count; i++)
        {
            var id = VariableId(prefix, i);
            await writer.StartRowAsync(cancellationToken);
            await writer.WriteAsync(id, NpgsqlDbType.Text, cancellationToken);
            await writer.WriteAsync(crypto.Encrypt(RandomNumberGenerator.GetBytes(32), id), NpgsqlDbType.Bytea, cancellationToken);
        }

        await writer.CompleteAsync(cancellationToken);
    }

    public static async Task<long> CountAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Whether the database holds a value of <paramref name="variableId"/> (one primary-key probe).</summary>
    public static async Task<bool> HoldsAsync(string connectionString, string variableId, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM secrets WHERE resource_id = $1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = variableId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
