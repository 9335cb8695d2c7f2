using System.CommandLine;
using System.Text.Json;
using Npgsql;
using PartialReplica.Enrollment;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica follower init|rotate-credentials|remove</c> (F2, S6).</summary>
internal sealed class FollowerCommand : Command
{
    public FollowerCommand()
        : base("follower", "Manage followers.")
    {
        Add(new InitCommand());
        Add(new RotateCredentialsCommand());
        Add(new RemoveCommand());
    }

    private sealed class InitCommand : Command
    {
        private readonly Option<string> _name = new("--name")
        {
            Description = "The follower's Conjur host identifier, e.g. conjur/followers/east-1.",
            Required = true,
        };

        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _db = CommonOptions.FollowerDb();
        private readonly Option<string?> _account = CommonOptions.Account();
        private readonly Option<bool> _json = CommonOptions.Json();
        private readonly Option<string?> _agentUrl = new("--agent-url") { Description = "Where this follower's agent listens (recorded for pushes)." };
        private readonly Option<string?> _publisherHost = new("--publisher-host") { Description = "The relay's host as the follower's server reaches it (default: as this process does)." };
        private readonly Option<int?> _publisherPort = new("--publisher-port") { Description = "The relay's port as the follower's server reaches it." };
        private readonly Option<string?> _relay = CommonOptions.Relay();
        private readonly Option<string?> _key = DataKeyOption.Create();

        public InitCommand()
            : base("init", "Make a database a follower: schema, registration, its own login and slot on the relay, subscription; print the host's API key once. Idempotent.")
        {
            Add(_name);
            Add(_leader);
            Add(_db);
            Add(_account);
            Add(_agentUrl);
            Add(_publisherHost);
            Add(_publisherPort);
            Add(_relay);
            Add(_key);
            Add(_json);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                await using var follower = NpgsqlDataSource.Create(CommonOptions.FollowerConnection(result, _db));
                var options = new FollowerInitOptions
                {
                    Name = result.GetRequiredValue(_name),
                    Account = CommonOptions.AccountName(result, _account),
                    AgentUrl = result.GetValue(_agentUrl),
                    PublisherHost = result.GetValue(_publisherHost),
                    PublisherPort = result.GetValue(_publisherPort),
                    RelayConnectionString = CommonOptions.RelayConnection(result, _relay),
                    DataKey = DataKeyOption.ReadOptional(result, _key),
                };
                var init = await new FollowerInit(CommandRunner.Logging.CreateLogger("follower")).RunAsync(
                    CommonOptions.LeaderConnection(result, _leader), follower, options, cancellationToken);
                if (result.GetValue(_json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(new { name = init.Name, apiKey = init.ApiKey, slot = init.SlotName }));
                    return ExitCode.Success;
                }

                Console.WriteLine($"Follower {init.Name} subscribed through slot {init.SlotName} (role {init.RoleId}).");
                Console.WriteLine(init.ApiKey is null
                    ? "API key: already issued earlier (it is printed only once)."
                    : $"API key (shown once, store it now): {init.ApiKey}");
                return ExitCode.Success;
            }));
        }
    }

    private sealed class RotateCredentialsCommand : Command
    {
        private readonly Option<string> _name = new("--name") { Description = "The follower's Conjur host identifier.", Required = true };
        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _db = CommonOptions.FollowerDb();
        private readonly Option<string?> _relay = CommonOptions.Relay();

        public RotateCredentialsCommand()
            : base("rotate-credentials", "Give the follower's replication login on the relay a new password and its subscription the new connection.")
        {
            Add(_name);
            Add(_leader);
            Add(_db);
            Add(_relay);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                await using var follower = NpgsqlDataSource.Create(CommonOptions.FollowerConnection(result, _db));
                var name = result.GetRequiredValue(_name);
                await new FollowerCredentials(CommandRunner.Logging.CreateLogger("follower")).RotateAsync(
                    CommonOptions.LeaderConnection(result, _leader), follower, name, CommonOptions.RelayConnection(result, _relay), cancellationToken);
                Console.WriteLine($"Follower {name}: new replication password set on the relay and in its subscription (stored nowhere else).");
                return ExitCode.Success;
            }));
        }
    }

    private sealed class RemoveCommand : Command
    {
        private readonly Option<string> _name = new("--name") { Description = "The follower's Conjur host identifier.", Required = true };
        private readonly Option<string?> _leader = CommonOptions.Leader();
        private readonly Option<string?> _db = new("--db", "--follower-db")
        {
            Description = "The follower's database, whose subscription is dropped too (env PARTIALREPLICA_FOLLOWER_DB; optional).",
        };

        private readonly Option<string?> _relay = CommonOptions.Relay();

        public RemoveCommand()
            : base("remove", "Remove a follower: its subscription (with --db), its slot and login on the relay, its registration. Its host role stays.")
        {
            Add(_name);
            Add(_leader);
            Add(_db);
            Add(_relay);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                var db = result.GetValue(_db) ?? Environment.GetEnvironmentVariable("PARTIALREPLICA_FOLLOWER_DB");
                await using var follower = db is { Length: > 0 } ? NpgsqlDataSource.Create(CommonOptions.FollowerConnection(result, _db)) : null;
                var name = result.GetRequiredValue(_name);
                await new FollowerCredentials(CommandRunner.Logging.CreateLogger("follower")).RemoveAsync(
                    CommonOptions.LeaderConnection(result, _leader), follower, name, CommonOptions.RelayConnection(result, _relay), cancellationToken);
                Console.WriteLine($"Follower {name} removed: its slot and login on the relay are dropped and it is no longer registered.");
                return ExitCode.Success;
            }));
        }
    }
}
