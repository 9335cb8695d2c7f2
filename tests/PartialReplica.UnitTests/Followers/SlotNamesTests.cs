
using PartialReplica.Enrollment;

namespace PartialReplica.UnitTests.Followers;

public sealed class SlotNamesTests
{
    [Fact]
    public void Derive_follows_the_spec_example() =>
        Assert.Equal("pr_conjur_followers_east_1", SlotNames.Derive("conjur/followers/east-1"));

    [Fact]
    public void Choose_appends_a_hash_when_the_plain_name_is_taken()
    {
        var taken = new HashSet<string> { "pr_conjur_followers_east_1" };
        var chosen = SlotNames.Choose("conjur/followers/east_1", taken);
        Assert.NotEqual("pr_conjur_followers_east_1", chosen);
        Assert.Matches("^pr_conjur_followers_east_1_[0-9a-f]{8}$", chosen);
    }

    [Fact]
    public void Choose_keeps_long_and_unicode_names_within_63_bytes_and_distinct()
    {
        var a = SlotNames.Choose("conjur/followers/" + new string('x', 100) + "/a", new HashSet<string>());
        var b = SlotNames.Choose("conjur/followers/" + new string('x', 100) + "/b", new HashSet<string>());
        var c = SlotNames.Choose("conjur/followers/zürich", new HashSet<string>());
        Assert.True(a.Length <= 63);
        Assert.NotEqual(a, b);
        Assert.Matches("^[a-z0-9_]+$", c);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/leading")]
    [InlineData("trailing/")]
    [InlineData("a//b")]
    [InlineData("with:colon")]
    [InlineData("bell\u0007")]
    public void Invalid_follower_names_are_rejected(string name) =>
        Assert.Throws<PartialReplicaException>(() => FollowerName.Validate(name));
}
