using System.Security.Cryptography;
using System.Text;

namespace PartialReplica.Leader.Relay;

/// <summary>
/// Names of the relay's roles, slots and subscription (S6). Roles are cluster-wide, so every name that could
/// meet another relay's on one server is derived from the relay database's name.
/// </summary>
public static class RelayNames
{
    /// <summary>The relay database <c>setup</c> makes in the leader's cluster when no relay is named.</summary>
    public const string DefaultDatabase = "partial_replica_relay";

    /// <summary>
    /// Group of every follower login on a server. <c>pg_hba.conf</c> confines its members: no physical
    /// replication, and only the database named like a role they are a member of (<c>samerole</c>).
    /// </summary>
    public const string FollowerLogins = "partial_replica_follower_logins";

    /// <summary>The <c>pg_hba.conf</c> lines that confine follower logins, to be placed above every other line.</summary>
    public static IReadOnlyList<string> HbaLines { get; } =
    [
        $"host    replication  +{FollowerLogins}  all  reject",
        $"host    samerole     +{FollowerLogins}  all  scram-sha-256",
        $"host    all          +{FollowerLogins}  all  reject",
        $"local   replication  +{FollowerLogins}       reject",
        $"local   all          +{FollowerLogins}       reject",
    ];

    /// <summary>
    /// The NOLOGIN role named exactly as the relay database: its members (this relay's follower logins) pass
    /// the <c>samerole</c> line for that database and no other.
    /// </summary>
    public static string DatabaseGroup(string relayDatabase) => relayDatabase;

    /// <summary>The leader-side login the relay subscribes with; used only between leader and relay.</summary>
    public static string UpstreamLogin(string relayDatabase) => Bounded("pr_upstream_" + Slug(relayDatabase), relayDatabase);

    /// <summary>The relay's subscription to the leader, and its slot on the leader.</summary>
    public static string UpstreamSubscription(string relayDatabase) => Bounded("pr_relay_" + Slug(relayDatabase), relayDatabase);

    /// <summary>A follower's replication login on the relay's server, unique per relay and follower slot.</summary>
    public static string FollowerLogin(string relayDatabase, string slot) =>
        Bounded("pr_login_" + Slug(relayDatabase) + "_" + slot["pr_".Length..], relayDatabase + "\n" + slot);

    private static string Slug(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value.ToLowerInvariant())
        {
            builder.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '_');
        }

        return builder.ToString();
    }

    // PostgreSQL truncates names at 63 bytes; a long one keeps a hash of what it was made from instead.
    private static string Bounded(string name, string source)
    {
        if (name.Length <= 63)
        {
            return name;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(source)))[..12];
        return name[..(63 - 13)] + "_" + hash;
    }
}
