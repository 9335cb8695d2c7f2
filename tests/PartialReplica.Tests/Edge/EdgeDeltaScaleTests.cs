using System.Diagnostics;
using Npgsql;
using PartialReplica.Leader.Edge;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using Xunit.Abstractions;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Edge;

/// <summary>
/// F13 at scale (P10's delta half): with 100,000 granted secrets, a delta with no change since the last sync names
/// nothing and costs the outbox range read only; a delta naming one written variable reads that variable only. Times are reported, not asserted (bench P10 measures them).
/// </summary>
[Collection(EdgeDeltaCollection.Name)]
public sealed class EdgeDeltaScaleTests(GatewayFixture fixture, ITestOutputHelper output)
{
    private const int Rows = 100_000;
    private const int Rounds = 50;

    [Fact]
    public async Task No_change_delta_with_100000_granted_is_empty_and_one_write_names_one_variable()
    {
        var follower = await fixture.AddFollowerAsync();
        var set = GatewayFixture.Unique("bulk");
        var prefix = $"default:variable:{set}/";
        await fixture.GrantAsync(set, [follower]);
        var group = $"default:group:conjur/replication-sets/{set}/replicated-data";
        await fixture.RunAsync(
            ("INSERT INTO resources (resource_id, owner_id) SELECT $1 || lpad(i::text, 6, '0'), 'default:user:admin' FROM generate_series(1, $2) i", [prefix, Rows]),
            ("INSERT INTO permissions (privilege, resource_id, role_id) SELECT 'execute', $1 || lpad(i::text, 6, '0'), $3 FROM generate_series(1, $2) i", [prefix, Rows, group]),
            ("INSERT INTO secrets (resource_id, value) SELECT $1 || lpad(i::text, 6, '0'), '\\x47'::bytea || decode(repeat(md5(i::text), 4), 'hex') FROM generate_series(1, $2) i", [prefix, Rows]));

        // Positions pass a transaction only when it has ended, on the whole server: the relay database's apply of
        // the 100,000-row load (same server here) holds them back until it is done. Measured after it.
        var marker = long.Parse((await Db.ScalarAsync<string>(fixture.Leader, "SELECT pg_current_xact_id()::text"))!, System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.HoldsAsync(async () =>
            long.Parse((await Db.ScalarAsync<string>(fixture.Leader, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))!, System.Globalization.CultureInfo.InvariantCulture) > marker,
            "every transaction of the set-up (the relay's apply included) has ended", TimeSpan.FromMinutes(10));

        using var first = await fixture.GetAsync("/edge/secrets/default?limit=1", follower.Token);
        var position = (await JsonAsync(first)).GetProperty("position").GetString()!;
        using var count = await fixture.GetAsync("/edge/secrets/default?count=true", follower.Token);
        Assert.Equal(Rows, (await JsonAsync(count)).GetProperty("count").GetInt64());

        // Over HTTP, as a client sees it (token check, JSON), then the core call bench P10 makes.
        var http = new List<double>();
        for (var i = 0; i < Rounds; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await fixture.GetAsync($"/edge/secrets/default?since={Uri.EscapeDataString(position)}", follower.Token);
            var page = await JsonAsync(response);
            http.Add(clock.Elapsed.TotalMilliseconds);
            Assert.Empty(page.GetProperty("secrets").EnumerateArray());
            position = page.GetProperty("next").GetString()!;
        }

        var core = new List<double>();
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var since = EdgePosition.TryParse(position, out _)!;
        for (var i = 0; i < Rounds; i++)
        {
            var clock = Stopwatch.StartNew();
            var delta = await EdgeDeltaQuery.ReadAsync(leader, follower.RoleId, since, 1000, CancellationToken.None);
            core.Add(clock.Elapsed.TotalMilliseconds);
            Assert.Equal(EdgeDeltaOutcome.Answered, delta.Outcome);
            Assert.Empty(delta.Changes);
            since = delta.Next!;
        }

        // One written variable per round: the delta that names it, timed.
        var one = new List<double>();
        for (var i = 1; i <= 10; i++)
        {
            var name = $"{set}/{(i * 7919).ToString("D6", System.Globalization.CultureInfo.InvariantCulture)}";
            var id = GatewayFixture.VariableId(name);
            await fixture.AddSecretAsync(name, [0x47, (byte)i]);
            // Usually the first delta names it; a transaction of the gateway's own still running when the write
            // committed holds the position back, and then the next one does.
            EdgeDelta? named = null;
            await Eventually.HoldsAsync(async () =>
            {
                var clock = Stopwatch.StartNew();
                named = await EdgeDeltaQuery.ReadAsync(leader, follower.RoleId, since, 1000, CancellationToken.None);
                if (named.Changes.Count > 0)
                {
                    one.Add(clock.Elapsed.TotalMilliseconds);
                }

                since = named.Next!;
                return named.Changes.Count > 0;
            }, "a delta names the written variable");
            var changed = Assert.Single(named!.Changes);
            Assert.Equal(id, changed.Id);
            Assert.Equal([1, 2], changed.Versions!.Select(v => v.Version));
        }

        output.WriteLine($"no-change delta, {Rows} granted: HTTP median {Median(http):0.00} ms, p95 {P95(http):0.00} ms; " +
            $"core median {Median(core):0.00} ms, p95 {P95(core):0.00} ms; one changed variable median {Median(one):0.00} ms");
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static double P95(List<double> values) => values.Order().ElementAt((int)(values.Count * 0.95));
}
