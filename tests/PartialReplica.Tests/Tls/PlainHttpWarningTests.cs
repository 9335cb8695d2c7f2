using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PartialReplica.Tests.Hosting;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Tests.Tls;

/// <summary>
/// A host serving plain HTTP where other machines can reach it says so once at start. Nothing here listens beyond
/// loopback on this machine: the one wildcard bind happens inside a network namespace of its own, which no other
/// machine (nor this one) can reach.
/// </summary>
public sealed class PlainHttpWarningTests
{
    private const int WarningEventId = 2560;
    private const string UnreachableLeader = "Host=127.0.0.1;Port=1;Database=none;Username=none;Password=none;Timeout=1";

    [Fact]
    public async Task Serve_gateway_on_a_wildcard_address_over_plain_http_prints_one_warning_naming_it()
    {
        var lines = await ServeInOwnNetworkAsync(line => line.Contains("Application started", StringComparison.Ordinal),
            "serve", "gateway", "--leader", UnreachableLeader, "--urls", "http://0.0.0.0:0");

        // The binary logs one JSON document per line (its appsettings choose the JSON console formatter).
        var warnings = lines
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("EventId").GetInt32() == WarningEventId)
            .ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal("Warning", warning.GetProperty("LogLevel").GetString());
        var message = warning.GetProperty("Message").GetString()!;
        Assert.Matches(@"^Serving plain HTTP on http://0\.0\.0\.0:\d+, which other machines can reach: ", message);
        Assert.Contains("Kestrel:Certificates:Default:Path", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_and_agent_on_loopback_or_https_do_not_warn()
    {
        using var ca = TestCertificates.CreateAuthority("warning-ca");
        var certificate = ca.Issue("host");
        var https = WebHosts.Https(certificate.CertificatePath, certificate.KeyPath);

        var gatewayPlain = await StartedWarningsAsync(GatewayApplication.Build([], Gateway(new() { ["urls"] = "http://127.0.0.1:0" })));
        var gatewayHttps = await StartedWarningsAsync(GatewayApplication.Build([], Gateway(https)));
        var agentPlain = await StartedWarningsAsync(AgentApplication.Build([], Agent(new() { ["urls"] = "http://127.0.0.1:0" })));

        Assert.Equal(("http://127.0.0.1:", 0), (gatewayPlain.Address[..17], gatewayPlain.Warnings));
        Assert.Equal(("https://127.0.0.1:", 0), (gatewayHttps.Address[..18], gatewayHttps.Warnings));
        Assert.Equal(("http://127.0.0.1:", 0), (agentPlain.Address[..17], agentPlain.Warnings));
    }

    private static Dictionary<string, string?> Gateway(Dictionary<string, string?> settings)
    {
        settings["Gateway:Leader"] = UnreachableLeader;
        settings["Gateway:GatewayKey"] = TestGatewayKey.Base64;
        settings["Gateway:DataKey"] = TestDataKey.Base64;
        settings["Dispatch:Enabled"] = "false";
        return settings;
    }

    private static Dictionary<string, string?> Agent(Dictionary<string, string?> settings)
    {
        settings["Agent:Name"] = "conjur/followers/warning";
        settings["Agent:Database"] = UnreachableLeader;
        settings["Agent:GatewayUrl"] = "http://127.0.0.1:1";
        return settings;
    }

    /// <summary>Starts <paramref name="app"/>, counting warnings of the event while it starts (its started callbacks run inside StartAsync).</summary>
    private static async Task<(string Address, int Warnings)> StartedWarningsAsync(WebApplication app)
    {
        await using (app)
        {
            var provider = new CapturedLogs();
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(provider);
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var warnings = provider.Entries.Count(e => e.EventId.Id == WarningEventId);
            await app.StopAsync();
            return (address, warnings);
        }
    }

    /// <summary>
    /// Runs the real binary inside a new network namespace (<c>unshare --net</c>: only a loopback interface that is
    /// down, so a wildcard bind is reachable from nowhere) until a line matches <paramref name="until"/>; returns its output.
    /// </summary>
    private static async Task<List<string>> ServeInOwnNetworkAsync(Func<string, bool> until, params string[] arguments)
    {
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--net");
        if (!Environment.IsPrivilegedProcess)
        {
            info.ArgumentList.Add("--map-root-user");
        }

        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "partial-replica.dll"));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("PARTIALREPLICA_", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["PARTIALREPLICA_GATEWAY_KEY"] = TestGatewayKey.Base64;
        info.Environment["CONJUR_DATA_KEY"] = TestDataKey.Base64;

        var lines = new ConcurrentQueue<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.Exited += (_, _) => done.TrySetResult();
        process.EnableRaisingEvents = true;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail("The host did not report its start within 60 s:\n" + string.Join('\n', lines));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        var output = lines.ToList();
        Assert.True(output.Any(until), "The host ended before it started:\n" + string.Join('\n', output));
        return output;

        void Collect(string? line)
        {
            if (line is null)
            {
                return;
            }

            lines.Enqueue(line);
            if (until(line))
            {
                done.TrySetResult();
            }
        }
    }
}
