namespace PartialReplica.Tooling.Bench;

/// <summary>
/// The steady workload of P8 and P10 (issues 25 and 26): a leader with <see cref="Variables"/> variables each with one
/// version; <see cref="Followers"/> followers, each a database of one follower server with its own subscription and
/// agent, each granted about <see cref="Share"/> of the variables through its own replica set (independently per
/// follower, so slices overlap and some variables are granted to none); up to <see cref="Gateways"/> gateway processes.
/// Writers commit single-row inserts on random variables, open-loop: commit k is due at k / <see cref="Rate"/> seconds,
/// whatever was delivered; commits still due when <see cref="Duration"/> ends are not made. Each measured run is
/// preceded by <see cref="WarmUp"/> of the same writing at a fifth of the rate, drained and not counted.
/// </summary>
internal sealed record SteadyWorkload(
    int Followers, int Gateways, int Variables, double Share, double Rate, TimeSpan Duration, TimeSpan WarmUp, int Writers)
{
    /// <summary>
    /// Whether follower <paramref name="follower"/> is granted variable <paramref name="index"/>: a fixed hash of both
    /// (SplitMix64) below <see cref="Share"/>, so a run, its checks and its re-runs agree without storing the map.
    /// </summary>
    public bool Granted(int follower, int index)
    {
        var z = unchecked(((ulong)(uint)index << 20) + (ulong)(uint)follower + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) < Share;
    }

    /// <summary>The followers granted <paramref name="index"/>.</summary>
    public IEnumerable<int> GrantedTo(int index) => Enumerable.Range(0, Followers).Where(f => Granted(f, index));
}
