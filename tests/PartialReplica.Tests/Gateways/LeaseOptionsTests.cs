using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Gateways;

/// <summary>The lease settings and the gateway id are checked at start: one line naming the setting, exit code 2.</summary>
public sealed class LeaseOptionsTests
{
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
