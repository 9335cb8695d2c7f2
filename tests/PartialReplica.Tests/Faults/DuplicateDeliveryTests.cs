using System.Net;
using PartialReplica.Authn;
using PartialReplica.Grants;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Leader.Heartbeat;
using PartialReplica.Policies;
using PartialReplica.Protocol;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// R4: batches replayed, duplicated and delivered out of order, over HTTP to a real agent process with
/// tokens signed by the leader's key ring exactly as the gateway signs them: no version goes backwards,
/// no row is duplicated, and a revoked secret never comes back. Each batch goes out as the gateway sends it, once a
/// heartbeat past its stamps is committed on the leader; an old batch still showing the revoked variable is refused by
/// the agent's own grant check (its follower has replayed the revocation), the rest are skipped by their stamps.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class DuplicateDeliveryTests(ReplicationFixture fixture)
{
    private static readonly string Kept = FaultWorld.Billing[0];
    private static readonly string Pruned = FaultWorld.Inventory[0];
    private static readonly string Revoked = "default:variable:apps/billing/burst/0";

    [Fact]
    public async Task Replayed_duplicated_and_reordered_batches_never_regress_duplicate_or_resurrect()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;

        // A gateway only for its JWKS; its dispatcher is off, so every batch the agent sees is one of ours.
        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" });
        await using var gatewayLifetime = gateway;
        var agent = await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), gatewayUrl);
        var endpoint = new FollowerEndpoint(FaultWorld.East, "default:host:" + FaultWorld.East, agent.Url);
        using var http = new HttpClient();
        var issuer = new TokenIssuer(new SigningKeyRing(world.LeaderSource, TestGatewayKey.Key, TimeProvider.System), "partial-replica-gateway", TimeProvider.System);
        var sender = new HttpBatchSender(http, new SignedPushTokens(issuer, TimeProvider.System));
        await using var session = await world.LeaderSource.OpenConnectionAsync();
        string[] ids = [Kept, Pruned, Revoked];
        Task<IReadOnlyList<VariableState>> ReadAsync() =>
            GrantedSecretsReader.ReadPushStatesAsync(session, endpoint.RoleId, ids, new HashSet<string>(ids, StringComparer.Ordinal), CancellationToken.None);

        // Three states of the same variables, oldest first: as set up; after new versions (Kept past
        // Conjur's 20 kept, so its oldest are pruned) and a deleted version; after Revoked's grant is denied.
        var oldest = await ReadAsync();
        for (var i = 0; i < 22; i++)
        {
            await world.SetSecretAsync(Kept, [(byte)i, 0, (byte)i]);
        }

        await world.SetSecretAsync(Pruned, [7]);
        await Db.ExecuteAsync(leader, "DELETE FROM secrets WHERE resource_id = $1 AND version = 1", Pruned);
        await world.SetSecretAsync(Revoked, [8]);
        var middle = await ReadAsync();
        await world.LoadPolicyAsync("""
            - !deny
              role: !group /apps/billing-readers
              privilege: execute
              resource: !variable burst/0
            """, PolicyMode.Update, "apps/billing");
        var newest = await ReadAsync();
        Assert.Empty(newest.Single(s => s.Id == Revoked).Versions);
        Assert.NotEmpty(middle.Single(s => s.Id == Revoked).Versions);
        string[] held = [Kept, Pruned];

        var beacon = new LeaderBeacon(world.LeaderSource);
        var (sent, refused) = (0, 0);
        async Task<ApplyReport?> SendAsync(string batchId, params IEnumerable<VariableState>[] parts)
        {
            Interlocked.Increment(ref sent);
            var batch = new PushBatch(batchId, "replayer", FaultWorld.East, parts.SelectMany(p => p).ToList());
            await beacon.EnsureAsync(batch.NewestStamp(), CancellationToken.None);
            try
            {
                return await sender.SendAsync(endpoint, batch, CancellationToken.None);
            }
            catch (BatchRefusedException e) when (e.StatusCode == HttpStatusCode.UnprocessableEntity)
            {
                Interlocked.Increment(ref refused);
                return null;
            }
        }

        static IEnumerable<VariableState> Without(IEnumerable<VariableState> states, string id) => states.Where(s => s.Id != id);

        // The newest first (applied once the follower replayed the leader past it, the revocation too), then the older
        // ones late, out of order, and the newest replayed under its own id.
        await SendAsync("newest", newest);
        await AssertHeldAsync(world, held);
        Assert.Null(await SendAsync("oldest", oldest));
        Assert.Equal(2, (await SendAsync("oldest-granted", Without(oldest, Revoked)))!.Skipped);
        await AssertHeldAsync(world, held);
        Assert.Null(await SendAsync("middle", middle));
        Assert.Equal(2, (await SendAsync("middle-granted", Without(middle, Revoked)))!.Skipped);
        await AssertHeldAsync(world, held);
        Assert.Equal(3, (await SendAsync("newest", newest))!.Skipped);
        await AssertHeldAsync(world, held);

        // One batch carrying every state of each variable, newest in the middle: the newest wins.
        await SendAsync("mixed", oldest, newest, middle);
        await AssertHeldAsync(world, held);

        // A stale reconcile's last batch (its sweep over every id begun before everything above) removes nothing applied since.
        var stale = new PushBatch("stale-reconcile", "replayer", FaultWorld.East, [], SweepBefore: oldest[0].Stamp, SweepEnd: oldest[0].Stamp);
        Interlocked.Increment(ref sent);
        Assert.Equal(0, (await sender.SendAsync(endpoint, stale, CancellationToken.None)).Deletes);
        await AssertHeldAsync(world, held);

        // Duplicates racing each other over separate HTTP requests, in shuffled orders.
        var random = new Random(12);
        for (var round = 0; round < 3; round++)
        {
            var all = new[] { oldest, middle, newest, oldest, newest, middle }.OrderBy(_ => random.Next()).ToList();
            await Task.WhenAll(all.Select((part, i) => SendAsync($"race-{round}-{i}", part)));
            await AssertHeldAsync(world, held);
        }

        // Delivered at least once: every copy reached the agent and was logged, applied or refused; none changed the end state.
        Assert.True(refused >= 2);
        Assert.Equal(sent - refused, (await world.ApplyLogAsync(FaultWorld.East)).Count);
        Assert.Equal(refused, await Db.ScalarAsync<long>(world.FollowerDb(FaultWorld.East),
            "SELECT count(*) FROM partial_replica.refusals WHERE reason = 'ungranted'"));
        Assert.False(await Db.ScalarAsync<bool>(world.FollowerDb(FaultWorld.East),
            "SELECT present FROM partial_replica.applied WHERE resource_id = $1", Revoked));
    }

    /// <summary>Right now (the agent applied synchronously): exactly the leader's rows of <paramref name="held"/>, no duplicate, newest version kept.</summary>
    private static async Task AssertHeldAsync(TestWorld world, string[] held)
    {
        await world.AwaitExactAsync(FaultWorld.East, held, TimeSpan.Zero);
        var follower = world.FollowerDb(FaultWorld.East);
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower,
            "SELECT count(*) - count(DISTINCT (resource_id, version)) FROM secrets"));
        Assert.Equal(
            await Db.ScalarAsync<int>(world.Leader, "SELECT max(version) FROM secrets WHERE resource_id = $1", Kept),
            await Db.ScalarAsync<int>(follower, "SELECT max(version) FROM secrets WHERE resource_id = $1", Kept));
    }
}
