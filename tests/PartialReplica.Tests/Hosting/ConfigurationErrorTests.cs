using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Hosting;

/// <summary>
/// A setting that is missing or malformed ends the real process with exit code 2 and one line on stderr naming the
/// setting and every way to set it; no stack trace, nothing on stdout, nothing logged before it.
/// </summary>
public sealed class ConfigurationErrorTests
{
    // Well-formed and never reached: the settings are refused before anything connects.
    private const string Unreachable = "Host=127.0.0.1;Port=1;Database=nowhere;Timeout=1";

    public static TheoryData<string[], string[], string> Cases => new()
    {
        {
            ["PARTIALREPLICA_FOLLOWER_DB", Unreachable],
            ["serve", "follower", "--name", "conjur/followers/east-1", "--urls", "http://127.0.0.1:0"],
            "error: No gateway URL given: pass --gateway-url, or set PARTIALREPLICA_GATEWAY_URL or Agent:GatewayUrl."
        },
        {
            ["PARTIALREPLICA_FOLLOWER_DB", Unreachable],
            ["serve", "follower", "--name", "conjur/followers/east-1", "--gateway-url", "gateway:8080", "--urls", "http://127.0.0.1:0"],
            "error: The gateway URL is not an absolute http:// or https:// URL such as http://gateway:8080: pass --gateway-url, or set PARTIALREPLICA_GATEWAY_URL or Agent:GatewayUrl."
        },
        {
            ["PARTIALREPLICA_GATEWAY_URL", "http://127.0.0.1:9"],
            ["serve", "follower", "--name", "conjur/followers/east-1", "--urls", "http://127.0.0.1:0"],
            "error: No follower database given: pass --db, or set PARTIALREPLICA_FOLLOWER_DB or Agent:Database."
        },
        {
            ["PARTIALREPLICA_GATEWAY_URL", "http://127.0.0.1:9"],
            ["serve", "follower", "--name", "conjur/followers/east-1", "--db", "postgresql://[nowhere", "--urls", "http://127.0.0.1:0"],
            "error: The follower database URI is malformed: an IPv6 host address has no closing \"]\": pass --db, or set PARTIALREPLICA_FOLLOWER_DB or Agent:Database."
        },
        {
            [],
            ["serve", "gateway", "--urls", "http://127.0.0.1:0"],
            "error: No leader database given: pass --leader, or set PARTIALREPLICA_LEADER or Gateway:Leader."
        },
        {
            ["PARTIALREPLICA_LEADER", Unreachable],
            ["serve", "gateway", "--urls", "http://127.0.0.1:99999"],
            "error: 'http://127.0.0.1:99999' is not an address to listen on (e.g. http://127.0.0.1:8080, port 0–65535): pass --urls, or set ASPNETCORE_URLS or urls."
        },
        {
            ["PARTIALREPLICA_LEADER", Unreachable, "PARTIALREPLICA_GATEWAY_KEY", "c2hvcnQ="],
            ["serve", "gateway", "--urls", "http://127.0.0.1:0"],
            "error: PARTIALREPLICA_GATEWAY_KEY decodes to 5 bytes; AES-256 needs exactly 32: set PARTIALREPLICA_GATEWAY_KEY to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`), the same value on every gateway of this leader (or set Gateway:GatewayKey)."
        },
        {
            ["PARTIALREPLICA_LEADER", Unreachable, "Gateway__TokenLifetime", "01:00:00"],
            ["serve", "gateway", "--urls", "http://127.0.0.1:0"],
            "error: The field TokenLifetime must be between 00:00:10 and 00:08:00: set Gateway__TokenLifetime or Gateway:TokenLifetime."
        },
        {
            ["PARTIALREPLICA_LEADER", Unreachable, "Gateway__TokenLifetime", "an hour"],
            ["serve", "gateway", "--urls", "http://127.0.0.1:0"],
            "error: Failed to convert configuration value 'an hour' at 'Gateway:TokenLifetime' to type 'System.TimeSpan': correct it where it is set (option, environment variable or appsettings)."
        },
        {
            [],
            ["status"],
            "error: No leader database given: pass --leader or set PARTIALREPLICA_LEADER."
        },
        {
            ["PARTIALREPLICA_LEADER", "Host=127.0.0.1;Port=1;=nowhere"],
            ["status"],
            "error: The leader connection string is malformed (Format of the initialization string does not conform to specification starting at index 22.): pass --leader or set PARTIALREPLICA_LEADER."
        },
        {
            ["PARTIALREPLICA_LEADER", Unreachable],
            ["follower", "init", "--name", "conjur/followers/east-1"],
            "error: No follower database given: pass --db or set PARTIALREPLICA_FOLLOWER_DB."
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_missing_or_malformed_setting_exits_2_with_one_line_naming_it(string[] environment, string[] arguments, string line)
    {
        var variables = new Dictionary<string, string>();
        for (var i = 0; i < environment.Length; i += 2)
        {
            variables[environment[i]] = environment[i + 1];
        }

        var result = await CliProcess.RunAsync(variables, arguments);

        Assert.Equal(ExitCodeBadInput, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Equal(line + Environment.NewLine, result.Stderr);
    }

    private const int ExitCodeBadInput = 2;
}
