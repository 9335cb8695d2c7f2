using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// Fault tests run one after another: each kills processes and measures takeover and lag, which a
/// neighbour starting its own servers on this machine would blur. They share the follower servers;
/// every test has its own leader server and its own follower databases.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FaultsCollection : ICollectionFixture<ReplicationFixture>
{
    public const string Name = "Faults";
}
