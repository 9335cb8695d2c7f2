using System.CommandLine;
using System.Text.Json;
using Npgsql;
using PartialReplica.Setup;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica setup</c> (F1).</summary>
internal sealed class SetupCommand : Command
{
    private readonly Option<string?> _leader = CommonOptions.Leader();
    private readonly Option<string?> _account = CommonOptions.Account();
    private readonly Option<bool> _json = CommonOptions.Json();
    private readonly Option<string?> _subscriberPassword = new("--subscriber-password")
    {
        Description = "Password for partial_replica_subscriber (generated and kept on the leader when omitted).",
    };

    public SetupCommand()
        : base("setup", "Prepare the leader: schema, roles, publication, capture trigger, heartbeat; print the admin API key once. Idempotent.")
    {
        Add(_leader);
        Add(_account);
        Add(_subscriberPassword);
        Add(_json);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var leader = NpgsqlDataSource.Create(CommonOptions.LeaderConnection(result, _leader));
            var options = new SetupOptions
            {
                Account = CommonOptions.AccountName(result, _account),
                SubscriberPassword = result.GetValue(_subscriberPassword)
                    ?? Environment.GetEnvironmentVariable("PARTIALREPLICA_SUBSCRIBER_PASSWORD"),
            };
            var setup = await new LeaderSetup(CommandRunner.Logging.CreateLogger("setup")).RunAsync(leader, options, cancellationToken);
            if (result.GetValue(_json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { adminApiKey = setup.AdminApiKey, publishedTables = setup.PublishedTables }));
                return ExitCode.Success;
            }

            Console.WriteLine($"Leader ready: publication {ReplicationRoles.Publication} holds {setup.PublishedTables.Count} tables; {setup.AppliedMigrations.Count} migrations applied now.");
            Console.WriteLine(setup.AdminApiKey is null
                ? "Admin API key: already issued earlier (it is printed only once)."
                : $"Admin API key (shown once, store it now): {setup.AdminApiKey}");
            return ExitCode.Success;
        }));
    }
}
