
using PartialReplica.Leader.Gateways;

namespace PartialReplica.UnitTests.Gateways;

/// <summary>Rendezvous hashing (pure): stable weights, an even spread, and followers move only with their gateway.</summary>
public sealed class RendezvousTests
{
    private static readonly string[] Followers = [.. Enumerable.Range(0, 3000).Select(i => $"conjur/followers/site-{i:D4}")];

    [Fact]
    public void Weight_is_stable_across_processes_and_separates_its_two_parts()
    {
        // SHA-256 of "gw-a\0conjur/followers/east-1", first 8 bytes big-endian (checked with Python's hashlib). A change
        // of hash would move every follower of every deployment at an upgrade.
        Assert.Equal(Rendezvous.Weight("gw-a", "conjur/followers/east-1"), Rendezvous.Weight("gw-a", "conjur/followers/east-1"));
        Assert.Equal(0xe8064435d3fa7514UL, Rendezvous.Weight("gw-a", "conjur/followers/east-1"));
        Assert.NotEqual(Rendezvous.Weight("ab", "c"), Rendezvous.Weight("a", "bc"));
        Assert.NotEqual(Rendezvous.Weight("gw-a", "f"), Rendezvous.Weight("gw-b", "f"));
    }

    [Fact]
    public void Owner_is_the_gateway_of_highest_weight_whatever_the_order_and_none_without_gateways()
    {
        string[] gateways = ["gw-a", "gw-b", "gw-c"];
        foreach (var follower in Followers.Take(200))
        {
            var expected = gateways.MaxBy(g => Rendezvous.Weight(g, follower));
            Assert.Equal(expected, Rendezvous.Owner(follower, gateways));
            Assert.Equal(expected, Rendezvous.Owner(follower, gateways.Reverse()));
        }

        Assert.Null(Rendezvous.Owner("conjur/followers/east-1", []));
        Assert.Equal("only", Rendezvous.Owner("conjur/followers/east-1", ["only"]));
    }

    [Fact]
    public void Followers_spread_evenly_over_three_gateways()
    {
        var assignment = Rendezvous.Assign(Followers, ["gw-a", "gw-b", "gw-c"]);
        var counts = assignment.Values.GroupBy(g => g!).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(3, counts.Count);
        Assert.All(counts.Values, n => Assert.InRange(n, 900, 1100));
    }

    [Fact]
    public void A_leaving_gateway_moves_only_its_own_followers_and_they_come_back_when_it_returns()
    {
        string[] all = ["gw-a", "gw-b", "gw-c"];
        var before = Rendezvous.Assign(Followers, all);
        var without = Rendezvous.Assign(Followers, ["gw-a", "gw-c"]);

        foreach (var follower in Followers)
        {
            if (before[follower] == "gw-b")
            {
                Assert.NotEqual("gw-b", without[follower]);
            }
            else
            {
                Assert.Equal(before[follower], without[follower]);
            }
        }

        // The others share gw-b's followers about evenly.
        var moved = Followers.Where(f => before[f] == "gw-b").GroupBy(f => without[f]!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, moved.Count);
        Assert.InRange(moved["gw-a"], moved.Values.Sum() * 4 / 10, moved.Values.Sum() * 6 / 10);

        Assert.Equal(before, Rendezvous.Assign(Followers, all));
    }

    [Fact]
    public void A_joining_gateway_takes_about_its_share_from_each_and_nothing_moves_between_the_others()
    {
        var two = Rendezvous.Assign(Followers, ["gw-a", "gw-b"]);
        var three = Rendezvous.Assign(Followers, ["gw-a", "gw-b", "gw-c"]);

        var moved = Followers.Where(f => two[f] != three[f]).ToList();
        Assert.All(moved, f => Assert.Equal("gw-c", three[f]));
        Assert.InRange(moved.Count, 900, 1100);
    }
}
