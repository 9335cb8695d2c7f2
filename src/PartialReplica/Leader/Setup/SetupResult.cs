namespace PartialReplica.Leader.Setup;

/// <summary>What a setup run did.</summary>
/// <param name="AdminApiKey">The admin's API key when this run created it; null on later runs (printed once).</param>
/// <param name="PublishedTables">The tables now in <c>partial_replica_public</c>, schema-qualified.</param>
/// <param name="AppliedMigrations">Migration versions this run applied.</param>
/// <param name="Relay">The relay followers subscribe to; null when the options asked for none.</param>
public sealed record SetupResult(
    string? AdminApiKey, IReadOnlyList<string> PublishedTables, IReadOnlyList<int> AppliedMigrations, Relay.RelaySetupResult? Relay);
