using System.CommandLine;
using System.Text.Json;
using Npgsql;
using PartialReplica.Followers;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica follower init</c> (F2).</summary>
internal sealed class FollowerCommand : Command
{
    public FollowerCommand()
        : base("follower", "Manage followers.")
    {
        Add(new InitCommand());
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
        private readonly Option<string?> _publisherHost = new("--publisher-host") { Description = "The leader's host as the follower's server reaches it (default: as this process does)." };
        private readonly Option<int?> _publisherPort = new("--publisher-port") { Description = "The leader's port as the follower's server reaches it." };

        public InitCommand()
            : base("init", "Make a database a follower: schema, subscription with its own slot, registration; print the host's API key once. Idempotent.")
        {
            Add(_name);
            Add(_leader);
            Add(_db);
            Add(_account);
            Add(_agentUrl);
            Add(_publisherHost);
            Add(_publisherPort);
            Add(_json);
            SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
            {
                await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
                await using var follower = NpgsqlDataSource.Create(CommonOptions.FollowerConnection(result, _db));
                var options = new FollowerInitOptions
                {
                    Name = result.GetRequiredValue(_name),
                    Account = CommonOptions.AccountName(result, _account),
                    AgentUrl = result.GetValue(_agentUrl),
                    PublisherHost = result.GetValue(_publisherHost),
                    PublisherPort = result.GetValue(_publisherPort),
                };
                var init = await new FollowerInit(CommandRunner.Logging.CreateLogger("follower")).RunAsync(leader, follower, options, cancellationToken);
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
}
