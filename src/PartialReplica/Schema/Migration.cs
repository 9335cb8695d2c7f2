using System.Globalization;
using System.Reflection;

namespace PartialReplica.Schema;

/// <summary>
/// One numbered SQL file under <c>Schema/Migrations</c>. The name says where it applies:
/// <c>NNNN_name.sql</c> on both sides, <c>NNNN_name.leader.sql</c> or <c>NNNN_name.follower.sql</c> on one.
/// </summary>
internal sealed record Migration(int Version, string Name, DatabaseRole? Only, string Sql)
{
    private const string Prefix = "PartialReplica.Schema.Migrations.";

    /// <summary>Whether this migration belongs in a database of the given role.</summary>
    public bool AppliesTo(DatabaseRole role) => Only is null || Only == role;

    /// <summary>All migrations embedded in this assembly, in version order.</summary>
    public static IReadOnlyList<Migration> All { get; } = Load();

    private static List<Migration> Load()
    {
        var assembly = typeof(Migration).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var file = resource[Prefix.Length..];
            var stem = file[..^".sql".Length];
            DatabaseRole? only = null;
            if (stem.EndsWith(".leader", StringComparison.Ordinal))
            {
                only = DatabaseRole.Leader;
                stem = stem[..^".leader".Length];
            }
            else if (stem.EndsWith(".follower", StringComparison.Ordinal))
            {
                only = DatabaseRole.Follower;
                stem = stem[..^".follower".Length];
            }

            var version = int.Parse(stem[..4], NumberStyles.None, CultureInfo.InvariantCulture);
            migrations.Add(new Migration(version, stem, only, Read(assembly, resource)));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two migrations share version {migrations[i].Version}.");
            }
        }

        return migrations;
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Missing embedded migration {resource}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
