using System.Globalization;
using Npgsql;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Capture;

/// <summary>The capture triggers on the leader's secrets (F5) together with Conjur's pruning to 20 kept versions.</summary>
[Collection(LeaderServersCollection.Name)]
public sealed class SecretCaptureTests(ReplicationFixture fixture)
{
    /// <summary>
    /// One upsert per insert, in its own transaction. Versions pruned past Conjur's 20 are not captured again
    /// (leader baseline): the insert that prunes them writes the upsert, whose push carries the kept versions only.
    /// A version deleted by hand is captured as one delete of that version; a deleted variable as one delete
    /// of the variable (no version), not of each version its cascade removes.
    /// </summary>
    [Fact]
    public async Task Each_insert_and_each_deletion_is_captured_in_its_own_transaction_and_pruning_only_by_its_insert()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, "INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:c', 'default:user:admin')");
        for (var i = 1; i <= 22; i++)
        {
            await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:c', $1)", new byte[] { (byte)i });
        }

        Assert.Equal(
            Enumerable.Range(3, 20).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            await Db.ColumnAsync(leader, "SELECT s.version::text AS v FROM secrets s WHERE s.resource_id = 'default:variable:c' ORDER BY s.version"));

        await Db.ExecuteAsync(leader, "DELETE FROM secrets WHERE resource_id = 'default:variable:c' AND version = 3");
        await Db.ExecuteAsync(leader, "DELETE FROM resources WHERE resource_id = 'default:variable:c'");
        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM secrets WHERE resource_id = 'default:variable:c'"));

        var captured = await Db.ColumnAsync(leader, """
            SELECT kind || ' ' || coalesce(version::text, '-') || ' ' || dense_rank() OVER (ORDER BY tx)
              FROM partial_replica.changes WHERE resource_id = 'default:variable:c' ORDER BY tx, version
            """);
        Assert.Equal(
            Enumerable.Range(1, 22).Select(v => $"upsert {v} {v}")
                .Concat(["delete 3 23", "delete - 24"]),
            captured);
    }

    /// <summary>A variable removed by the cascade of its deleted owner is captured too (the leader baseline's capture on resources fires at any depth), and only variables are.</summary>
    [Fact]
    public async Task A_variable_deleted_with_its_owner_role_is_captured()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, """
            INSERT INTO roles (role_id) VALUES ('default:group:owners');
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:owned', 'default:group:owners'), ('default:webservice:owned', 'default:group:owners');
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:owned', '\x01'), ('default:variable:owned', '\x02');
            """);
        await Db.ExecuteAsync(leader, "DELETE FROM partial_replica.changes");

        await Db.ExecuteAsync(leader, "DELETE FROM roles WHERE role_id = 'default:group:owners'");

        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM secrets WHERE resource_id = 'default:variable:owned'"));
        Assert.Equal(["delete default:variable:owned -"], await Db.ColumnAsync(leader,
            "SELECT kind || ' ' || resource_id || ' ' || coalesce(version::text, '-') FROM partial_replica.changes ORDER BY change_id"));
    }

    /// <summary>
    /// The wake-up check once per session per 50 ms (leader baseline): a writer that found no gateway waiting remembers
    /// when it asked and trusts that answer for 50 ms; any other value of the setting (not a number, in the
    /// future, older) only makes it ask again, and no write fails because of it.
    /// </summary>
    [Fact]
    public async Task A_writer_trusts_for_50_ms_that_no_gateway_waits_and_any_other_setting_makes_it_ask()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, "INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:w', 'default:user:admin')");
        // A busy gateway: seen (for the next hour), not waiting.
        await Db.ExecuteAsync(leader, "INSERT INTO partial_replica.listeners (instance, waiting, seen_at) VALUES ('busy', false, clock_timestamp() + interval '1 hour')");
        await using var notifications = await ChangeNotifications.ListenAsync(leader);

        await using var writer = new NpgsqlConnection(leader);
        await writer.OpenAsync();
        Task<string?> ExecuteAsync(string sql, params object[] parameters) => writer.ScalarAsync<string>(sql, CancellationToken.None, parameters);

        const string Now = "SELECT date_part('epoch', clock_timestamp())::text";
        const string Write = "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:w', '\\x01')";
        var before = double.Parse((await ExecuteAsync(Now))!, CultureInfo.InvariantCulture);
        await ExecuteAsync(Write);
        var remembered = double.Parse((await ExecuteAsync("SELECT current_setting('partial_replica.quiet_since')"))!, CultureInfo.InvariantCulture);
        Assert.InRange(remembered, before, double.Parse((await ExecuteAsync(Now))!, CultureInfo.InvariantCulture));
        Assert.Equal(0, await notifications.CountAsync());

        // The gateway waits from now on: every setting but a fresh answer makes the writer ask, and notify.
        await Db.ExecuteAsync(leader, "UPDATE partial_replica.listeners SET waiting = true");
        var asked = new[] { "", "not a number", "1e9", "-1", (remembered + 3600).ToString("R", CultureInfo.InvariantCulture), (remembered - 1).ToString("R", CultureInfo.InvariantCulture) };
        foreach (var setting in asked)
        {
            await ExecuteAsync("SELECT set_config('partial_replica.quiet_since', $1, false)", setting);
            await ExecuteAsync(Write);
        }

        Assert.Equal(asked.Length, await notifications.CountAsync());
        Assert.Equal(asked.Length + 1, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.changes WHERE resource_id = 'default:variable:w'"));

        // A fresh answer is trusted: of three writes, each in the same round trip as setting a fresh answer (well
        // within 50 ms, unless this machine stalls), at least one does not notify.
        var notified = asked.Length;
        var trusted = 0;
        for (var i = 0; i < 3; i++)
        {
            await ExecuteAsync($"SELECT set_config('partial_replica.quiet_since', ({Now})::text, false); {Write}");
            var now = await notifications.CountAsync();
            trusted += now == notified ? 1 : 0;
            notified = now;
        }

        Assert.True(trusted >= 1, "a fresh remembered answer was never trusted");
    }
}
