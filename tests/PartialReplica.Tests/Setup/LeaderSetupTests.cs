using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Leader.Setup;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Setup;

[Collection(LeaderServersCollection.Name)]
public sealed class LeaderSetupTests(ReplicationFixture fixture)
{
    private static readonly string[] ConjurTables =
    [
        "public.annotations", "public.authenticator_configs", "public.credentials", "public.host_factory_tokens",
        "public.permissions", "public.policy_log", "public.policy_versions", "public.resources",
        "public.issuers", "public.resources_textsearch", "public.role_memberships", "public.roles", "public.slosilo_keystore",
    ];

    [Fact]
    public async Task Publication_holds_every_table_but_secrets_and_bookkeeping_plus_heartbeat()
    {
        var (leader, setup) = await fixture.CreateLeaderAsync();

        var published = await Db.ColumnAsync(leader,
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'partial_replica_public' ORDER BY 1");

        string[] expected = [.. ConjurTables, "partial_replica.heartbeat"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), published.Order(StringComparer.Ordinal));
        Assert.Equal(expected.Order(StringComparer.Ordinal), setup.PublishedTables.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Setup_twice_changes_nothing_and_prints_the_admin_key_only_once()
    {
        var (leader, first) = await fixture.CreateLeaderAsync();
        Assert.NotNull(first.AdminApiKey);
        var keyBefore = await Db.ScalarAsync<byte[]>(leader, "SELECT api_key FROM credentials WHERE role_id = 'default:user:admin'");

        var second = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);

        Assert.Null(second.AdminApiKey);
        Assert.Empty(second.AppliedMigrations);
        Assert.Equal(first.PublishedTables, second.PublishedTables);
        var keyAfter = await Db.ScalarAsync<byte[]>(leader, "SELECT api_key FROM credentials WHERE role_id = 'default:user:admin'");
        Assert.Equal(keyBefore, keyAfter);
        // Stored as Conjur stores it: Slosilo with the data key, the role id as associated data; no password hash.
        Assert.Equal(first.AdminApiKey, PartialReplica.Tests.Authn.ConjurBlob.Open(TestDataKey.Base64, "default:user:admin", keyAfter!));
        Assert.Null(await Db.ScalarAsync<byte[]>(leader, "SELECT encrypted_hash FROM credentials WHERE role_id = 'default:user:admin'"));
    }

    [Fact]
    public async Task A_table_added_later_joins_the_publication_on_the_next_run()
    {
        var (leader, first) = await fixture.CreateLeaderAsync();
        var relay = new NpgsqlConnectionStringBuilder(leader) { Database = first.Relay!.Location.Database }.ConnectionString;
        foreach (var database in new[] { leader, relay })
        {
            await Db.ExecuteAsync(database, "CREATE TABLE public.audit_notes (id int PRIMARY KEY, note text)");
            await Db.ExecuteAsync(database, "CREATE TABLE public.no_key_log (line text)");
        }

        var again = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);

        Assert.Contains("public.audit_notes", again.PublishedTables);
        Assert.Contains("public.no_key_log", again.PublishedTables);
        Assert.Equal(1L, await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'partial_replica_public' AND tablename = 'audit_notes'"));
        // Without a key the whole row is the replica identity, so deletes on the leader keep working.
        Assert.Equal("f", (await Db.ScalarAsync<char>(leader, "SELECT relreplident FROM pg_class WHERE relname = 'no_key_log'")).ToString());
        await Db.ExecuteAsync(leader, "INSERT INTO public.no_key_log VALUES ('x'); DELETE FROM public.no_key_log");
        Assert.Equal("f", (await Db.ScalarAsync<char>(leader, "SELECT relreplident FROM pg_class WHERE relname = 'policy_log'")).ToString());
        // The relay republishes the same tables, and copies what the leader holds in them.
        await Db.ExecuteAsync(leader, "INSERT INTO public.audit_notes VALUES (1, 'kept')");
        Assert.Equal(1L, await Db.ScalarAsync<long>(relay,
            "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'partial_replica_public' AND tablename = 'audit_notes'"));
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<string>(relay, "SELECT note FROM public.audit_notes WHERE id = 1") == "kept", "the relay holds the new row");
    }

    [Fact]
    public async Task Capture_trigger_writes_outbox_rows_for_secret_inserts_and_deletes()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:db/password', 'default:user:admin');
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:db/password', '\x47'::bytea);
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:db/password', '\x48'::bytea);
            DELETE FROM resources WHERE resource_id = 'default:variable:db/password';
            """);

        var changes = await Db.ColumnAsync(leader,
            "SELECT kind || ' ' || resource_id || ' ' || coalesce(version::text, '-') FROM partial_replica.changes ORDER BY change_id");
        Assert.Equal(
            ["upsert default:variable:db/password 1", "upsert default:variable:db/password 2",
             "delete default:variable:db/password -"],
            changes);
    }

    [Fact]
    public async Task Secrets_keep_only_the_newest_twenty_versions()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader,
            "INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:rotated', 'default:user:admin')");
        for (var i = 0; i < 23; i++)
        {
            await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:rotated', $1)", new byte[] { (byte)i });
        }

        var versions = await Db.ColumnAsync(leader, "SELECT version FROM secrets WHERE resource_id = 'default:variable:rotated' ORDER BY version");
        Assert.Equal(Enumerable.Range(4, 20).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)), versions);
    }
}
