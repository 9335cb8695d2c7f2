using PartialReplica.Grants;
using PartialReplica.Policies;
using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// A full reconcile's pages read by range (for a follower granted most secrets) hold exactly what the pages read by
/// one probe per variable hold: the follower's granted variables in byte order with all their kept versions, a
/// variable without a value as an empty state, and nothing of the variables not granted between them.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class GrantedPageReadTests(ReplicationFixture fixture)
{
    private const string HiddenBetween = "default:variable:apps/billing/burst-hidden/0";
    private const string Emptied = "default:variable:apps/billing/burst/1";
    private const string Versioned = "default:variable:apps/billing/burst/2";

    [Fact]
    public async Task Pages_read_by_range_equal_pages_read_by_probes_and_hold_exactly_the_granted_variables()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;

        // Variables no follower is granted whose ids sort between granted ones ("burst-hidden" < "burst/"), so a page's
        // range holds their secrets; a granted variable with three versions, and one whose every version is deleted.
        await world.LoadPolicyAsync("- !variable burst-hidden/0\n- !variable burst-hidden/1\n", PolicyMode.Load, "apps/billing");
        await world.SetSecretAsync(HiddenBetween, [9]);
        await world.SetSecretAsync("default:variable:apps/billing/burst-hidden/1", [9]);
        await world.SetSecretAsync(Versioned, [2]);
        await world.SetSecretAsync(Versioned, [3]);
        await Db.ExecuteAsync(leader, "DELETE FROM secrets WHERE resource_id = $1", Emptied);
        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            await Db.ExecuteAsync(leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
                follower, "default:host:" + follower, "pr_" + Guid.NewGuid().ToString("N"));
        }

        await Db.ExecuteAsync(leader, "ANALYZE secrets");

        // 25 secrets rows; east-1 is granted 15 variables (by range), west-1 8 (by probes).
        Assert.Equal(25, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM secrets"));
        await using (var session = await world.LeaderSource.OpenConnectionAsync())
        {
            Assert.True(await GrantedSecretsReader.PagesByRangeAsync(session, "default:host:" + FaultWorld.East, CancellationToken.None));
            Assert.False(await GrantedSecretsReader.PagesByRangeAsync(session, "default:host:" + FaultWorld.West, CancellationToken.None));
        }

        var reader = new GrantedSecretsReader(world.LeaderSource);
        var byRange = await ReadAllPagesAsync(reader, FaultWorld.East, byRange: true);
        var byProbes = await ReadAllPagesAsync(reader, FaultWorld.East, byRange: false);
        Assert.Equal(byProbes, byRange);

        var granted = FaultWorld.GrantedTo(FaultWorld.East).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(granted, byRange.Select(v => v.Split(' ')[0]).Distinct());
        var leaderRows = await Db.ColumnAsync(leader, """
            SELECT resource_id || ' ' || version || ' ' || encode(value, 'hex') FROM secrets
             WHERE resource_id = ANY($1) ORDER BY resource_id COLLATE "C", version
            """, new object?[] { granted.ToArray() });
        Assert.Equal(leaderRows, byRange.Where(v => !v.EndsWith(" none", StringComparison.Ordinal)));
        Assert.Equal([Emptied + " none"], byRange.Where(v => v.EndsWith(" none", StringComparison.Ordinal)));
        Assert.Equal(["1", "2", "3"], byRange.Where(v => v.StartsWith(Versioned + " ", StringComparison.Ordinal)).Select(v => v.Split(' ')[1]));
    }

    /// <summary>Every page of the follower's reconcile, four variables a page: one line per version ("id version hex"), "id none" for none.</summary>
    private static async Task<List<string>> ReadAllPagesAsync(GrantedSecretsReader reader, string follower, bool byRange)
    {
        var lines = new List<string>();
        var after = "";
        while (true)
        {
            var states = await reader.ReadPushPageAsync("default:host:" + follower, after, 4, byRange, CancellationToken.None);
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
