namespace PartialReplica.Authn;

/// <summary>The outcome of validating a token: the subject role id, or why it was refused.</summary>
/// <param name="Subject">The <c>sub</c> claim (a Conjur role id) when valid.</param>
/// <param name="Failure">Why the token was refused (safe to log: it never quotes the token).</param>
public sealed record TokenValidation(string? Subject, string? Failure)
{
    /// <summary>Whether the token was accepted.</summary>
    public bool IsValid => Subject is not null;
}
