namespace PartialReplica.Supervision;

/// <summary>
/// Where a test makes a supervised loop fail: <see cref="LoopSupervisor"/> calls it each time a loop starts and
/// before each tick of a periodic loop, and whatever <see cref="Hook"/> throws is handled as the loop's own
/// failure. Production code never sets the hook; a host registers one inert instance.
/// </summary>
public sealed class LoopFaultPoint
{
    /// <summary>Called on the loop's own task with the loop's name; may throw.</summary>
    public Action<string>? Hook { get; set; }

    internal void Reached(string loop) => Hook?.Invoke(loop);
}
