
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.UnitTests.Gateways;

/// <summary>The lease settings' checks: the defaults pass, and a setting out of bounds is one line naming it.</summary>
public sealed class LeaseOptionsTests
{
    [Fact]
    public void Defaults_pass_and_hand_a_killed_gateways_followers_over_within_ten_seconds()
    {
        var options = new DispatchOptions();

        Assert.Empty(options.Problems());
        Assert.True(options.LeaseDuration + options.LeaseRenewInterval <= TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("00:00:02", "00:00:03", "Dispatch:LeaseDuration (00:00:03) must be at least twice Dispatch:LeaseRenewInterval (00:00:02)")]
    [InlineData("00:00:00", "00:00:06", "Dispatch:LeaseRenewInterval must be a positive time span")]
    [InlineData("00:00:02", "00:10:00", "Dispatch:LeaseDuration (00:10:00) must be at most 5 minutes")]
    public void Lease_settings_out_of_bounds_are_named(string renew, string lease, string problem)
    {
        var options = new DispatchOptions { LeaseRenewInterval = TimeSpan.Parse(renew, System.Globalization.CultureInfo.InvariantCulture), LeaseDuration = TimeSpan.Parse(lease, System.Globalization.CultureInfo.InvariantCulture) };

        Assert.Contains(options.Problems(), p => p.StartsWith(problem, StringComparison.Ordinal));
    }
}
