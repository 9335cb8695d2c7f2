using System.Text;

namespace PartialReplica;

/// <summary>
/// The one check for text a caller sends that reaches PostgreSQL (a query parameter, a path segment, a pushed batch's
/// ids and names), made before any query runs. PostgreSQL refuses U+0000 in text, and a value it refuses while binding a
/// parameter fails the statement on the server; an unpaired UTF-16 surrogate cannot be encoded as UTF-8 at all. Both
/// are refused here, and so is a value longer than its documented limit, so that hostile input costs no more than its
/// size and never reaches the database.
/// </summary>
public static class CallerText
{
    /// <summary>
    /// The longest resource or role id accepted, in UTF-8 bytes: under PostgreSQL's limit for one B-tree entry (2,704
    /// bytes), so any id accepted can also be stored under the follower's primary keys. Conjur's ids are far shorter.
    /// </summary>
    public const int MaxIdBytes = 2048;

    /// <summary>The longest name accepted (an account, a batch id, a gateway's or a subscription's name), in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 256;

    /// <summary>Null when <paramref name="value"/> may reach PostgreSQL; else what is wrong with it (never the value itself).</summary>
    public static string? Problem(string? value, int maxBytes)
    {
        if (value is null)
        {
            return "it is missing";
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            return "it contains a NUL character (U+0000), which PostgreSQL does not store in text";
        }

        // Strict UTF-8 throws on an unpaired surrogate, which no UTF-8 text can hold.
        int bytes;
        try
        {
            bytes = Strict.GetByteCount(value);
        }
        catch (EncoderFallbackException)
        {
            return "it contains an unpaired UTF-16 surrogate, which is not text";
        }

        return bytes > maxBytes ? $"it is {bytes} bytes long in UTF-8, more than the limit of {maxBytes}" : null;
    }

    /// <summary>Whether <paramref name="value"/> passes <see cref="Problem"/>.</summary>
    public static bool IsAcceptable(string? value, int maxBytes) => Problem(value, maxBytes) is null;

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
