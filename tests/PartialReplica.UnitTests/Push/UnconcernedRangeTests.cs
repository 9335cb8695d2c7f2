using PartialReplica.Leader.Capture;
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.UnitTests.Push;
/// <summary>What a worker may skip of the outbox on the word of the gateway's horizon poll.</summary>
public sealed class UnconcernedRangeTests
{
    private static OutboxCursor At(long tx, long change) => new(tx, change);

    [Fact]
    public void Only_a_reader_standing_in_an_examined_run_of_ranges_skips_and_only_to_its_end()
    {
        var range = new UnconcernedRange();
        Assert.Equal(At(5, 1), range.Skip(At(5, 1)));

        range.Add(At(10, 3), At(12, 7));
        range.Add(At(12, 7), At(15, 2));
        Assert.Equal(At(15, 2), range.Skip(At(10, 3)));
        Assert.Equal(At(15, 2), range.Skip(At(13, 1)));
        Assert.Equal(At(9, 9), range.Skip(At(9, 9)));
        Assert.Equal(At(15, 2), range.Skip(At(15, 2)));
        Assert.Equal(At(16, 1), range.Skip(At(16, 1)));

        // A range that does not continue the run (the poll started over, or a range concerned the follower
        // in between) replaces it: what lies between was not examined for this follower.
        range.Add(At(20, 1), At(22, 4));
        Assert.Equal(At(15, 2), range.Skip(At(15, 2)));
        Assert.Equal(At(12, 0), range.Skip(At(12, 0)));
        Assert.Equal(At(22, 4), range.Skip(At(20, 1)));
    }
}
