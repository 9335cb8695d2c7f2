using System.CommandLine;
using System.Text.Json;
using PartialReplica.Leader.Setup;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica setup</c> (F1).</summary>
internal sealed class SetupCommand : Command
{
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _account = CommonOptions.Account();
    private readonly Option<bool> _json = CommonOptions.Json();
    private readonly Option<string?> _relay = CommonOptions.Relay();
    private readonly Option<string?> _key = DataKeyOption.Create();

    public SetupCommand()
        : base("setup", "Prepare the leader: schema, roles, publication, capture trigger, heartbeat, and the relay followers subscribe to; print the admin API key once. Idempotent.")
    {
        Add(_leader);
        Add(_account);
        Add(_relay);
        Add(_key);
        Add(_json);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var options = new SetupOptions
            {
                Account = CommonOptions.AccountName(result, _account),
                RelayConnectionString = CommonOptions.RelayConnection(result, _relay),
                DataKey = DataKeyOption.ReadOptional(result, _key),
            };
            var setup = await new LeaderSetup(CommandRunner.Logging.CreateLogger("setup")).RunAsync(
                CommonOptions.LeaderConnection(result, _leader), options, cancellationToken);
            var relay = setup.Relay!;
            if (result.GetValue(_json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    adminApiKey = setup.AdminApiKey,
                    publishedTables = setup.PublishedTables,
                    relay = new { host = relay.Location.Host, port = relay.Location.Port, database = relay.Location.Database, inLeaderCluster = relay.InLeaderCluster },
                    hbaAdvice = relay.HbaAdvice,
                }));
                return ExitCode.Success;
            }

            Console.WriteLine($"Leader ready: publication {ReplicationRoles.Publication} holds {setup.PublishedTables.Count} tables; {setup.AppliedMigrations.Count} migrations applied now.");
            Console.WriteLine($"Relay: database {relay.Location.Database} on {relay.Location.Host}:{relay.Location.Port}"
                + (relay.InLeaderCluster ? " (in the leader's server; its pg_hba.conf confines follower logins to it)." : " (its own server)."));
            if (relay.HbaAdvice is not null)
            {
                Console.Error.WriteLine("Warning: " + relay.HbaAdvice);
            }

            Console.WriteLine(setup.AdminApiKey is null
                ? "Admin API key: already issued earlier (it is printed only once)."
                : $"Admin API key (shown once, store it now): {setup.AdminApiKey}");
            return ExitCode.Success;
        }));
    }
}
