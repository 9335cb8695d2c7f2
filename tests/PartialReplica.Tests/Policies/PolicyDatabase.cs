using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>One shared set of servers for the policy and replica-set tests; each test makes its own database.</summary>
[CollectionDefinition(Name)]
public sealed class PolicyCollection : ICollectionFixture<ReplicationFixture>
{
    public const string Name = "Policies";
}

/// <summary>
/// A set-up leader database on the fixture's leader server (policy tests need no subscriptions, so many
/// leaders share one server), and short forms for loading policies and registering followers.
/// </summary>
internal sealed class PolicyDatabase
{
    private PolicyDatabase(string connectionString)
    {
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string ConnectionString { get; }

    /// <summary>Pooled for the test's lifetime (the fixture drops the database with its server).</summary>
    public NpgsqlDataSource DataSource { get; }

    public static async Task<PolicyDatabase> CreateAsync(ReplicationFixture fixture)
    {
        var connectionString = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "policy");
        // A policy store with no followers: no relay.
        await new LeaderSetup(NullLogger.Instance).RunAsync(connectionString, new SetupOptions { DataKey = TestDataKey.Key, CreateRelay = false }, CancellationToken.None);
        return new PolicyDatabase(connectionString);
    }

    public async Task<PolicyLoadResult> LoadAsync(
        string yaml, PolicyMode mode = PolicyMode.Load, string branch = "root", bool dryRun = false, string file = "policy.yml")
    {
        return await new PolicyLoader(NullLogger.Instance).LoadAsync(DataSource, new PolicyLoadRequest
        {
            DataKey = TestDataKey.Key,
            PolicyText = yaml, Mode = mode, Branch = branch, DryRun = dryRun, FileName = file,
        }, CancellationToken.None);
    }

    /// <summary>Registers a follower as follower init does on the leader (no subscription needed here).</summary>
    public Task RegisterFollowerAsync(string name) =>
        Db.ExecuteAsync(ConnectionString,
            "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
            name, "default:host:" + name, "pr_" + new string(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray()));

    public Task<List<string>> GrantedAsync(string followerName) =>
        Db.ColumnAsync(ConnectionString,
            "SELECT resource_id FROM partial_replica.granted_variables($1) ORDER BY resource_id COLLATE \"C\"", "default:host:" + followerName);

    public Task<List<string>> MaterialisedAsync(string followerName) =>
        Db.ColumnAsync(ConnectionString,
            "SELECT resource_id FROM partial_replica.granted WHERE follower_role_id = $1 ORDER BY resource_id", "default:host:" + followerName);

    /// <summary>A digest of every Conjur row a policy can touch, to prove that nothing changed.</summary>
    public Task<string?> SnapshotAsync() =>
        Db.ScalarAsync<string>(ConnectionString, """
            SELECT md5(concat_ws('|',
                (SELECT string_agg(role_id || ',' || coalesce(policy_id, ''), ';' ORDER BY role_id) FROM roles),
                (SELECT string_agg(resource_id || ',' || owner_id, ';' ORDER BY resource_id) FROM resources),
                (SELECT string_agg(role_id || ',' || member_id || ',' || ownership, ';' ORDER BY 1) FROM role_memberships),
                (SELECT string_agg(privilege || ',' || resource_id || ',' || role_id, ';' ORDER BY 1) FROM permissions),
                (SELECT string_agg(resource_id || ',' || name || ',' || value, ';' ORDER BY 1) FROM annotations),
                (SELECT count(*) FROM policy_versions), (SELECT count(*) FROM policy_log),
                (SELECT count(*) FROM credentials), (SELECT count(*) FROM partial_replica.changes),
                (SELECT count(*) FROM partial_replica.granted)))
            """);

    /// <summary>The repository's <c>policies/</c> file of that name.</summary>
    public static string RepositoryPolicy(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "policies", name);
            if (File.Exists(path))
            {
                return File.ReadAllText(path);
            }
        }

        throw new FileNotFoundException($"policies/{name} not found above {AppContext.BaseDirectory}");
    }
}
