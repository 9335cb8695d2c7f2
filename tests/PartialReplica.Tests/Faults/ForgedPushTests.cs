using System.Diagnostics;
using System.Net;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Follower;
using PartialReplica.Grants;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Leader.Heartbeat;
using PartialReplica.Policies;
using PartialReplica.Protocol;
using PartialReplica.Tests.Infrastructure;
using Xunit.Abstractions;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// S6, the agent does not trust blindly: with tokens signed by the leader's own key ring (what a stolen signing key
/// gives), batches showing an ungranted variable, addressed to another follower or stamped beyond the leader are
/// refused by the agent and change nothing on its follower, byte for byte; later real pushes still apply, and a
/// grant made on the leader applies once the follower has replayed it.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class ForgedPushTests(ReplicationFixture fixture, ITestOutputHelper output)
{
    private static readonly Dictionary<string, string?> ShortReplayWait = new() { ["Agent:ReplayTimeout"] = "00:00:00.500" };

    [Fact]
    public async Task Forged_batches_with_valid_tokens_are_refused_and_change_nothing()
    {
        await using var world = await World.CreateAsync(fixture);
        var east = world.FollowerDb(FaultWorld.East);
        var west = world.FollowerDb(FaultWorld.West);
        await world.PushAsync(FaultWorld.East, FaultWorld.GrantedTo(FaultWorld.East));
        await world.PushAsync(FaultWorld.West, FaultWorld.GrantedTo(FaultWorld.West));
        await world.Faults.AwaitExactAsync(FaultWorld.East, TimeSpan.Zero);
        await world.Faults.AwaitExactAsync(FaultWorld.West, TimeSpan.Zero);
        var eastBefore = await SnapshotAsync(east);
        var westBefore = await SnapshotAsync(west);

        // (i) The ciphertext of a real leader secret granted to nobody, beside a newer state of a granted one: the whole
        // batch is refused. A secret granted to east only, pushed to west: refused too.
        var hidden = FaultWorld.Hidden[0];
        var granted = FaultWorld.Billing[0];
        await world.Faults.SetSecretAsync(granted, [1, 2, 3]);
        var stamp = await world.StampAsync();
        await world.BeatAsync();
        await world.AssertRefusedAsync(FaultWorld.East, HttpStatusCode.UnprocessableEntity, "ungranted",
            world.Batch(FaultWorld.East, [await world.StateAsync(hidden, stamp), await world.StateAsync(granted, stamp)]));
        await world.AssertRefusedAsync(FaultWorld.West, HttpStatusCode.UnprocessableEntity, "ungranted",
            world.Batch(FaultWorld.West, [await world.StateAsync(FaultWorld.Inventory[0], stamp)]));

        // (ii) A batch addressed to west, with a valid token for east's agent, would sweep east's whole id space.
        await world.AssertRefusedAsync(FaultWorld.East, HttpStatusCode.Forbidden, "misaddressed",
            world.Batch(FaultWorld.West, [await world.StateAsync(granted, stamp)]) with { SweepBefore = stamp });

        // (iii) Stamped 2^63-1: a granted variable's state (which would make every later real push of it look older),
        // a sweep that would wipe the follower, and a whole-range last batch whose tombstones would outlive every push.
        await world.AssertRefusedAsync(FaultWorld.East, HttpStatusCode.Conflict, "beyond_replayed_position",
            world.Batch(FaultWorld.East, [await world.StateAsync(granted, long.MaxValue)]));
        await world.AssertRefusedAsync(FaultWorld.East, HttpStatusCode.Conflict, "beyond_replayed_position",
            world.Batch(FaultWorld.East, []) with { SweepBefore = long.MaxValue, SweepEnd = long.MaxValue });
        await world.AssertRefusedAsync(FaultWorld.West, HttpStatusCode.Conflict, "beyond_replayed_position",
            world.Batch(FaultWorld.West, []) with { SweepBefore = 1, SweepEnd = long.MaxValue });

        Assert.Equal(eastBefore, await SnapshotAsync(east));
        Assert.Equal(westBefore, await SnapshotAsync(west));
        Assert.Equal(
            ["beyond_replayed_position", "beyond_replayed_position", "misaddressed", "ungranted"],
            await Db.ColumnAsync(east, "SELECT reason FROM partial_replica.refusals ORDER BY reason"));
        await using (var eastSource = NpgsqlDataSource.Create(east))
        {
            var local = await FollowerLocalStatus.ReadAsync(eastSource, CancellationToken.None);
            Assert.StartsWith("beyond_replayed_position: ", local.LastRefusal, StringComparison.Ordinal);
        }

        // Later real pushes still apply: the new version of the granted secret reaches both.
        await world.PushAsync(FaultWorld.East, [granted]);
        await world.PushAsync(FaultWorld.West, [granted]);
        await world.Faults.AwaitExactAsync(FaultWorld.East, TimeSpan.Zero);
        await world.Faults.AwaitExactAsync(FaultWorld.West, TimeSpan.Zero);
        Assert.NotEqual(eastBefore, await SnapshotAsync(east));
    }

    [Fact]
    public async Task Grant_made_on_the_leader_applies_once_the_follower_replayed_it()
    {
        await using var world = await World.CreateAsync(fixture);
        var hidden = FaultWorld.Hidden[1];
        var stamp = await world.StampAsync();
        await world.BeatAsync();
        await world.AssertRefusedAsync(FaultWorld.East, HttpStatusCode.UnprocessableEntity, "ungranted",
            world.Batch(FaultWorld.East, [await world.StateAsync(hidden, stamp)]));

        await world.Faults.LoadPolicyAsync($"""
            - !permit
              role: !group /apps/billing-readers
              privilege: execute
              resource: !variable {hidden["default:variable:apps/inventory/".Length..]}
            """, PolicyMode.Update, "apps/inventory");

        // Pushed right after the grant's commit, stamped after it: the agent waits for its follower to replay it.
        var report = await world.PushAsync(FaultWorld.East, [hidden]);
        Assert.Equal(1, report.Upserts);
        await world.Faults.AwaitExactAsync(FaultWorld.East, [hidden], TimeSpan.Zero);
    }

    [Fact]
    public async Task Grant_rule_has_one_text_on_leader_and_follower_and_checks_ten_thousand_variables_cheaply()
    {
        await using var world = await World.CreateAsync(fixture);
        const string Functions = """
            SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc)
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'partial_replica'
               AND p.proname IN ('all_roles', 'follower_replica_sets', 'follower_has_full', 'follower_carriers', 'granted_among')
             ORDER BY 1
            """;
        var leaderFunctions = await Db.ColumnAsync(world.Faults.Leader, Functions);
        Assert.Equal(5, leaderFunctions.Count);
        Assert.Equal(leaderFunctions, await Db.ColumnAsync(world.FollowerDb(FaultWorld.East), Functions));

        // 10,000 variables granted to east (replica set east carries billing-readers), replicated to its follower.
        var policy = new System.Text.StringBuilder();
        for (var i = 0; i < 10_000; i++)
        {
            policy.AppendLine($"- !variable many/{i}");
        }

        policy.AppendLine("- !permit").AppendLine("  role: !group /apps/billing-readers").AppendLine("  privilege: execute").AppendLine("  resources:");
        for (var i = 0; i < 10_000; i++)
        {
            policy.AppendLine($"  - !variable many/{i}");
        }

        await world.Faults.LoadPolicyAsync(policy.ToString(), PolicyMode.Load, "apps/billing");
        var ids = Enumerable.Range(0, 10_000).Select(i => $"default:variable:apps/billing/many/{i}").ToArray();
        var east = world.FollowerDb(FaultWorld.East);
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(east, "SELECT count(*) FROM permissions WHERE resource_id = ANY($1)", new object[] { ids }) == 10_000,
            "the follower replays the 10,000 grants");

        // The agent's check over a 10,000-variable batch: all granted, and what it costs (reported, not asserted).
        await using var source = NpgsqlDataSource.Create(east);
        await using var connection = await source.OpenConnectionAsync();
        var timings = new List<double>();
        for (var run = 0; run < 7; run++)
        {
            await using var command = new NpgsqlCommand(
                "SELECT count(*) FROM partial_replica.granted_among($1, $2)", connection) { Parameters = { new() { Value = "default:host:" + FaultWorld.East }, new() { Value = ids } } };
            var clock = Stopwatch.StartNew();
            Assert.Equal(10_000L, (long)(await command.ExecuteScalarAsync())!);
            timings.Add(clock.Elapsed.TotalMilliseconds);
        }

        timings.Sort();
        output.WriteLine($"granted_among over 10,000 variables on a follower: min {timings[0]:0.0} ms, median {timings[3]:0.0} ms, max {timings[^1]:0.0} ms");
    }

    /// <summary>A follower's whole apply state, byte for byte: its secrets, applied stamps and apply log.</summary>
    private static async Task<List<string>> SnapshotAsync(string followerDb) =>
    [
        .. await Db.ColumnAsync(followerDb, """
            SELECT resource_id || '#' || version || '#' || encode(value, 'hex') || '#' || coalesce(expires_at::text, '') FROM secrets ORDER BY 1
            """),
        .. await Db.ColumnAsync(followerDb, """
            SELECT resource_id || '#' || stamp || '#' || present || '#' || applied_at FROM partial_replica.applied ORDER BY 1
            """),
        .. await Db.ColumnAsync(followerDb, "SELECT id || '#' || batch_id FROM partial_replica.apply_log ORDER BY id"),
    ];

    /// <summary>The fault world with east-1 and west-1, a gateway only for its keys, and pushes made by hand with its tokens.</summary>
    private sealed class World : IAsyncDisposable
    {
        private readonly HttpClient _http = new();
        private readonly HttpBatchSender _sender;
        private readonly LeaderBeacon _beacon;
        private readonly Dictionary<string, FollowerEndpoint> _endpoints = new(StringComparer.Ordinal);

        private World(TestWorld faults)
        {
            Faults = faults;
            var issuer = new TokenIssuer(new SigningKeyRing(faults.LeaderSource, TestGatewayKey.Key, TimeProvider.System), "partial-replica-gateway", TimeProvider.System);
            _sender = new HttpBatchSender(_http, new SignedPushTokens(issuer, TimeProvider.System));
            _beacon = new LeaderBeacon(faults.LeaderSource);
        }

        public TestWorld Faults { get; }

        public static async Task<World> CreateAsync(ReplicationFixture fixture)
        {
            // The gateway's dispatcher is off: every batch an agent sees is one of the test's.
            var faults = await FaultWorld.On(fixture)
                .Gateway(new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" })
                .Follower(FaultWorld.East, 0, HostKind.ChildProcess, ShortReplayWait)
                .Follower(FaultWorld.West, 1 % fixture.FollowerServers.Count, HostKind.ChildProcess, ShortReplayWait)
                .StartAsync();
            var world = new World(faults);
            foreach (var name in new[] { FaultWorld.East, FaultWorld.West })
            {
                world._endpoints[name] = new FollowerEndpoint(name, "default:host:" + name, faults.Agent(name).Url);
            }

            return world;
        }

        public string FollowerDb(string name) => Faults.FollowerDb(name);

        /// <summary>The leader's current stamp, as the gateway reads one.</summary>
        public async Task<long> StampAsync()
        {
            await using var connection = await Faults.LeaderSource.OpenConnectionAsync();
            return await GrantedSecretsReader.ReadStampAsync(connection, CancellationToken.None);
        }

        /// <summary>Commits a heartbeat at the leader's position now, as the gateway's periodic beat does.</summary>
        public Task BeatAsync() => _beacon.BeatAsync(CancellationToken.None);

        /// <summary>A variable's state as stored on the leader, whoever it is granted to, stamped <paramref name="stamp"/>.</summary>
        public async Task<VariableState> StateAsync(string id, long stamp)
        {
            await using var connection = await Faults.LeaderSource.OpenConnectionAsync();
            await using var command = new NpgsqlCommand("SELECT version, value, expires_at FROM secrets WHERE resource_id = $1 ORDER BY version", connection)
            {
                Parameters = { new() { Value = id } },
            };
            var versions = new List<SecretVersion>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                versions.Add(new SecretVersion(reader.GetInt32(0), reader.GetFieldValue<byte[]>(1), reader.IsDBNull(2) ? null : reader.GetDateTime(2)));
            }

            Assert.NotEmpty(versions);
            return new VariableState(id, stamp, versions);
        }

        public PushBatch Batch(string follower, IReadOnlyList<VariableState> states) =>
            new(Guid.NewGuid().ToString("N"), "forger", follower, states);

        /// <summary>Pushes the current granted states of <paramref name="ids"/> the way the gateway does (a beat first).</summary>
        public async Task<ApplyReport> PushAsync(string follower, IReadOnlyCollection<string> ids)
        {
            await using var session = await Faults.LeaderSource.OpenConnectionAsync();
            var states = await GrantedSecretsReader.ReadPushStatesAsync(
                session, _endpoints[follower].RoleId, ids, new HashSet<string>(ids, StringComparer.Ordinal), CancellationToken.None);
            var batch = new PushBatch(Guid.NewGuid().ToString("N"), "test", follower, states);
            await _beacon.EnsureAsync(batch.NewestStamp(), CancellationToken.None);
            return await _sender.SendAsync(_endpoints[follower], batch, CancellationToken.None);
        }

        /// <summary>Sends <paramref name="batch"/> to <paramref name="agent"/> with a valid token; asserts the refusal.</summary>
        public async Task AssertRefusedAsync(string agent, HttpStatusCode status, string code, PushBatch batch)
        {
            var refusal = await Assert.ThrowsAsync<BatchRefusedException>(() => _sender.SendAsync(_endpoints[agent], batch, CancellationToken.None));
            Assert.Equal(status, refusal.StatusCode);
            Assert.Contains($"\"{code}\"", refusal.Message, StringComparison.Ordinal);
        }

        public async ValueTask DisposeAsync()
        {
            await Faults.DisposeAsync();
            _http.Dispose();
        }
    }
}
