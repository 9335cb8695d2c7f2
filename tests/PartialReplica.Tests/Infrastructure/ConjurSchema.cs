using System.Diagnostics;
using Npgsql;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// A database whose schema Conjur's own migrations made: <c>../shared/conjur/schema.sql</c> (a <c>pg_dump
/// --schema-only</c> of one; test input, never product code), loaded with psql, which understands its
/// <c>\restrict</c> meta-commands. <c>PARTIALREPLICA_CONJUR_SCHEMA</c> may name the file elsewhere.
/// </summary>
internal static class ConjurSchema
{
    public static string File { get; } = Locate();

    /// <summary>Runs the dump against <paramref name="connectionString"/>'s database, stopping at the first error.</summary>
    public static async Task LoadAsync(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo("psql")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", builder.Host!, "-p", builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "-U", builder.Username!, "-d", builder.Database!, "-f", File,
                 })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGPASSWORD"] = builder.Password;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("psql did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"psql -f {File} exited {process.ExitCode}: {await error}{await output}");
        }
    }

    private static string Locate()
    {
        var configured = Environment.GetEnvironmentVariable("PARTIALREPLICA_CONJUR_SCHEMA");
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        // The checkout's sibling shared/ directory: walk up from the test binaries.
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "shared", "conjur", "schema.sql");
            if (System.IO.File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "Conjur's schema dump (shared/conjur/schema.sql beside the checkout) was not found; set PARTIALREPLICA_CONJUR_SCHEMA to its path.");
    }
}
