namespace PartialReplica.Tooling.Bench;

/// <summary><c>bench --p1</c> and <c>--p3</c>: P1 and P3 alone, on the servers and gateway <c>StartAsync</c> made.</summary>
internal sealed partial class BenchRunner
{
    /// <summary>
    /// P1 when <paramref name="p1"/>; P3 when <paramref name="p3"/>, after the P2 burst, which sets up P3's followers and
    /// native subscription (and is reported too: it is measured anyway).
    /// </summary>
    private async Task<List<BenchFigure>> MeasureLatencyFiguresAsync(bool p1, bool p3, CancellationToken cancellationToken)
    {
        var figures = new List<BenchFigure>();
        if (p1)
        {
            figures.Add(InitialReplicateFigure(await MeasureInitialReplicateAsync(cancellationToken)));
        }

        if (p3)
        {
            var (p2, p2Followers, p2Natives) = await MeasureBurstAsync(cancellationToken);
            figures.Add(new("P2", $"{sizes.P2Transactions:N0} single-row commits, 2 writers, 3 followers: last commit → all exact", p2.Gateway, p2.Native, "s", "≤ 0.5 s", "≤ 0.1 s"));
            figures.Add(LatencyFigure(await MeasureLatencyAsync(p2Followers[0], "bench/f0", p2Natives[0], cancellationToken)));
        }

        return figures;
    }

    private BenchFigure InitialReplicateFigure((double Gateway, double Native, double[] GatewaySamples, double[] NativeSamples) p1) =>
        new("P1", $"initial replicate of {sizes.P1Secrets:N0} granted secrets to an empty follower (median of {sizes.P1Samples})",
            p1.Gateway, p1.Native, "s", "≤ 3× native", "≤ 1.5× native")
        {
            GatewaySamples = p1.GatewaySamples,
            NativeSamples = p1.NativeSamples,
        };

    private BenchFigure LatencyFigure((double GatewayP50, double GatewayP99, double NativeP50, double NativeP99) p3) =>
        new("P3", $"one change, idle: commit → visible ({sizes.P3Changes} changes)", p3.GatewayP99, p3.NativeP99, "ms", "p99 ≤ 100 ms", "p50 ≤ 10, p99 ≤ 30 ms")
        {
            GatewayP50 = p3.GatewayP50,
            NativeP50 = p3.NativeP50,
        };
}
