namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// Test classes about one leader (capture, setup, status, the CLI, hosting, side channels) that need no servers of
/// their own share one set: every leader they make gets a server of its own from the fixture, and their follower
/// databases are named afresh on the shared follower servers. A separate collection from
/// <see cref="EndToEndCollection"/>, so the two run beside each other on the machine's two cores.
/// </summary>
[CollectionDefinition(Name)]
public sealed class LeaderServersCollection : ICollectionFixture<ReplicationFixture>
{
    public const string Name = "Leader servers";
}
