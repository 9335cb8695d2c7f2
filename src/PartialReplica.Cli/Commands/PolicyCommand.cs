using System.CommandLine;
using System.Text.Json;
using Npgsql;
using PartialReplica.Policies;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica policy load|replace|update FILE --branch ID [--dry-run] [--json]</c> (F3).</summary>
internal sealed class PolicyCommand : Command
{
    public PolicyCommand()
        : base("policy", "Load Conjur policy YAML into a branch of the leader (one transaction; recorded in policy_versions and policy_log).")
    {
        Add(new PolicyModeCommand("load", PolicyMode.Load, "Add the file's records and statements; delete nothing (Conjur's POST)."));
        Add(new PolicyModeCommand("replace", PolicyMode.Replace, "Make the branch what the file says: delete what it omits in the branch and its sub-branches (Conjur's PUT)."));
        Add(new PolicyModeCommand("update", PolicyMode.Update, "Add and update; delete only through !delete, !revoke and !deny (Conjur's PATCH)."));
    }

    private sealed class PolicyModeCommand : Command
    {
        private readonly Argument<FileInfo> _file = new("FILE") { Description = "The policy YAML file ('-' for standard input)." };
        private readonly Option<string> _branch = new("--branch", "-b")
        {
            Description = "The branch to load into: root or a policy id such as conjur/replication-sets/east.",
            DefaultValueFactory = _ => "root",
        };
        private readonly Option<bool> _dryRun = new("--dry-run") { Description = "Compute and report everything, then roll back." };
        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _account = CommonOptions.Account();
        private readonly Option<bool> _json = CommonOptions.Json();
        private readonly Option<string?> _key = DataKeyOption.Create();

        public PolicyModeCommand(string name, PolicyMode mode, string description)
            : base(name, description)
        {
            Add(_file);
            Add(_branch);
            Add(_dryRun);
            Add(_leader);
            Add(_account);
            Add(_key);
            Add(_json);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                var file = result.GetValue(_file)!;
                var text = await ReadPolicyAsync(file, cancellationToken);

                await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
                var load = await new PolicyLoader(CommandRunner.Logging.CreateLogger("policy")).LoadAsync(leader, new PolicyLoadRequest
                {
                    PolicyText = text,
                    FileName = file.Name == "-" ? "stdin" : file.ToString(),
                    Account = CommonOptions.AccountName(result, _account),
                    Branch = result.GetValue(_branch)!,
                    Mode = mode,
                    DryRun = result.GetValue(_dryRun),
                    DataKey = DataKeyOption.ReadOptional(result, _key),
                }, cancellationToken);

                if (result.GetValue(_json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(load));
                    return ExitCode.Success;
                }

                Console.WriteLine($"{(load.DryRun ? "Dry run (nothing kept): " : "")}policy {name} into {result.GetValue(_branch)}: version {load.Version}.");
                foreach (var role in load.CreatedRoles.Values)
                {
                    Console.WriteLine(role.ApiKey is null ? $"  would create {role.Id}" : $"  created {role.Id}, API key (shown once): {role.ApiKey}");
                }

                foreach (var change in load.GrantChanges)
                {
                    Console.WriteLine($"  follower {change.Follower}: +{change.Added.Count} -{change.Removed.Count} granted variables");
                }

                return ExitCode.Success;
            }));
        }

        /// <summary>Reads the file (or standard input) under the policy size limit the HTTP API applies too.</summary>
        private static async Task<string> ReadPolicyAsync(FileInfo file, CancellationToken cancellationToken)
        {
            if (file.Name == "-")
            {
                return await PolicyLimits.ReadAsync(Console.OpenStandardInput(), "The policy on standard input", cancellationToken);
            }

            try
            {
                if (file.Exists && file.Length > PolicyLimits.MaxPolicyBytes)
                {
                    throw new PartialReplicaException(PolicyLimits.TooLargeMessage($"Policy file {file} ({file.Length} bytes)"));
                }

                await using var stream = file.OpenRead();
                return await PolicyLimits.ReadAsync(stream, $"Policy file {file}", cancellationToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PartialReplicaException($"Cannot read policy file {file}: {e.Message}");
            }
        }
    }
}
