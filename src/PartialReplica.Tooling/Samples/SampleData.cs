using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using PartialReplica.Conjur;

namespace PartialReplica.Tooling.Samples;

/// <summary><c>partial-replica load</c>: N sample variables, defined by policy, with random encrypted values.</summary>
internal static class SampleData
{
    /// <summary>The identifiers (relative to the account) of the sample variables.</summary>
    public static IReadOnlyList<string> Identifiers(string prefix, int count) =>
        Enumerable.Range(1, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"{prefix}/v{i:D6}")).ToList();

    /// <summary>
    /// A policy (for the root branch) defining the variables under <paramref name="prefix"/>, and when
    /// <paramref name="replicaSets"/> are given, letting each set's replicated-data execute them.
    /// </summary>
    public static string Policy(string prefix, int count, IReadOnlyList<string> replicaSets)
    {
        var yaml = new StringBuilder();
        yaml.Append(CultureInfo.InvariantCulture, $"- !policy\n  id: {prefix}\n  body:\n  - &sample-variables\n");
        for (var i = 1; i <= count; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"    - !variable v{i:D6}\n");
        }

        foreach (var set in replicaSets)
        {
            yaml.Append(CultureInfo.InvariantCulture,
                $"  - !permit\n    role: !group /conjur/replication-sets/{set}/replicated-data\n    privilege: execute\n    resources: *sample-variables\n");
        }

        return yaml.ToString();
    }

    /// <summary>Inserts one random value per variable with binary COPY, in chunks; reports rows done.</summary>
    public static async Task InsertValuesAsync(
        NpgsqlDataSource leader, IReadOnlyList<string> variableIds, int valueBytes, Slosilo crypto,
        IProgress<int>? progress, CancellationToken cancellationToken)
    {
        const int chunk = 2000;
        var done = 0;
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        foreach (var part in variableIds.Chunk(chunk))
        {
            // The version column is set by Conjur's trigger; COPY fires it like an INSERT.
            await using (var writer = await connection.BeginBinaryImportAsync("COPY secrets (resource_id, value) FROM STDIN (FORMAT BINARY)", cancellationToken))
            {
                foreach (var id in part)
                {
                    await writer.StartRowAsync(cancellationToken);
                    await writer.WriteAsync(id, NpgsqlDbType.Text, cancellationToken);
                    await writer.WriteAsync(crypto.Encrypt(RandomNumberGenerator.GetBytes(valueBytes), id), NpgsqlDbType.Bytea, cancellationToken);
                }

                await writer.CompleteAsync(cancellationToken);
            }

            done += part.Length;
            progress?.Report(done);
        }
    }
}
