using System.CommandLine;
using PartialReplica.Configuration;

namespace PartialReplica.Cli;

/// <summary>Options shared by several verbs; each falls back to its environment variable (SPEC F8).</summary>
internal static class CommonOptions
{
    public static Option<string?> Leader() => new("--leader")
    {
        Description = "Leader connection string or postgresql:// URI (env PARTIALREPLICA_LEADER).",
    };

    public static Option<string?> FollowerDb() => new("--db", "--follower-db")
    {
        Description = "Follower database connection string or URI (env PARTIALREPLICA_FOLLOWER_DB).",
    };

    public static Option<string?> Account() => new("--account")
    {
        Description = "Conjur account (env PARTIALREPLICA_ACCOUNT, default 'default').",
    };

    public static Option<string?> Relay() => new("--relay")
    {
        Description = "Relay database admin connection string or URI (env PARTIALREPLICA_RELAY); setup's default: partial_replica_relay in the leader's server.",
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print the result as one JSON document.",
    };

    public static string LeaderConnection(ParseResult result, Option<string?> option) =>
        Normalize(
            result.GetValue(option) ?? Environment.GetEnvironmentVariable("PARTIALREPLICA_LEADER")
                ?? throw new PartialReplicaException("No leader database given: pass --leader or set PARTIALREPLICA_LEADER."),
            "leader", "pass --leader or set PARTIALREPLICA_LEADER");

    public static string FollowerConnection(ParseResult result, Option<string?> option) =>
        Normalize(
            result.GetValue(option) ?? Environment.GetEnvironmentVariable("PARTIALREPLICA_FOLLOWER_DB")
                ?? throw new PartialReplicaException("No follower database given: pass --db or set PARTIALREPLICA_FOLLOWER_DB."),
            "follower database", "pass --db or set PARTIALREPLICA_FOLLOWER_DB");

    public static string? RelayConnection(ParseResult result, Option<string?> option) =>
        (result.GetValue(option) ?? Environment.GetEnvironmentVariable("PARTIALREPLICA_RELAY")) is { Length: > 0 } relay
            ? Normalize(relay, "relay", "pass --relay or set PARTIALREPLICA_RELAY")
            : null;

    /// <summary>A connection string that does not parse is one line that also says where it came from.</summary>
    private static string Normalize(string value, string whatFor, string fix)
    {
        try
        {
            return ConnectionStrings.Normalize(value, whatFor);
        }
        catch (PartialReplicaException e)
        {
            throw new PartialReplicaException($"{e.Message.TrimEnd('.')}: {fix}.", e);
        }
    }

    public static string AccountName(ParseResult result, Option<string?> option) =>
        result.GetValue(option) ?? Environment.GetEnvironmentVariable("PARTIALREPLICA_ACCOUNT") ?? "default";
}
