using PartialReplica.Grants;
using PartialReplica.Policies;
using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// A full reconcile's pages read by range hold exactly what pages read by one probe per variable hold: the follower's
/// granted variables in byte order with all their kept versions, a variable without a value as an empty state, and
/// nothing of the variables not granted between them, whether the range reached the page's end in one read, in
/// several, or stopped short and left the rest of the page to probes.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class GrantedPageReadTests(ReplicationFixture fixture)
{
    private const int HiddenBetween = 20;
    private const string Emptied = "default:variable:apps/billing/burst/1";
    private const string Versioned = "default:variable:apps/billing/burst/2";

    [Fact]
    public async Task Pages_read_by_range_equal_pages_read_by_probes_and_hold_exactly_the_granted_variables()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;

        // Variables no follower is granted whose ids sort between granted ones ("burst-hidden" < "burst/"), so a page's
        // range holds their secrets; a granted variable with three versions, and one whose every version is deleted.
        await world.LoadPolicyAsync(
            string.Concat(Enumerable.Range(0, HiddenBetween).Select(i => $"- !variable burst-hidden/{i}\n")), PolicyMode.Load, "apps/billing");
        for (var i = 0; i < HiddenBetween; i++)
        {
            await world.SetSecretAsync($"default:variable:apps/billing/burst-hidden/{i}", [9]);
        }

        await world.SetSecretAsync(Versioned, [2]);
        await world.SetSecretAsync(Versioned, [3]);
        await Db.ExecuteAsync(leader, "DELETE FROM secrets WHERE resource_id = $1", Emptied);
        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            await Db.ExecuteAsync(leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
                follower, "default:host:" + follower, "pr_" + Guid.NewGuid().ToString("N"));
        }

        var reader = new GrantedSecretsReader(world.LeaderSource);
        await using (var session = await world.LeaderSource.OpenConnectionAsync())
        {
            Assert.True((await GrantedSecretsReader.PlanPageReadsAsync(session, CancellationToken.None)).RangeAllowed);
        }

        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            var granted = FaultWorld.GrantedTo(follower).Order(StringComparer.Ordinal).ToList();
            var leaderRows = await Db.ColumnAsync(leader, """
                SELECT resource_id || ' ' || version || ' ' || encode(value, 'hex') FROM secrets
                 WHERE resource_id = ANY($1) ORDER BY resource_id COLLATE "C", version
                """, new object?[] { granted.ToArray() });
            foreach (var pageSize in new[] { 1, 3, 4, 25 })
            {
                var byProbes = await ReadAllPagesAsync(reader, follower, pageSize, new PageReads(rangeAllowed: false));
                var reads = new PageReads(rangeAllowed: true);
                var byRange = await ReadAllPagesAsync(reader, follower, pageSize, reads);
                Assert.True(reads.RangePages > 0);
                Assert.Equal(byProbes, byRange);
                Assert.Equal(granted, byRange.Select(v => v.Split(' ')[0]).Distinct());
                Assert.Equal(leaderRows, byRange.Where(v => !v.EndsWith(" none", StringComparison.Ordinal)));
                Assert.Equal([Emptied + " none"], byRange.Where(v => v.EndsWith(" none", StringComparison.Ordinal)));
                Assert.Equal(["1", "2", "3"], byRange.Where(v => v.StartsWith(Versioned + " ", StringComparison.Ordinal)).Select(v => v.Split(' ')[1]));
            }
        }

        // One page of 25 for each: east-1's 15 ids reach the 20 hidden secrets and then most of its own, so its range
        // reads on to the page's end; west-1's 8 ids are outnumbered by the hidden ones in its first chunk, so its range
        // stops short and the rest of its page is probed, and the pass's next page is probed.
        var east = new PageReads(rangeAllowed: true);
        await reader.ReadPushPageAsync("default:host:" + FaultWorld.East, "", 25, east, CancellationToken.None);
        Assert.Equal((1, 0), (east.RangePages, east.ShortRanges));
        var west = new PageReads(rangeAllowed: true);
        await reader.ReadPushPageAsync("default:host:" + FaultWorld.West, "", 25, west, CancellationToken.None);
        Assert.Equal((1, 1), (west.RangePages, west.ShortRanges));
        await reader.ReadPushPageAsync("default:host:" + FaultWorld.West, "", 25, west, CancellationToken.None);
        Assert.Equal(1, west.RangePages);
    }

    /// <summary>Every page of the follower's reconcile: one line per version ("id version hex"), "id none" for none.</summary>
    private static async Task<List<string>> ReadAllPagesAsync(GrantedSecretsReader reader, string follower, int pageSize, PageReads reads)
    {
        var lines = new List<string>();
        var after = "";
        while (true)
        {
            var states = await reader.ReadPushPageAsync("default:host:" + follower, after, pageSize, reads, CancellationToken.None);
            if (states.Count == 0)
            {
                return lines;
            }

            foreach (var state in states)
            {
                lines.AddRange(state.Versions.Count == 0
                    ? [state.Id + " none"]
                    : state.Versions.Select(v => $"{state.Id} {v.Version} {Convert.ToHexStringLower(v.Value)}"));
            }

            after = states[^1].Id;
        }
    }
}
