using System.CommandLine;
using System.Text;
using System.Text.Json;
using Npgsql;
using PartialReplica.Conjur;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica secret set|get</c>.</summary>
internal sealed class SecretCommand : Command
{
    public SecretCommand()
        : base("secret", "Set or read secret values (encrypted with CONJUR_DATA_KEY in Slosilo's format).")
    {
        Add(new SetCommand());
        Add(new GetCommand());
    }

    private sealed class SetCommand : Command
    {
        private readonly Argument<string> _id = new("id") { Description = "Variable id: prod/db/password or default:variable:prod/db/password." };
        private readonly Option<string?> _value = new("--value") { Description = "The value (UTF-8). Without it the value is read from stdin." };
        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _account = CommonOptions.Account();
        private readonly Option<string?> _key = DataKeyOption.Create();
        private readonly Option<bool> _json = CommonOptions.Json();

        public SetCommand()
            : base("set", "Add a new version of a variable's value on the leader.")
        {
            Add(_id);
            Add(_value);
            Add(_leader);
            Add(_account);
            Add(_key);
            Add(_json);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                var crypto = DataKeyOption.Read(result, _key);
                var id = SecretStore.VariableId(CommonOptions.AccountName(result, _account), result.GetRequiredValue(_id));
                byte[] value;
                if (result.GetValue(_value) is { } text)
                {
                    value = Encoding.UTF8.GetBytes(text);
                }
                else
                {
                    using var stdin = new MemoryStream();
                    await Console.OpenStandardInput().CopyToAsync(stdin, cancellationToken);
                    value = stdin.ToArray();
                }

                await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
                var version = await SecretStore.SetAsync(leader, id, value, crypto, cancellationToken);
                Console.WriteLine(result.GetValue(_json) ? JsonSerializer.Serialize(new { id, version }) : $"{id} version {version} set.");
                return ExitCode.Success;
            }));
        }
    }

    private sealed class GetCommand : Command
    {
        private readonly Argument<string> _id = new("id") { Description = "Variable id." };
        private readonly Option<int?> _version = new("--version") { Description = "A version (default: the newest)." };
        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _db = CommonOptions.FollowerDb();
        private readonly Option<string?> _account = CommonOptions.Account();
        private readonly Option<string?> _key = DataKeyOption.Create();

        public GetCommand()
            : base("get", "Print a variable's value, from the leader, or from a follower with --db.")
        {
            Add(_id);
            Add(_version);
            Add(_leader);
            Add(_db);
            Add(_account);
            Add(_key);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                var crypto = DataKeyOption.Read(result, _key);
                var id = SecretStore.VariableId(CommonOptions.AccountName(result, _account), result.GetRequiredValue(_id));
                var connection = result.GetValue(_db) is not null
                    ? CommonOptions.FollowerConnection(result, _db)
                    : CommonOptions.LeaderConnection(result, _leader);
                await using var database = NpgsqlDataSource.Create(connection);
                var (_, value) = await SecretStore.GetAsync(database, id, result.GetValue(_version), crypto, cancellationToken);
                await using var stdout = Console.OpenStandardOutput();
                await stdout.WriteAsync(value, cancellationToken);
                return ExitCode.Success;
            }));
        }
    }
}
