using System.CommandLine;
using Npgsql;
using PartialReplica.Policies;
using PartialReplica.Tooling.Samples;
using Spectre.Console;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica load</c>: N sample variables with random values (rake's partial_replication:load_data).</summary>
internal sealed class LoadCommand : Command
{
    private readonly Option<int> _count = new("--count", "-n") { Description = "How many variables.", DefaultValueFactory = _ => 1000 };
    private readonly Option<string> _prefix = new("--prefix") { Description = "Policy branch the variables go in.", DefaultValueFactory = _ => "samples" };
    private readonly Option<string[]> _sets = new("--replica-set") { Description = "Replica set(s) whose replicated-data may execute them.", AllowMultipleArgumentsPerToken = true };
    private readonly Option<int> _bytes = new("--value-bytes") { Description = "Random bytes per value.", DefaultValueFactory = _ => 32 };
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _account = CommonOptions.Account();
    private readonly Option<string?> _key = DataKeyOption.Create();

    public LoadCommand()
        : base("load", "Create N sample variables by policy and give each a random value encrypted with CONJUR_DATA_KEY.")
    {
        Add(_count);
        Add(_prefix);
        Add(_sets);
        Add(_bytes);
        Add(_leader);
        Add(_account);
        Add(_key);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var count = result.GetValue(_count);
            if (count is < 1 or > 1_000_000)
            {
                throw new PartialReplicaException("--count must be between 1 and 1000000.");
            }

            var crypto = DataKeyOption.Read(result, _key);
            var account = CommonOptions.AccountName(result, _account);
            var prefix = result.GetRequiredValue(_prefix).Trim('/');
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            var ids = SampleData.Identifiers(prefix, count).Select(i => $"{account}:variable:{i}").ToList();
            await AnsiConsole.Progress().StartAsync(async progress =>
            {
                var define = progress.AddTask("define variables by policy", maxValue: 1);
                await new PolicyLoader(CommandRunner.Logging.CreateLogger("load")).LoadAsync(leader, new PolicyLoadRequest
                {
                    PolicyText = SampleData.Policy(prefix, count, result.GetValue(_sets) ?? []),
                    FileName = "samples.yml",
                    Account = account,
                    Branch = "root",
                    Mode = PolicyMode.Load,
                    DataKey = crypto,
                }, cancellationToken);
                define.Value = 1;
                var values = progress.AddTask("encrypt and insert values", maxValue: count);
                await SampleData.InsertValuesAsync(leader, ids, result.GetValue(_bytes), crypto,
                    new Progress<int>(done => values.Value = done), cancellationToken);
                values.Value = count;
            });
            Console.WriteLine($"Loaded {count} variables under {prefix}/ with values.");
            return ExitCode.Success;
        }));
    }
}
