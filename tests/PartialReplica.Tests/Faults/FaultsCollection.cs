namespace PartialReplica.Tests.Faults;

/// <summary>
/// Fault tests run one after another: each kills processes and measures takeover and lag, which a
/// neighbour starting its own servers on this machine would blur.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FaultsCollection
{
    public const string Name = "Faults";
}
