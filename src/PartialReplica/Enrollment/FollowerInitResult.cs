namespace PartialReplica.Enrollment;

/// <summary>What a follower init did.</summary>
/// <param name="Name">The follower's host identifier.</param>
/// <param name="RoleId">Its Conjur role.</param>
/// <param name="SlotName">Its replication slot and subscription name.</param>
/// <param name="ApiKey">The host's API key when this run created it; null on later runs (printed once).</param>
public sealed record FollowerInitResult(string Name, string RoleId, string SlotName, string? ApiKey);
