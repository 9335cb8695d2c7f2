using PartialReplica.Leader.Dispatch;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Gateways;

/// <summary>The lease settings and the gateway id are checked at start: one line naming the setting, exit code 2.</summary>
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

    [Theory]
    [InlineData("Dispatch__LeaseDuration", "00:00:03", "error: Dispatch:LeaseDuration (00:00:03) must be at least twice Dispatch:LeaseRenewInterval (00:00:02), so one late renewal does not end the lease.")]
    [InlineData("PARTIALREPLICA_GATEWAY_ID", " ", "error: The gateway id must be 1 to 200 printable characters (set Gateway:Id or PARTIALREPLICA_GATEWAY_ID).")]
    [InlineData("PARTIALREPLICA_GATEWAY_PUBLIC_URL", "gw-a:8080", "error: The gateway's public URL must be an absolute http:// or https:// URL (set Gateway:PublicUrl or PARTIALREPLICA_GATEWAY_PUBLIC_URL).")]
    public async Task Serve_gateway_refuses_a_bad_setting_with_one_line_before_it_starts(string variable, string value, string line)
    {
        // Nothing listens on port 1: had the check let the gateway start, it would not exit by itself.
        var result = await CliProcess.RunAsync(
            new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = "Host=127.0.0.1;Port=1;Username=nobody;Database=none", [variable] = value },
            "serve", "gateway", "--urls", "http://127.0.0.1:0");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(line, (result.Stdout + result.Stderr).Trim());
    }
}
