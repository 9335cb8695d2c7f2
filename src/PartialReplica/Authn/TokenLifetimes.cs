namespace PartialReplica.Authn;

/// <summary>How long gateway tokens live, and how long a retired signing key keeps verifying.</summary>
public static class TokenLifetimes
{
    /// <summary>The longest lifetime a token may have (SPEC S1: at most 8 minutes).</summary>
    public static readonly TimeSpan Max = TimeSpan.FromMinutes(8);

    /// <summary>The clock difference tolerated between issuer and validator.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>A retired key stays published this long: every token it signed has expired by then.</summary>
    public static readonly TimeSpan RetiredKeyGrace = Max + ClockSkew + ClockSkew;
}
