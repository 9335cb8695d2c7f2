using System.Text;

namespace PartialReplica.Policies;

/// <summary>
/// The bounds a policy is held to, so that hostile input costs no more than its size warrants (S4): one size limit
/// shared by the HTTP policy API and the CLI, and bounds on YAML nesting, alias expansion and id length that the
/// parser enforces before it builds anything.
/// </summary>
public static class PolicyLimits
{
    /// <summary>The largest policy text accepted through HTTP and <c>policy load|replace|update</c>: 4 MiB.</summary>
    public const int MaxPolicyBytes = 4 << 20;

    /// <summary>
    /// The deepest nesting of YAML collections. Each <c>!policy</c> level takes two (its mapping and its body), so
    /// this allows 60 nested policies; Conjur's own deep trees are a handful of levels.
    /// </summary>
    public const int MaxDepth = 128;

    /// <summary>Alias expansion is allowed up to this many nodes, or <see cref="MaxExpansionFactor"/> times the document's own nodes.</summary>
    public const long MinExpandedNodes = 100_000;

    /// <summary>How many times its own size a document may grow through aliases (an anchored list used by a few permits).</summary>
    public const long MaxExpansionFactor = 16;

    /// <summary>
    /// The longest full id (<c>account:kind:identifier</c>) in UTF-8 bytes. PostgreSQL's btree indexes hold at most
    /// about 2,700 bytes per entry, and Conjur's role_memberships and permissions keys hold two ids.
    /// </summary>
    public const int MaxIdBytes = 1024;

    /// <summary>The message for a policy over <see cref="MaxPolicyBytes"/>.</summary>
    public static string TooLargeMessage(string what) =>
        $"{what} is larger than the policy size limit of {MaxPolicyBytes} bytes ({MaxPolicyBytes >> 20} MiB); split it into branches loaded one by one.";

    /// <summary>
    /// Reads a policy as UTF-8 from <paramref name="stream"/>, refusing it as soon as it exceeds
    /// <see cref="MaxPolicyBytes"/> (nothing beyond the limit is buffered) or is not valid UTF-8.
    /// </summary>
    public static async Task<string> ReadAsync(Stream stream, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxPolicyBytes)
            {
                throw new PartialReplicaException(TooLargeMessage(what));
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new PartialReplicaException($"{what} is not valid UTF-8.");
        }
    }
}
