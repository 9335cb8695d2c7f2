using Npgsql;
using PartialReplica.Enrollment;
using PartialReplica.Follower;
using PartialReplica.Grants;
using PartialReplica.Leader.Edge;
using PartialReplica.Policies;
using PartialReplica.Schema;
using PartialReplica.Status;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// Issue 24: the one grant reader (<see cref="GrantedSecretsReader"/>, over the materialised grant table) agrees with
/// the rule <c>granted_variables()</c> after grants and revokes written with plain SQL, as Conjur's loader writes them,
/// and by policy; and every consumer reads the same set: the push's pages, the Edge's pages, count and delta states,
/// status, the admin directory and verification.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class GrantedSecretsReaderTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";
    private const string ReportsKey = "default:variable:apps/inventory/reports/key";
    private const string WestFollowers = "default:layer:conjur/replication-sets/west/followers";
    private const string WestHosts = "default:layer:conjur/followers/west-hosts";
    private const string WestData = "default:group:conjur/replication-sets/west/replicated-data";

    [Fact]
    public async Task Every_consumer_reads_the_rule_after_plain_sql_and_policy_grant_changes()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        foreach (var follower in new[] { East, West })
        {
            await db.RegisterFollowerAsync(follower);
            await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO partial_replica.delivery (follower) VALUES ($1)", follower);
        }

        // Every variable has a value but one; one has two versions; one with an expiry.
        await Db.ExecuteAsync(db.ConnectionString, """
            INSERT INTO secrets (resource_id, value)
            SELECT resource_id, convert_to(resource_id, 'UTF8') FROM resources
             WHERE kind(resource_id) = 'variable' AND resource_id <> $1
            """, ReportsKey);
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO secrets (resource_id, value, expires_at) VALUES ($1, '\\x0002'::bytea, '2030-01-02 03:04:05')", BillingDb);
        await AssertAgreeAsync(db, "after the policy load");
        Assert.NotEmpty(await db.GrantedAsync(East));
        Assert.NotEmpty(await db.GrantedAsync(West));

        // Conjur's loader style, each its own transaction: a permission inserted (grant to west), a membership deleted
        // (revoke from west), a value given to the variable that had none, and a variable deleted (its permissions cascade).
        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO permissions (privilege, resource_id, role_id, policy_id) VALUES ('execute', $1, $2, 'default:policy:root')", ReportsKey, WestData);
        await AssertAgreeAsync(db, "after a permission inserted");
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x03'::bytea)", ReportsKey);
        await AssertAgreeAsync(db, "after a value given");
        await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2", WestFollowers, WestHosts);
        await AssertAgreeAsync(db, "after a membership deleted");
        Assert.Empty(await db.GrantedAsync(West));
        await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM resources WHERE resource_id = $1", BillingDb);
        await AssertAgreeAsync(db, "after a variable deleted");

        // By policy: west back in its set, a new variable for everyone in 'west'.
        await db.LoadAsync($"""
            - !variable apps/inventory/late
            - !grant
              role: !layer conjur/replication-sets/west/followers
              member: !host {West}
            - !permit
              role: !group conjur/replication-sets/west/replicated-data
              privilege: execute
              resource: !variable apps/inventory/late
            """, PolicyMode.Update);
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:apps/inventory/late', '\\x04'::bytea)");
        await AssertAgreeAsync(db, "after a policy update");
        Assert.Contains("default:variable:apps/inventory/late", await db.GrantedAsync(West));

        // Values taken away with plain SQL: every version of one variable (it counts again as without value), then all.
        await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM secrets WHERE resource_id = $1", ReportsKey);
        await AssertAgreeAsync(db, "after a variable's every version deleted");
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x05'::bytea)", ReportsKey);
        await AssertAgreeAsync(db, "after a value given again");
        await Db.ExecuteAsync(db.ConnectionString, "TRUNCATE secrets");
        await AssertAgreeAsync(db, "after secrets truncated");
        Assert.Equal(0, await EdgeFullPull.CountAsync(db.DataSource, "default:host:" + East, CancellationToken.None));
    }

    /// <summary>
    /// The variables without a value (<c>partial_replica.unset_variables</c>, by which counts are made) stay exact when
    /// one session deletes a variable's last version while another inserts a new one, in either order: the second
    /// waits for the first (the variable's row lock), then judges with what the first committed.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_last_version_deleted_while_another_is_inserted_leaves_the_variable_counted_with_its_value(bool deleteFirst)
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        await db.RegisterFollowerAsync(East);
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO partial_replica.delivery (follower) VALUES ($1)", East);
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x01'::bytea)", BillingDb);
        Assert.DoesNotContain(BillingDb, await UnsetAsync(db));

        await using var deleter = await db.DataSource.OpenConnectionAsync();
        await using var inserter = await db.DataSource.OpenConnectionAsync();
        await using var deleting = await deleter.BeginTransactionAsync();
        await using var inserting = await inserter.BeginTransactionAsync();
        var (first, firstSql, second, secondSql) = deleteFirst
            ? (deleter, "DELETE FROM secrets WHERE resource_id = $1", inserter, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x02'::bytea)")
            : (inserter, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x02'::bytea)", deleter, "DELETE FROM secrets WHERE resource_id = $1 AND version = 1");
        await first.ExecuteAsync(firstSql, CancellationToken.None, BillingDb);
        var blocked = second.ExecuteAsync(secondSql, CancellationToken.None, BillingDb);
        var secondPid = second.ProcessID;
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<bool>(db.ConnectionString,
                "SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1), false)", secondPid),
            "the second session waits for the first's lock on the variable");
        Assert.False(blocked.IsCompleted);
        await (deleteFirst ? deleting : inserting).CommitAsync();
        await blocked;
        await (deleteFirst ? inserting : deleting).CommitAsync();

        // Either way one version remains (the inserted one) and the variable is not among those without a value.
        Assert.Equal(1, await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM secrets WHERE resource_id = $1", BillingDb));
        Assert.DoesNotContain(BillingDb, await UnsetAsync(db));
        await AssertAgreeAsync(db, deleteFirst ? "after a delete then a concurrent insert" : "after an insert then a concurrent delete", [East]);
    }

    private static Task<List<string>> UnsetAsync(PolicyDatabase db) =>
        Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM partial_replica.unset_variables");

    /// <summary>For each follower: the rule, the materialised table and every consumer name the same variables.</summary>
    private static async Task AssertAgreeAsync(PolicyDatabase db, string when, string[]? followers = null)
    {
        var everyVariable = await Db.ColumnAsync(db.ConnectionString,
            "SELECT resource_id FROM resources WHERE kind(resource_id) = 'variable' ORDER BY resource_id COLLATE \"C\"");
        var withValues = (await Db.ColumnAsync(db.ConnectionString, "SELECT DISTINCT resource_id FROM secrets")).ToHashSet(StringComparer.Ordinal);
        // Status's leader columns are what is compared; each agent's own counts are not asked (there is no agent here).
        var status = (await new StatusReader(db.DataSource, (_, _) => Task.FromResult(new LocalStatus(0, "none"))).ReadAsync(CancellationToken.None))
            .ToDictionary(row => row.Name, StringComparer.Ordinal);
        var reader = new GrantedSecretsReader(db.DataSource);
        await using var connection = await db.DataSource.OpenConnectionAsync();

        // The variables counted as without a value are exactly those with no version.
        Assert.Equal(everyVariable.Where(id => !withValues.Contains(id)).Order(StringComparer.Ordinal),
            (await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM partial_replica.unset_variables")).Order(StringComparer.Ordinal));

        foreach (var follower in followers ?? [East, West])
        {
            var role = "default:host:" + follower;
            var rule = await db.GrantedAsync(follower);
            var secrets = rule.Where(withValues.Contains).ToList();

            // Push: every granted variable, with or without value, in pages of two.
            var pushed = new List<string>();
            var pushedVersions = new Dictionary<string, string>(StringComparer.Ordinal);
            while (true)
            {
                var page = await reader.ReadPushPageAsync(role, pushed.Count == 0 ? "" : pushed[^1], 2, new PageReads(rangeAllowed: false), CancellationToken.None);
                if (page.Count == 0)
                {
                    break;
                }

                pushed.AddRange(page.Select(state => state.Id));
                foreach (var state in page)
                {
                    pushedVersions[state.Id] = Describe(state.Versions);
                }
            }

            Assert.True(rule.SequenceEqual(pushed), $"{when}, {follower}: push pages {string.Join(",", pushed)} vs rule {string.Join(",", rule)}");
            var changes = await GrantedSecretsReader.ReadPushStatesAsync(connection, role, everyVariable, new HashSet<string>(StringComparer.Ordinal), CancellationToken.None);
            Assert.Equal(rule, changes.Select(state => state.Id).Order(StringComparer.Ordinal));

            // Edge: keyset pages of two, and an offset page, carry the granted variables with values, versions as the push's.
            var pulled = new List<GrantedSecret>();
            while (true)
            {
                var page = await EdgeFullPull.PageAsync(db.DataSource, role, new GrantedPage(2, After: pulled.Count == 0 ? null : pulled[^1].Id), CancellationToken.None);
                if (page.Count == 0)
                {
                    break;
                }

                pulled.AddRange(page);
            }

            Assert.Equal(secrets, pulled.Select(secret => secret.Id));
            Assert.All(pulled, secret => Assert.Equal(pushedVersions[secret.Id], Describe(secret.Versions)));
            Assert.Equal(secrets.Skip(1), (await EdgeFullPull.PageAsync(db.DataSource, role, new GrantedPage(100, 1), CancellationToken.None)).Select(s => s.Id));
            Assert.Equal(secrets.Count, await EdgeFullPull.CountAsync(db.DataSource, role, CancellationToken.None));
            foreach (var id in everyVariable)
            {
                var one = await EdgeFullPull.FindAsync(db.DataSource, role, id, CancellationToken.None);
                Assert.Equal(secrets.Contains(id), one is not null);
            }

            // The delta's states: granted with values → versions, everything else a tombstone, in the asked order.
            var states = await GrantedSecretsReader.ReadStatesAsync(connection, role, everyVariable, CancellationToken.None);
            Assert.Equal(everyVariable, states.Select(state => state.Id));
            Assert.Equal(secrets, states.Where(state => state.Versions is not null).Select(state => state.Id));

            // Status, admin and verification.
            Assert.Equal(secrets.Count, status[follower].Granted);
            Assert.Equal(rule.Count, (await FollowerDirectory.StatusAsync(db.DataSource, null, follower, CancellationToken.None))!.Granted);
            var expectedRows = await Db.ScalarAsync<long>(db.ConnectionString,
                "SELECT count(*) FROM secrets s WHERE s.resource_id IN (SELECT resource_id FROM partial_replica.granted_variables($1))", role);
            await using var empty = NpgsqlDataSource.Create(await EmptyFollowerAsync(db));
            var verified = await FollowerVerifier.VerifyAsync(db.DataSource, empty, role, CancellationToken.None);
            Assert.Equal((expectedRows, expectedRows, 0), (verified.Expected, verified.Missing.Count, verified.Extra.Count));
        }
    }

    private static string Describe(IEnumerable<Protocol.SecretVersion> versions) =>
        string.Join(";", versions.Select(v => $"{v.Version}:{Convert.ToHexString(v.Value)}:{v.ExpiresAt:O}"));

    /// <summary>A database with an empty <c>secrets</c> table beside the leader's: the verifier finds every granted row missing.</summary>
    private static async Task<string> EmptyFollowerAsync(PolicyDatabase db)
    {
        var builder = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        // The verifier reads "secrets" unqualified: a schema of the leader database, first on the search path, holds an empty one.
        await Db.ExecuteAsync(db.ConnectionString, "CREATE SCHEMA IF NOT EXISTS verify_empty; CREATE TABLE IF NOT EXISTS verify_empty.secrets (LIKE public.secrets)");
        builder.SearchPath = "verify_empty";
        return builder.ConnectionString;
    }
}
