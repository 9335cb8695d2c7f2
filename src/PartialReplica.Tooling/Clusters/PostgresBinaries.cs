using System.Globalization;

namespace PartialReplica.Tooling.Clusters;

/// <summary>Finds the PostgreSQL server programs: on PATH first, then the newest /usr/lib/postgresql/*/bin.</summary>
internal sealed class PostgresBinaries
{
    private PostgresBinaries(string directory) => Directory = directory;

    /// <summary>The folder holding initdb, pg_ctl and postgres.</summary>
    public string Directory { get; }

    /// <summary>Full path of one server program.</summary>
    public string this[string program] => Path.Combine(Directory, program);

    /// <summary>Locates the server binaries or explains exactly what to install.</summary>
    public static PostgresBinaries Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable("PARTIALREPLICA_PG_BIN");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return HasServer(fromEnv)
                ? new PostgresBinaries(fromEnv)
                : throw new PartialReplicaException($"PARTIALREPLICA_PG_BIN={fromEnv} holds no initdb/pg_ctl/postgres.");
        }

        // Debian puts the server outside PATH; a PATH entry may be a symlink into it, so resolve it.
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var initdb = Path.Combine(dir, "initdb");
            if (File.Exists(initdb))
            {
                var resolved = new FileInfo(initdb).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? initdb;
                var binDir = Path.GetDirectoryName(resolved)!;
                if (HasServer(binDir))
                {
                    return new PostgresBinaries(binDir);
                }
            }
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (System.IO.Directory.Exists(debianRoot))
        {
            var newest = System.IO.Directory.GetDirectories(debianRoot)
                .Select(d => (dir: Path.Combine(d, "bin"), version: ParseVersion(Path.GetFileName(d))))
                .Where(c => HasServer(c.dir))
                .OrderByDescending(c => c.version)
                .FirstOrDefault();
            if (newest.dir is not null)
            {
                return new PostgresBinaries(newest.dir);
            }
        }

        throw new PartialReplicaException(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or under /usr/lib/postgresql. " +
            "Install them with: apt-get install -y postgresql (Debian), or set PARTIALREPLICA_PG_BIN to their folder.");
    }

    private static bool HasServer(string dir) =>
        File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")) && File.Exists(Path.Combine(dir, "postgres"));

    private static double ParseVersion(string name) =>
        double.TryParse(name, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0;
}
