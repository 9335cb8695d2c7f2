namespace PartialReplica.Cli;

/// <summary>The exit codes of <c>partial-replica</c>, documented in the README.</summary>
internal static class ExitCode
{
    /// <summary>Done, and what was asked holds.</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure (a bug, or the environment broke mid-way).</summary>
    public const int Failure = 1;

    /// <summary>Bad input or a precondition not met; nothing was changed.</summary>
    public const int BadInput = 2;

    /// <summary>A database or the gateway could not be reached.</summary>
    public const int Unreachable = 3;

    /// <summary>The work ran but the result does not hold yet (e.g. delivered ≠ granted).</summary>
    public const int NotConverged = 4;
}
