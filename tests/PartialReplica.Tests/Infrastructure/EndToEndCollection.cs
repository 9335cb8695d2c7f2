namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// End-to-end test classes that need no servers of their own share one set: each <see cref="TestWorld"/> gets a
/// leader server of its own (stopped when the world is disposed) and follower databases named afresh on the two
/// shared follower servers; its followers' subscriptions are disabled at its end. A class that stops or restarts a
/// server belongs elsewhere (see the fault tests' collection).
/// </summary>
[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<ReplicationFixture>
{
    public const string Name = "End to end";
}
