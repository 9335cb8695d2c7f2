using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace PartialReplica.Leader.Gateways;

/// <summary>
/// Rendezvous (highest-random-weight) hashing: each follower goes to the live gateway whose weight for it is the
/// highest. Every gateway computes the same answer from the same live set, without talking to the others, and a
/// follower moves only when its own gateway leaves or a gateway that outweighs it joins: about 1/n of the followers
/// move when the n-th gateway joins, and only the leaving gateway's followers when one leaves.
/// </summary>
public static class Rendezvous
{
    /// <summary>
    /// The weight of <paramref name="gateway"/> for <paramref name="follower"/>: the first 8 bytes of SHA-256 over both
    /// (UTF-8, separated by a NUL byte, which PostgreSQL text never holds). Stable across processes, machines and
    /// versions, unlike <see cref="string.GetHashCode()"/>.
    /// </summary>
    public static ulong Weight(string gateway, string follower)
    {
        var length = Encoding.UTF8.GetByteCount(gateway) + 1 + Encoding.UTF8.GetByteCount(follower);
        var input = length <= 512 ? stackalloc byte[length] : new byte[length];
        var written = Encoding.UTF8.GetBytes(gateway, input);
        input[written] = 0;
        Encoding.UTF8.GetBytes(follower, input[(written + 1)..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    /// <summary>
    /// The gateway among <paramref name="gateways"/> that serves <paramref name="follower"/>; null when there is none.
    /// Equal weights (never seen in practice) go to the gateway id first in ordinal order, so the answer never
    /// depends on the order of the list.
    /// </summary>
    public static string? Owner(string follower, IEnumerable<string> gateways)
    {
        string? owner = null;
        var best = 0UL;
        foreach (var gateway in gateways)
        {
            var weight = Weight(gateway, follower);
            if (owner is null || weight > best || (weight == best && string.CompareOrdinal(gateway, owner) < 0))
            {
                (owner, best) = (gateway, weight);
            }
        }

        return owner;
    }

    /// <summary>Every follower's gateway (followers map to null when no gateway is live).</summary>
    public static Dictionary<string, string?> Assign(IEnumerable<string> followers, IReadOnlyCollection<string> gateways) =>
        followers.Distinct(StringComparer.Ordinal).ToDictionary(f => f, f => Owner(f, gateways), StringComparer.Ordinal);
}
