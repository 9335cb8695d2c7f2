namespace PartialReplica.Tooling.Bench;

/// <summary>
/// Workload sizes: SPEC §6 in full, and a small run that proves the harness works (CI). P1 is measured
/// <c>P1Samples</c> times on each side, in alternating order, and the medians reported. P4 measures
/// <c>P4Duration</c> of writing per mode (with capture, without) in <c>P4Pairs</c> pairs of rounds, each round
/// preceded by <c>P4WarmUp</c> of writing that is not counted, in both modes. P7 revokes and re-grants
/// <c>P7Trials</c> times. P10 is the steady workload of <see cref="SteadyWorkload"/> at 1..<c>Gateways</c> gateways;
/// P8 the fan-out: its followers' initial sync at once, then its steady workload served to a quarter, a half and all
/// of its followers, one gateway (<c>bench --p8 --variables N --followers N</c> changes its two sizes).
/// </summary>
internal sealed record BenchSizes(
    int P1Secrets, int P1Samples, int P2Variables, int P2Transactions, int P3Changes, TimeSpan P4Duration, int P4Pairs, TimeSpan P4WarmUp, int P4Variables, int P5Variables, int P7Trials,
    SteadyWorkload P10, SteadyWorkload P8)
{
    public static BenchSizes Full { get; } = new(100_000, 3, 3_000, 10_000, 200, TimeSpan.FromSeconds(20), 16, TimeSpan.FromSeconds(0.75), 1_000, 10_000, 50,
        new SteadyWorkload(Followers: 12, Gateways: 3, Variables: 100_000, Share: 0.1, Rate: 2_000, Duration: TimeSpan.FromSeconds(10), WarmUp: TimeSpan.FromSeconds(2), Writers: 2),
        new SteadyWorkload(Followers: 20, Gateways: 1, Variables: 1_000_000, Share: 0.1, Rate: 1_000, Duration: TimeSpan.FromSeconds(20), WarmUp: TimeSpan.FromSeconds(2), Writers: 4));

    public static BenchSizes Quick { get; } = new(2_000, 2, 300, 600, 20, TimeSpan.FromSeconds(1.5), 2, TimeSpan.FromSeconds(0.2), 100, 500, 5,
        new SteadyWorkload(Followers: 4, Gateways: 2, Variables: 2_000, Share: 0.25, Rate: 300, Duration: TimeSpan.FromSeconds(2), WarmUp: TimeSpan.FromSeconds(0.5), Writers: 2),
        new SteadyWorkload(Followers: 4, Gateways: 1, Variables: 20_000, Share: 0.1, Rate: 300, Duration: TimeSpan.FromSeconds(2), WarmUp: TimeSpan.FromSeconds(0.5), Writers: 2));
}
