using System.ComponentModel.DataAnnotations;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>Limits on failed authentications (configuration section <c>Gateway:AuthenticationLimits</c>).</summary>
internal sealed class AuthenticationLimitOptions
{
    public const string Section = "Gateway:AuthenticationLimits";

    /// <summary>Wrong keys for one login, from anywhere, per window before answers turn to 429.</summary>
    [Range(1, 1_000_000)]
    public int FailuresPerLogin { get; set; } = 10;

    /// <summary>Failed attempts from one client address (an IPv6 /64) per window before it is refused outright.</summary>
    [Range(1, 1_000_000)]
    public int FailuresPerAddress { get; set; } = 30;

    /// <summary>The window the counts are kept for; also how often failures are summarised in the log.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}
