using System.Diagnostics;

namespace PartialReplica.Tooling.Clusters;

/// <summary>Runs the server programs, as the <c>postgres</c> user when this process is root.</summary>
internal static class ProcessRunner
{
    /// <summary>PostgreSQL refuses to run as root; we then run it as the postgres user via runuser.</summary>
    public static bool RunAsPostgresUser => Environment.IsPrivilegedProcess;

    public static async Task<string> RunAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (RunAsPostgresUser)
        {
            info.FileName = "runuser";
            info.ArgumentList.Add("-u");
            info.ArgumentList.Add("postgres");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(program);
        }
        else
        {
            info.FileName = program;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // A predictable locale and no inherited libpq settings that could point elsewhere.
        info.Environment["LC_ALL"] = "C";
        info.Environment.Remove("PGHOST");
        info.Environment.Remove("PGPORT");
        info.Environment.Remove("PGDATA");

        using var process = Process.Start(info)
            ?? throw new PartialReplicaException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        var error = await stderr;
        if (process.ExitCode != 0)
        {
            throw new PartialReplicaException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {error.Trim()} {output.Trim()}".Trim());
        }

        return output;
    }
}
