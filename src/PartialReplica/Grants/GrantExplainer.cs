using System.Data;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>
/// Explains the grant rule (SPEC F4, F12) for one follower and one variable. The verdicts are the rule's own
/// answers, from the functions the push path and the agents call (baselines 0001/0002): overall
/// <c>granted_among</c> (the agent's admission check; the materialised grant table is <c>granted_variables</c>,
/// built on the same pieces); per set, <c>follower_replica_sets</c> (F can replicate the set's webservice) and
/// <c>set_variables</c> (the set carries V). The chain is a witness for those verdicts, walked over the same
/// edges the rule's <c>all_roles</c> follows (role_memberships, member to role) and the same permissions; a walk
/// that disagrees with a verdict is a bug and throws rather than explaining something the rule did not decide.
/// Everything is read in one read-only snapshot.
/// </summary>
public static class GrantExplainer
{
    private const string SetsPrefix = ":webservice:conjur/replication-sets/";

    // Every replica set of the follower's account (the webservice directly under conjur/replication-sets/),
    // with the rule's two per-set answers.
    private const string SetsSql = """
        WITH account AS (SELECT split_part($1, ':', 1) || ':webservice:conjur/replication-sets/' AS prefix),
        replicable AS MATERIALIZED (SELECT s.set_id FROM partial_replica.follower_replica_sets($1) s),
        sets AS (
            SELECT r.resource_id AS set_id FROM resources r, account a
             WHERE starts_with(r.resource_id, a.prefix) AND position('/' IN substr(r.resource_id, length(a.prefix) + 1)) = 0
            UNION
            SELECT replicable.set_id FROM replicable)
        SELECT sets.set_id,
               EXISTS (SELECT 1 FROM replicable WHERE replicable.set_id = sets.set_id),
               EXISTS (SELECT 1 FROM partial_replica.set_variables(sets.set_id) v WHERE v.resource_id = $2)
          FROM sets ORDER BY sets.set_id COLLATE "C"
        """;

