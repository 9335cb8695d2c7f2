
using PartialReplica.Protocol;

namespace PartialReplica.UnitTests.Push;

/// <summary>A reconcile's sweep ranges: ids ordered as collation "C" orders them, and the SQL bounds they become.</summary>
public sealed class SweepRangeTests
{
    [Fact]
    public void Sweep_ranges_order_ids_as_collation_C_does_by_UTF8_bytes()
    {
        // U+FFFD sorts before U+1F600 in UTF-8 bytes (EF.. < F0..) though its UTF-16 unit (FFFD) is above D83D.
        Assert.True(SweepRange.CompareUtf8("a\uFFFD", "a\U0001F600") < 0);
        Assert.True(string.CompareOrdinal("a\uFFFD", "a\U0001F600") > 0);
        Assert.True(SweepRange.CompareUtf8("ab", "abc") < 0);
        Assert.Equal(0, SweepRange.CompareUtf8("x\U0001F600", "x\U0001F600"));

        var range = new SweepRange("default:variable:b", "default:variable:d");
        Assert.Equal([false, false, true, true, false],
            new[] { "default:variable:a", "default:variable:b", "default:variable:c", "default:variable:d", "default:variable:e" }.Select(range.Contains));
        Assert.True(new SweepRange(null, null).Contains("anything"));
        var (bounded, values) = new SweepRange("x", "y").Where("s.resource_id", 3);
        Assert.Equal("s.resource_id > $3 AND s.resource_id <= $4", bounded);
        Assert.Equal(["x", "y"], values);
        var (open, none) = new SweepRange(null, "y").Where("resource_id", 1);
        Assert.Equal("resource_id <= $1", open);
        Assert.Equal(["y"], none);
    }
}
