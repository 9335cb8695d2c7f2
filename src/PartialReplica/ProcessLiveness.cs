using System.Diagnostics;

namespace PartialReplica;

/// <summary>Whether a process id names a running process (orphaned clusters, a host's parent).</summary>
public static class ProcessLiveness
{
    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
