using System.CommandLine;
using System.Text;
using Npgsql;
using PartialReplica.Grants;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica explain --follower F --variable V [--json]</c> (SPEC F12).</summary>
internal sealed class ExplainCommand : Command
{
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _account = CommonOptions.Account();
    private readonly Option<bool> _json = CommonOptions.Json();
    private readonly Option<string> _follower = new("--follower")
    {
        Description = "The follower's name (its host identifier, e.g. conjur/followers/east-1).",
        Required = true,
    };

    private readonly Option<string> _variable = new("--variable")
    {
        Description = "The variable: its full id (default:variable:apps/db/password) or its identifier in --account.",
        Required = true,
    };

    public ExplainCommand()
        : base("explain", "Why a follower does or does not receive a variable: per replica set, the role memberships and permissions that grant it, or the nearest missing link. Never reads a secret value.")
    {
        Add(_follower);
        Add(_variable);
        Add(_leader);
        Add(_account);
        Add(_json);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            await using var connection = await leader.OpenConnectionAsync(cancellationToken);
            var answer = await GrantExplainer.ExplainAsync(connection, CommonOptions.AccountName(result, _account),
                result.GetValue(_follower)!, result.GetValue(_variable)!, cancellationToken);
            var explanation = answer switch
            {
                ExplainResult.Explained e => e.Explanation,
                ExplainResult.UnknownFollower u => throw new PartialReplicaException(u.Message),
                ExplainResult.UnknownVariable u => throw new PartialReplicaException(u.Message),
                _ => throw new InvalidOperationException($"Unexpected explain result {answer.GetType().Name}."),
            };
            Console.Write(result.GetValue(_json) ? explanation.ToJson() + "\n" : ToText(explanation));
            return ExitCode.Success;
        }));
    }

    /// <summary>The verdict, then each replica set with its numbered chain or its missing link.</summary>
    public static string ToText(GrantExplanation explanation)
    {
        var text = new StringBuilder();
        var through = explanation.ReplicaSets.Where(s => s.Granted).Select(s => s.Name).ToList();
        text.Append($"{explanation.Follower} {(explanation.Granted ? "receives" : "does not receive")} {explanation.Variable}");
        text.Append(explanation.Granted ? $" (through {string.Join(", ", through)}).\n" : ".\n");
        if (explanation.ReplicaSets.Count == 0)
        {
            text.Append("No replica set is defined (policy branch conjur/replication-sets/<name>).\n");
        }

        foreach (var set in explanation.ReplicaSets)
        {
            text.Append($"\n{set.Name}: {(set.Granted ? "granted" : "not granted")}\n");
            for (var i = 0; i < set.Chain.Count; i++)
            {
                text.Append($"  {i + 1}. {set.Chain[i]}\n");
            }

            if (set.Missing is { } missing)
            {
                text.Append($"  missing: {missing}\n");
            }
        }

        return text.ToString();
    }
}
