using System.CommandLine;
using PartialReplica.Conjur;

namespace PartialReplica.Cli.Commands;

/// <summary>The data key option, falling back to <c>CONJUR_DATA_KEY</c>.</summary>
internal static class DataKeyOption
{
    public static Option<string?> Create() => new("--data-key")
    {
        Description = "Base64 of the 32-byte data key (env CONJUR_DATA_KEY). Prefer the env var: options show in process lists.",
    };

    public static Slosilo Read(ParseResult result, Option<string?> option) =>
        Slosilo.FromBase64Key(result.GetValue(option) ?? Environment.GetEnvironmentVariable("CONJUR_DATA_KEY"));

    /// <summary>
    /// The data key when one is given, else null: for verbs that need it only to issue API keys (setup, follower init,
    /// policy loads), which say so when they must issue one. A key that is given but malformed is an error at once.
    /// </summary>
    public static Slosilo? ReadOptional(ParseResult result, Option<string?> option) =>
        (result.GetValue(option) ?? Environment.GetEnvironmentVariable("CONJUR_DATA_KEY")) is { Length: > 0 } base64
            ? Slosilo.FromBase64Key(base64)
            : null;
}
