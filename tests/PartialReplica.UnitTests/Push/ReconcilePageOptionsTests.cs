using PartialReplica.Leader.Dispatch;

namespace PartialReplica.UnitTests.Push;

/// <summary>
/// The reconcile page settings' checks: a page is at most what the grant reader reads at once (10,000), the first page
/// at most a page, both at least one; a setting out of bounds is one line naming it.
/// </summary>
public sealed class ReconcilePageOptionsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1000, 10000)]
    [InlineData(10000, 10000)]
    public void Page_sizes_within_bounds_pass(int first, int page) =>
        Assert.Empty(new DispatchOptions { ReconcileFirstBatchSize = first, ReconcileBatchSize = page }.Problems());

    [Theory]
    [InlineData(1000, 0, "Dispatch:ReconcileBatchSize (0) must be between 1 and 10000 variables.")]
    [InlineData(1000, 10001, "Dispatch:ReconcileBatchSize (10001) must be between 1 and 10000 variables.")]
    [InlineData(0, 10000, "Dispatch:ReconcileFirstBatchSize (0) must be at least 1 and at most Dispatch:ReconcileBatchSize (10000).")]
    [InlineData(50, 20, "Dispatch:ReconcileFirstBatchSize (50) must be at least 1 and at most Dispatch:ReconcileBatchSize (20).")]
    public void Page_sizes_out_of_bounds_are_named(int first, int page, string problem) =>
        Assert.Contains(problem, new DispatchOptions { ReconcileFirstBatchSize = first, ReconcileBatchSize = page }.Problems());
}