    /// <summary>
    /// Explains whether follower <paramref name="followerName"/> receives <paramref name="variable"/> (a full
    /// variable id, or an identifier within <paramref name="account"/>).
    /// </summary>
    public static async Task<ExplainResult> ExplainAsync(
        NpgsqlConnection leader, string account, string followerName, string variable, CancellationToken cancellationToken)
    {
        var variableId = VariableId(account, variable);
        await using var transaction = await leader.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await leader.ExecuteAsync("SET TRANSACTION READ ONLY", cancellationToken);

        var follower = await leader.ScalarAsync<string>(
            "SELECT role_id FROM partial_replica.followers WHERE name = $1", cancellationToken, followerName);
        if (follower is null)
        {
            return new ExplainResult.UnknownFollower(followerName);
        }

        if (!await leader.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM resources WHERE resource_id = $1)", cancellationToken, variableId))
        {
            return new ExplainResult.UnknownVariable(variableId);
        }

        var granted = await leader.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM partial_replica.granted_among($1, ARRAY[$2]))", cancellationToken, follower, variableId);
        var sets = new List<(string SetId, bool Replicates, bool Carries)>();
        await using (var command = ConnectionExtensions.Command(leader, SetsSql, follower, variableId))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                sets.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2)));
            }
        }

        var walker = new MembershipWalker(leader);
        var explained = new List<ReplicaSetExplanation>();
        foreach (var (setId, replicates, carries) in sets)
        {
            explained.Add(await ExplainSetAsync(walker, follower, variableId, setId, replicates, carries, cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
        if (granted != explained.Any(s => s.Granted))
        {
            throw new InvalidOperationException(
                $"granted_among says {granted} for {follower} and {variableId}, but the replica sets say {!granted}: the grant rule's pieces disagree.");
        }

        return new ExplainResult.Explained(new GrantExplanation(follower, variableId, granted, explained));
    }

    /// <summary>A full variable id, or <c>account:variable:identifier</c> for a bare identifier.</summary>
    public static string VariableId(string account, string variable)
    {
        if (string.IsNullOrWhiteSpace(variable))
        {
            throw new PartialReplicaException("A variable is required: its full id (default:variable:apps/db/password) or its identifier.");
        }

        if (!variable.Contains(':', StringComparison.Ordinal))
        {
            return new ConjurId(account, "variable", variable).ToString();
        }

        var id = ConjurId.Parse(variable);
        return id.Kind == "variable"
            ? id.ToString()
            : throw new PartialReplicaException($"'{variable}' is a {id.Kind}, not a variable; explain takes a variable id.");
    }

    private static async Task<ReplicaSetExplanation> ExplainSetAsync(
        MembershipWalker walker, string follower, string variableId, string setId, bool replicates, bool carries, CancellationToken cancellationToken)
    {
        var account = setId[..setId.IndexOf(':', StringComparison.Ordinal)];
        var name = setId[(account.Length + SetsPrefix.Length)..];
        var chain = new List<string>();

        // Link 1: the follower reaches a role that may replicate the set's webservice.
        var replicators = await walker.HoldersAsync(setId, "replicate", cancellationToken);
        var toReplicator = await walker.PathAsync(follower, replicators, cancellationToken);
        if ((toReplicator is not null) != replicates)
        {
            throw Disagreement(follower, setId, "follower_replica_sets", replicates);
        }

        if (toReplicator is null)
        {
            var layer = $"{account}:layer:conjur/replication-sets/{name}/followers";
            return new ReplicaSetExplanation(name, false, chain, replicators.Count == 0
                ? $"no role may replicate {setId}"
                : replicators.Contains(layer, StringComparer.Ordinal)
                    ? $"{follower} is not a member of {layer}"
                    : NotAMember(follower, replicators, $"replicate {setId}"));
        }

        chain.AddRange(toReplicator.Steps);
        chain.Add($"{toReplicator.End} may replicate {setId}");

        // Link 2: the set carries the variable: 'full' carries every variable of its account; any other set what
        // its replicated-data group reaches a role that may execute.
        if (!variableId.StartsWith(account + ":variable:", StringComparison.Ordinal))
        {
            return Checked(new ReplicaSetExplanation(name, false, chain, $"a replica set carries only variables of its own account, {account}"), carries, follower, setId);
        }

        if (name == "full")
        {
            chain.Add($"the replica set full carries every variable of account {account}");
            return Checked(new ReplicaSetExplanation(name, true, chain, null), carries, follower, setId);
        }

        var replicatedData = $"{account}:group:conjur/replication-sets/{name}/replicated-data";
        var executors = await walker.HoldersAsync(variableId, "execute", cancellationToken);
        var toExecutor = await walker.PathAsync(replicatedData, executors, cancellationToken);
        if (toExecutor is null)
        {
            var missing = executors.Count == 0
                ? $"no role may execute {variableId}"
                : NotAMember(replicatedData, executors, $"execute {variableId}");
            return Checked(new ReplicaSetExplanation(name, false, chain, missing), carries, follower, setId);
        }

        chain.AddRange(toExecutor.Steps);
        chain.Add($"{toExecutor.End} may execute {variableId}");
        return Checked(new ReplicaSetExplanation(name, true, chain, null), carries, follower, setId);
    }

    private static ReplicaSetExplanation Checked(ReplicaSetExplanation set, bool carries, string follower, string setId) =>
        set.Granted == carries ? set : throw Disagreement(follower, setId, "set_variables", carries);

    private static InvalidOperationException Disagreement(string follower, string setId, string function, bool said) =>
        new($"{function} says {said} for {follower} and {setId}, but the membership walk says {!said}: explain and the grant rule disagree.");

    private static string NotAMember(string member, IReadOnlyList<string> roles, string what)
    {
        const int Shown = 5;
        return roles.Count == 1
            ? $"{member} is not a member of {roles[0]}, which may {what}"
            : $"{member} is not a member of any role that may {what} ({string.Join(", ", roles.Take(Shown))}{(roles.Count > Shown ? ", …" : "")})";
    }
}
