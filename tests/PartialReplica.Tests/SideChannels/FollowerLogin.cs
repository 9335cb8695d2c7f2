using System.Text.RegularExpressions;
using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.SideChannels;

/// <summary>
/// What a hostile follower operator holds: the credentials its own subscription keeps (read from
/// <c>pg_subscription</c> on the follower database, which that operator owns), as an Npgsql connection string.
/// </summary>
internal static partial class FollowerLogin
{
    public static async Task<NpgsqlConnectionStringBuilder> FromSubscriptionAsync(string followerDb, string subscription)
    {
        // pg_subscription is shared by the server's databases, and two tests' followers may share a subscription name.
        var conninfo = await Db.ScalarAsync<string>(followerDb, """
            SELECT subconninfo FROM pg_subscription
             WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, subscription)
            ?? throw new InvalidOperationException($"no subscription {subscription}");
        var values = Pairs().Matches(conninfo).ToDictionary(m => m.Groups[1].Value, m => Unquote(m.Groups[2].Value));
        return new NpgsqlConnectionStringBuilder
        {
            Host = values["host"],
            Port = int.Parse(values["port"], System.Globalization.CultureInfo.InvariantCulture),
            Database = values["dbname"],
            Username = values["user"],
            Password = values["password"],
            Pooling = false,
        };
    }

    /// <summary>The same login aimed at another database of the same server.</summary>
    public static string To(NpgsqlConnectionStringBuilder login, string database) =>
        new NpgsqlConnectionStringBuilder(login.ConnectionString) { Database = database }.ConnectionString;

    private static string Unquote(string value) =>
        value.StartsWith('\'') ? Regex.Unescape(value[1..^1].Replace("\\'", "'", StringComparison.Ordinal)) : value;

    [GeneratedRegex(@"(\w+)=('(?:[^'\\]|\\.)*'|\S+)")]
    private static partial Regex Pairs();
}
