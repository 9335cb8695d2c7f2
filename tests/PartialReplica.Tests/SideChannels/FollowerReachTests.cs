using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Npgsql.Replication;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.SideChannels;

/// <summary>
/// S6 tried as a hostile follower operator: with the credentials its subscription holds, a follower reaches the relay
/// database and nothing else — not the leader database, not physical WAL — and what it can decode there holds no
/// secret and no bookkeeping row. Each follower has a login of its own, rotatable, dropped with the follower.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class FollowerReachTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private const string Granted = "default:variable:apps/billing/db/password";
    private const string Nobody = "default:variable:apps/inventory/reports/key";

    private readonly Slosilo _crypto = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());

    [Fact]
    public async Task Each_follower_login_reaches_only_the_relay_and_decodes_no_secret_there()
    {
        var (leader, setup) = await fixture.CreateLeaderAsync();
        await ReplicationFixture.LoadDemoPolicyAsync(leader);
        var followers = new[] { await fixture.CreateFollowerAsync(leader, 0, East), await fixture.CreateFollowerAsync(leader, 1, West) };
        var leaderDatabase = new NpgsqlConnectionStringBuilder(leader).Database!;
        var secretNumber = 0;
        foreach (var (follower, init) in followers)
        {
            var login = await FollowerLogin.FromSubscriptionAsync(follower, init.SlotName);
            Assert.Equal(setup.Relay!.Location.Database, login.Database);
            Assert.StartsWith("pr_login_", login.Username, StringComparison.Ordinal);

            // No connection to the leader database, nor any other but the relay; no physical replication.
            foreach (var database in new[] { leaderDatabase, "postgres", "template1" })
            {
                var refused = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<int>(FollowerLogin.To(login, database), "SELECT 1"));
                Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, refused.SqlState);
            }

            await using (var physical = new PhysicalReplicationConnection(FollowerLogin.To(login, "postgres")))
            {
                var refused = await Assert.ThrowsAsync<PostgresException>(() => physical.Open());
                Assert.Equal(PostgresErrorCodes.InvalidAuthorizationSpecification, refused.SqlState);
            }

            // On the relay: secrets and the bookkeeping are unreadable; the published tables are readable.
            var relay = login.ConnectionString;
            foreach (var table in new[] { "secrets", "partial_replica.schema_migrations", "partial_replica.node" })
            {
                var denied = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<long>(relay, $"SELECT count(*) FROM {table}"));
                Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
            }

            Assert.True(await Db.ScalarAsync<long>(relay, "SELECT count(*) FROM roles") > 0);

            // A decoding slot of its own on the relay sees the published rows, and never a secret.
            var spy = "spy_" + init.SlotName;
            await Db.ExecuteAsync(relay, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", spy);
            var marker = $"default:user:spied-on-{++secretNumber}";
            await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ($1)", marker);
            foreach (var id in new[] { Granted, Nobody })
            {
                await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, _crypto.Encrypt(Encoding.UTF8.GetBytes("v of " + id), id));
            }

            await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ($1)", marker + "-after");
            var decoded = new List<string>();
            try
            {
                await Eventually.HoldsAsync(async () =>
                {
                    decoded.AddRange(await Db.ColumnAsync(relay, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)", spy));
                    return decoded.Any(d => d.Contains(marker + "-after", StringComparison.Ordinal));
                }, "the spy slot decodes the leader's later role insert");
            }
            catch (Xunit.Sdk.FailException)
            {
                var relayRoles = await Db.ColumnAsync(relay, "SELECT role_id FROM roles WHERE role_id LIKE 'default:user:%'");
                Assert.Fail($"decoded: {string.Join(" | ", decoded.Take(30))}; relay holds: {string.Join(", ", relayRoles)}");
            }

            Assert.Contains(decoded, d => d.StartsWith("table public.roles: INSERT", StringComparison.Ordinal) && d.Contains(marker + "'", StringComparison.Ordinal));
            Assert.DoesNotContain(decoded, d => d.StartsWith("table public.secrets", StringComparison.Ordinal));
            Assert.DoesNotContain(decoded, d => d.StartsWith("table partial_replica.", StringComparison.Ordinal) && !d.StartsWith("table partial_replica.heartbeat", StringComparison.Ordinal));
            Assert.DoesNotContain(decoded, d => d.Contains("v of ", StringComparison.Ordinal));
            await Db.ExecuteAsync(relay, "SELECT pg_drop_replication_slot($1)", spy);
        }
    }

    [Fact]
    public async Task Each_follower_has_its_own_login_rotated_in_its_subscription_and_dropped_with_it()
    {
        var (leader, setup) = await fixture.CreateLeaderAsync();
        var relayAdmin = new NpgsqlConnectionStringBuilder(leader) { Database = setup.Relay!.Location.Database }.ConnectionString;
        var (east, eastInit) = await fixture.CreateFollowerAsync(leader, 0, East);
        var (west, westInit) = await fixture.CreateFollowerAsync(leader, 1, West);
        var eastLogin = await FollowerLogin.FromSubscriptionAsync(east, eastInit.SlotName);
        var westLogin = await FollowerLogin.FromSubscriptionAsync(west, westInit.SlotName);

        Assert.NotEqual(eastLogin.Username, westLogin.Username);
        Assert.NotEqual(eastLogin.Password, westLogin.Password);
        Assert.Equal([eastLogin.Username!, westLogin.Username!],
            await Db.ColumnAsync(leader, "SELECT login FROM partial_replica.followers ORDER BY name"));
        // No password in clear on the leader; on the relay's server only SCRAM verifiers.
        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.settings WHERE value LIKE '%' || $1 || '%' OR value ILIKE '%password%'", eastLogin.Password));
        Assert.Equal(["SCRAM-SHA-256", "SCRAM-SHA-256"], await Db.ColumnAsync(relayAdmin,
            "SELECT split_part(rolpassword, '$', 1) FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname", new object[] { new[] { eastLogin.Username!, westLogin.Username! } }));

        await using (var eastSource = NpgsqlDataSource.Create(east))
        {
            await new FollowerCredentials(NullLogger.Instance).RotateAsync(leader, eastSource, East, null, CancellationToken.None);
        }

        var rotated = await FollowerLogin.FromSubscriptionAsync(east, eastInit.SlotName);
        Assert.Equal(eastLogin.Username, rotated.Username);
        Assert.NotEqual(eastLogin.Password, rotated.Password);
        var stale = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<int>(eastLogin.ConnectionString, "SELECT 1"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, stale.SqlState);
        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ('default:user:after-rotation')");
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(east, "SELECT count(*) FROM roles WHERE role_id = 'default:user:after-rotation'") == 1,
            "east-1 streams again with its rotated password");

        await using (var westSource = NpgsqlDataSource.Create(west))
        {
            await new FollowerCredentials(NullLogger.Instance).RemoveAsync(leader, westSource, West, null, CancellationToken.None);
        }

        Assert.Equal(0L, await Db.ScalarAsync<long>(relayAdmin, "SELECT count(*) FROM pg_roles WHERE rolname = $1", westLogin.Username));
        Assert.Equal(0L, await Db.ScalarAsync<long>(relayAdmin, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", westInit.SlotName));
        // pg_subscription is shared by the server's databases: count this database's only.
        Assert.Equal(0L, await Db.ScalarAsync<long>(west,
            "SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"));
        Assert.Equal([East], await Db.ColumnAsync(leader, "SELECT name FROM partial_replica.followers"));
        var gone = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync<int>(westLogin.ConnectionString, "SELECT 1"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, gone.SqlState);
    }
}
