using System.Security.Cryptography;
using System.Text;

namespace PartialReplica.Enrollment;

/// <summary>
/// Slot (and subscription) names for followers: <c>pr_</c> + the host identifier with every character
/// outside [a-z0-9] turned into '_' (<c>conjur/followers/east-1</c> → <c>pr_conjur_followers_east_1</c>).
/// Two identifiers that map to the same name, or one too long for PostgreSQL's 63 bytes, get a short
/// hash of the full identifier appended, so names never collide.
/// </summary>
internal static class SlotNames
{
    private const int MaxLength = 63;

    /// <summary>The plain derived name, before any collision suffix.</summary>
    public static string Derive(string followerName)
    {
        var builder = new StringBuilder("pr_", followerName.Length + 3);
        foreach (var c in followerName.ToLowerInvariant())
        {
            builder.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '_');
        }

        return builder.ToString();
    }

    /// <summary>The name to use, given the names already taken by other followers or slots.</summary>
    public static string Choose(string followerName, IReadOnlySet<string> taken)
    {
        var plain = Derive(followerName);
        if (plain.Length <= MaxLength && !taken.Contains(plain))
        {
            return plain;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(followerName)));
        for (var length = 8; length <= hash.Length; length += 4)
        {
            var suffix = "_" + hash[..length];
            var candidate = plain[..Math.Min(plain.Length, MaxLength - suffix.Length)] + suffix;
            if (!taken.Contains(candidate))
            {
                return candidate;
            }
        }

        throw new PartialReplicaException($"No free replication slot name for follower '{followerName}'.");
    }
}
