using System.Diagnostics;
using PartialReplica.Policies;

namespace PartialReplica.UnitTests.Policies;

/// <summary>
/// S4, in the parser alone: recursive and dangling aliases and nesting bombs are refused within a second with a
/// located error; nesting within the bound parses. Time is a bound on the refusal, not a benchmark.
/// </summary>
public sealed class PolicyBoundsTests
{
    /// <summary>Nested <c>!policy</c> records in flow style, 10,000 deep (about 300 KB).</summary>
    public static string DeepPolicies(int depth) =>
        "- " + string.Concat(Enumerable.Repeat("!policy {id: p, body: [", depth)) + "!variable v" + new string(']', depth).Replace("]", "]}", StringComparison.Ordinal) + "\n";

    [Fact]
    public void Recursive_and_dangling_aliases_are_refused_with_their_place()
    {
        var recursive = Assert.Throws<PartialReplicaException>(() => PolicyParser.Parse("- &x [ !variable a, *x ]\n", "r.yml", "default", "root"));
        var dangling = Assert.Throws<PartialReplicaException>(() => PolicyParser.Parse("- !variable a\n- *nowhere\n", "d.yml", "default", "root"));

        Assert.Equal("r.yml:1:21: alias *x refers to a node that contains it (a recursive structure)", recursive.Message);
        Assert.Equal("d.yml:2:3: alias *nowhere refers to no anchor &nowhere before it", dangling.Message);
    }

    [Theory]
    [InlineData(10_000)]
    [InlineData(129)]
    public void Nesting_bomb_is_refused_within_a_second_with_its_place(int depth)
    {
        var bomb = DeepPolicies(depth);
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<PartialReplicaException>(() => PolicyParser.Parse(bomb, "deep.yml", "default", "root"));
        clock.Stop();

        // The 129th collection is the 64th level's "[": column 2 + 64 * 23 ("!policy {id: p, body: [" is 23 characters).
        Assert.Equal($"deep.yml:1:{2 + (64 * 23)}: the policy nests deeper than 128 levels of YAML lists and mappings", error.Message);
        Assert.InRange(clock.ElapsedMilliseconds, 0, 1000);
    }

    [Fact]
    public void Nesting_within_the_bound_parses()
    {
        var document = PolicyParser.Parse(DeepPolicies(60), "deep.yml", "default", "root");
        Assert.Equal(61, document.Records.Count);
        Assert.Equal("default:variable:" + string.Join('/', Enumerable.Repeat("p", 60)) + "/v", document.Records[^1].Id.ToString());
    }
}
