using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Relay;

/// <summary>
/// Reads a server's effective <c>pg_hba.conf</c> (<c>pg_hba_file_rules</c>, superuser only) and tells whether a
/// follower login could reach any database but its relay, or stream physical WAL (which carries the whole
/// cluster, secrets included). Rules are taken in file order: the first rule matching a connection decides it, so
/// a login is confined only when a <c>reject</c> for every address comes before every rule that would admit it.
/// </summary>
internal static class HbaCheck
{
    /// <summary>What the check found: the ways a follower login gets in where it must not, empty when none.</summary>
    public sealed record Result(IReadOnlyList<string> Openings)
    {
        /// <summary>Whether follower logins are confined to the relay database.</summary>
        public bool Confined => Openings.Count == 0;

        /// <summary>The one-paragraph instruction an operator follows to confine them.</summary>
        public string Advice =>
            "Follower logins could reach " + string.Join("; ", Openings) + ". Add these lines at the top of pg_hba.conf " +
            "(above every other line), then run SELECT pg_reload_conf():" + Environment.NewLine +
            string.Join(Environment.NewLine, RelayNames.HbaLines.Select(l => "    " + l));
    }

    private sealed record Rule(int Line, string Type, string[] Databases, string[] Users, string? Address, string? Netmask, string Method);

    /// <summary>Checks the server behind <paramref name="relayAdmin"/> for the relay database <paramref name="relayDatabase"/>.</summary>
    public static async Task<Result> RunAsync(NpgsqlConnection relayAdmin, string relayDatabase, CancellationToken cancellationToken)
    {
        var rules = new List<Rule>();
        try
        {
            await using var command = ConnectionExtensions.Command(relayAdmin, """
                SELECT line_number, type, coalesce(database, '{}'), coalesce(user_name, '{}'), address, netmask, coalesce(auth_method, '')
                  FROM pg_hba_file_rules WHERE error IS NULL ORDER BY line_number
                """);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rules.Add(new Rule(reader.GetInt32(0), reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.GetFieldValue<string[]>(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6)));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new PartialReplicaException(
                $"Cannot read pg_hba_file_rules on the relay's server as {relayAdmin.UserName}: the check that follower logins reach only the relay needs a superuser.", e);
        }

        var databases = new List<string>();
        await using (var command = ConnectionExtensions.Command(relayAdmin,
            "SELECT datname FROM pg_database WHERE datallowconn AND datname <> $1 ORDER BY datname", relayDatabase))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                databases.Add(reader.GetString(0));
            }
        }

        var openings = new List<string>();
        foreach (var database in databases)
        {
            foreach (var local in new[] { false, true })
            {
                if (Admitting(rules, local, database, relayDatabase, replication: false) is { } line)
                {
                    openings.Add($"database {database} ({(local ? "local socket" : "TCP")}, line {line})");
                }
            }
        }

        foreach (var local in new[] { false, true })
        {
            if (Admitting(rules, local, "replication", relayDatabase, replication: true) is { } line)
            {
                openings.Add($"physical replication ({(local ? "local socket" : "TCP")}, line {line})");
            }
        }

        return new Result(openings.Distinct().ToList());
    }

    // The line of the first rule that would admit a follower login, or null when a reject for every address
    // (or no rule at all) comes first.
    private static int? Admitting(List<Rule> rules, bool local, string database, string relayDatabase, bool replication)
    {
        foreach (var rule in rules)
        {
            if ((rule.Type == "local") != local || !MatchesDatabase(rule, database, relayDatabase, replication) || !MatchesUser(rule, relayDatabase))
            {
                continue;
            }

            if (rule.Method != "reject")
            {
                return rule.Line;
            }

            if (local || CoversEveryAddress(rule))
            {
                return null;
            }
        }

        return null;
    }

    private static bool MatchesDatabase(Rule rule, string database, string relayDatabase, bool replication) =>
        rule.Databases.Any(d => replication
            ? d == "replication"
            : d == "all" || d == database || ((d is "samerole" or "samegroup") && database == RelayNames.DatabaseGroup(relayDatabase)));

    private static bool MatchesUser(Rule rule, string relayDatabase) =>
        rule.Users.Any(u => u == "all" || u == "+" + RelayNames.FollowerLogins || u == "+" + RelayNames.DatabaseGroup(relayDatabase)
            || u == "+" + Setup.ReplicationRoles.Reader || u.StartsWith("pr_login_", StringComparison.Ordinal));

    private static bool CoversEveryAddress(Rule rule) =>
        rule.Address is null or "all" || rule.Netmask is "0.0.0.0" or "::";
}
