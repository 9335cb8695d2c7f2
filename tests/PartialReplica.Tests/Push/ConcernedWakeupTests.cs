using System.Diagnostics;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Bench;

namespace PartialReplica.Tests.Push;

/// <summary>
/// Issue 25: a commit costs the gateway work for the followers granted what changed, not for every follower. The
/// wake-up gate reads what came after its horizon once and wakes only the workers of the followers it concerns;
/// the others never read the outbox for it, whether the commit was notified (a trickle) or polled (a burst). Seen
/// through the gateway's own <c>partial_replica.outbox.reads</c> counter, per follower.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ConcernedWakeupTests(ReplicationFixture fixture) : IAsyncLifetime
{
    private const int Followers = 5;
    private const int PerFollower = 4;
    private const string Prefix = "route";

    private readonly Dictionary<string, long> _reads = new(StringComparer.Ordinal);
    private readonly Stopwatch _sinceRead = Stopwatch.StartNew();
    private GatewayMeterListener _listener = null!;

    public Task InitializeAsync()
    {
        _listener = new GatewayMeterListener(name => name == "partial_replica.outbox.reads", (_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "follower", Value: string follower })
                {
                    lock (_reads)
                    {
                        _reads[follower] = _reads.GetValueOrDefault(follower) + value;
                        _sinceRead.Restart();
                    }
                }
            }
        });
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _listener.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_commit_wakes_only_the_workers_of_the_followers_granted_its_variable()
    {
        // Five followers, each granted four variables of its own replica set. The workers' own fallback poll is a
        // minute away, so any read in the test's window was a wake-up.
        await using var world = await TestWorld.On(fixture)
            .GrantModel(follower => [.. Granted(int.Parse(follower[(follower.LastIndexOf('f') + 1)..], System.Globalization.CultureInfo.InvariantCulture))])
            .Policy(BenchData.Policy(Enumerable.Range(0, Followers).Select(f => (Set(f), Name(f)))))
            .Then(async world =>
            {
                await BenchData.CreateVariablesAsync(world.LeaderSource, Prefix, Followers * PerFollower, i => [Set(i % Followers)], CancellationToken.None);
                await BenchData.InsertValuesAsync(world.LeaderSource, Prefix, Followers * PerFollower, world.Crypto, CancellationToken.None);
            })
            .Gateway(new Dictionary<string, string?> { ["Dispatch:PollInterval"] = "00:01:00" })
            .Then(_listener.ListenAsync)
            .Follower(Name(0), 0).Follower(Name(1), 1).Follower(Name(2), 0).Follower(Name(3), 1).Follower(Name(4), 0)
            .StartAsync();
        for (var f = 0; f < Followers; f++)
        {
            await world.AwaitExactAsync(Name(f));
        }

        // Each worker reads the outbox once after its reconcile; on a loaded machine that may come more than the quiet
        // second below after the others' reads.
        await Eventually.HoldsAsync(() => Task.FromResult(Enumerable.Range(0, Followers).All(f => Reads().GetValueOrDefault(Name(f)) > 0)),
            "every follower's worker has read the outbox");
        await AwaitNoReadsAsync();
        var before = Reads();
        Assert.All(Enumerable.Range(0, Followers), f => Assert.True(before.GetValueOrDefault(Name(f)) > 0, $"{Name(f)}'s worker never read"));

        // A trickle: each commit is notified, and only its follower's worker reads.
        foreach (var f in new[] { 0, 0, 0, 1, 1 })
        {
            await world.SetSecretAsync(Granted(f)[0], "trickle");
            await world.AwaitExactAsync(Name(f));
        }

        await AwaitNoReadsAsync();
        var afterTrickle = Reads();
        Assert.True(afterTrickle[Name(0)] - before[Name(0)] >= 3, $"{Name(0)} read {afterTrickle[Name(0)] - before[Name(0)]} times for its three commits");
        Assert.True(afterTrickle[Name(1)] - before[Name(1)] >= 2, $"{Name(1)} read {afterTrickle[Name(1)] - before[Name(1)]} times for its two commits");
        foreach (var f in new[] { 2, 3, 4 })
        {
            Assert.Equal(before[Name(f)], afterTrickle[Name(f)]);
        }

        // A burst from two writers on follower 0's variables (busy enough to turn notifications off, then on again):
        // still nobody else reads, neither when the gate turns busy nor when it turns idle.
        await Task.WhenAll(Enumerable.Range(0, 2).Select(async w =>
        {
            for (var i = 0; i < 150; i++)
            {
                await world.SetSecretAsync(Granted(0)[(w * 2) + (i % 2)], $"burst {w} {i}");
            }
        }));
        await world.AwaitExactAsync(Name(0));
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<bool?>(world.Leader, "SELECT bool_and(waiting) FROM partial_replica.listeners") == true,
            "the gate asks for notifications again after the burst");
        await AwaitNoReadsAsync();
        var afterBurst = Reads();
        Assert.True(afterBurst[Name(0)] > afterTrickle[Name(0)], $"{Name(0)} did not read for its burst");
        foreach (var f in new[] { 1, 2, 3, 4 })
        {
            Assert.Equal(afterTrickle[Name(f)], afterBurst[Name(f)]);
        }
    }

    private static string Name(int f) => $"route/f{f}";

    private static string Set(int f) => $"route-s{f}";

    private static string[] Granted(int f) =>
        [.. Enumerable.Range(0, Followers * PerFollower).Where(i => i % Followers == f).Select(i => BenchData.VariableId(Prefix, i))];

    private Dictionary<string, long> Reads()
    {
        lock (_reads)
        {
            return new Dictionary<string, long>(_reads, StringComparer.Ordinal);
        }
    }

    /// <summary>Waits until no worker has read for a second: the reads of what came before are all counted.</summary>
    private Task AwaitNoReadsAsync() => Eventually.HoldsAsync(() =>
    {
        lock (_reads)
        {
            return Task.FromResult(_sinceRead.Elapsed > TimeSpan.FromSeconds(1));
        }
    }, "a second without an outbox read");
}
