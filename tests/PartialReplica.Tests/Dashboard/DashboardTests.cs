using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using PartialReplica.Tests.Infrastructure;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace PartialReplica.Tests.Dashboard;

/// <summary>
/// SPEC F11 in a real browser (Debian's chromium driven by Playwright) against a real gateway with two
/// followers and their agents: the page lists both with the counts <c>status --json</c> prints, follows a
/// change on the leader without a reload, draws each follower's lag and push rate from the gateway's history during
/// a write burst, names a follower's failure while its agent is down, and never shows a secret value.
/// </summary>
public sealed class DashboardTests(DashboardWorld fixture, ITestOutputHelper output) : IClassFixture<DashboardWorld>
{
    private static readonly float Wait = DashboardBrowser.Wait;
    private readonly TestWorld _world = fixture.World;

    [Fact]
    public async Task Status_is_admin_only_and_is_the_document_status_json_prints()
    {
        await AwaitSettledAsync();
        var followerToken = await _world.AuthenticateAsync("host/" + DashboardWorld.West, await _world.ApiKeyAsync(DashboardWorld.West));
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);

        foreach (var path in new[] { "/status", "/status/replica-sets", "/status/history" })
        {
            using var anonymous = await _world.GetAsync(path, null);
            using var asFollower = await _world.GetAsync(path, followerToken);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, asFollower.StatusCode);
        }

        var cli = await CliStatusAsync();
        using var response = await _world.GetAsync("/status", admin);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        // The WAL a slot retains moves with every heartbeat between the two reads, and a gateway's lease with every
        // renewal: present in both, compared apart.
        foreach (var document in new[] { cli, served })
        {
            foreach (var follower in document["followers"]!.AsArray())
            {
                Assert.True(follower!["retainedWalBytes"]!.GetValue<long>() >= 0);
                follower.AsObject().Remove("retainedWalBytes");
            }

            foreach (var gateway in document["gateways"]!.AsArray())
            {
                Assert.True(gateway!["leaseAgeMs"]!.GetValue<long>() >= 0);
                Assert.True(gateway["leaseLeftMs"]!.GetValue<long>() >= 0);
                gateway.AsObject().Remove("leaseAgeMs");
                gateway.AsObject().Remove("leaseLeftMs");
            }
        }

        Assert.True(JsonNode.DeepEquals(cli, served), $"GET /status differs from status --json:\n{served}\n{cli}");
        Assert.Equal([DashboardWorld.East, DashboardWorld.West], Followers(served).Select(f => (string)f["name"]!));

        using var sets = await _world.GetAsync("/status/replica-sets", admin);
        var replicaSets = JsonNode.Parse(await sets.Content.ReadAsStringAsync())!["replicaSets"]!.AsArray();
        Assert.Equal(["east", "west"], replicaSets.Select(s => (string)s!["name"]!));
        Assert.All(replicaSets, s => Assert.Equal(1, (int)s!["followers"]!));
    }

    [Fact]
    public async Task Page_lists_both_followers_with_status_json_counts_and_follows_a_leader_change_live()
    {
        await AwaitSettledAsync();
        var requests = new List<string>();
        await WithSignedInPageAsync(requests, async page =>
        {
            await Expect(page.Locator("#connection")).ToHaveTextAsync("live", new() { Timeout = Wait });
            await Expect(page.Locator("#followers tbody tr")).ToHaveCountAsync(2, new() { Timeout = Wait });
            await ExpectPageMatchesCliAsync(page);
            await Expect(Cell(page, DashboardWorld.East, "delivered")).ToHaveTextAsync("2", new() { Timeout = Wait });
            await Expect(page.Locator("#replica-sets tbody tr")).ToHaveCountAsync(2, new() { Timeout = Wait });
            await Expect(page.Locator("#replica-sets tr[data-replica-set='east'] td[data-field='followers']")).ToHaveTextAsync("1");

            // A change on the leader (the first value of a variable east-1 is granted) reaches the page by polling.
            await page.EvaluateAsync("() => { window.__notReloaded = true; }");
            await _world.SetSecretAsync(DashboardWorld.InventoryDb, DashboardWorld.ValuePrefix + "inventory-db");
            await Expect(Cell(page, DashboardWorld.East, "delivered")).ToHaveTextAsync("3", new() { Timeout = Wait });
            Assert.True(await page.EvaluateAsync<bool>("() => window.__notReloaded === true"), "the page reloaded");
            await AwaitSettledAsync();
            await ExpectPageMatchesCliAsync(page);

            await Expect(page.Locator("#replica-sets tr[data-replica-set='east'] td[data-field='members']")).ToHaveTextAsync(DashboardWorld.East);
            await Expect(page.Locator("#replica-sets tr[data-replica-set='west'] td[data-field='members']")).ToHaveTextAsync(DashboardWorld.West);
            await ExpectCardsMatchStatusAsync(page);

            // No secret value, API key or token is ever on the page.
            var html = await page.ContentAsync();
            Assert.DoesNotContain(DashboardWorld.ValuePrefix, html, StringComparison.Ordinal);
            Assert.DoesNotContain(_world.AdminApiKey, html, StringComparison.Ordinal);
            Assert.Equal("", await page.InputValueAsync("#api-key"));

            // A pasted token works as well as the API key.
            await page.ClickAsync("#sign-out");
            await Expect(page.Locator("#followers-section")).ToBeHiddenAsync();
            await Expect(page.Locator("#history-section")).ToBeHiddenAsync();
            await page.FillAsync("#token", await _world.AuthenticateAsync("admin", _world.AdminApiKey));
            await page.ClickAsync("#login-token button[type=submit]");
            await Expect(page.Locator("#followers tbody tr")).ToHaveCountAsync(2, new() { Timeout = Wait });
        });

        Assert.NotEmpty(requests);
        Assert.All(requests, url => Assert.Equal("127.0.0.1", new Uri(url).Host));
        Assert.DoesNotContain(requests, url => new Uri(url).AbsolutePath.StartsWith("/edge", StringComparison.Ordinal));
    }

    [Fact]
    public async Task History_is_sampled_each_second_and_shows_both_followers_pushes_during_a_write_burst()
    {
        await AwaitSettledAsync();
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);
        var before = await HistoryAsync(admin);
        Assert.Equal(1000, (long)before["intervalMs"]!);
        Assert.Equal(900, (long)before["windowSeconds"]!);
        var burstStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        using var stop = new CancellationTokenSource();
        var burst = _world.WriteVersionsAsync(DashboardWorld.BillingDb, i => DashboardWorld.ValuePrefix + "burst-" + i, stop.Token);
        JsonNode history = before;
        try
        {
            // BillingDb is granted to both followers: each one's push rate rises above zero after the burst starts.
            await Eventually.HoldsAsync(async () =>
            {
                history = await HistoryAsync(admin);
                return new[] { DashboardWorld.East, DashboardWorld.West }.All(f => PushesSince(history, f, burstStart) > 0);
            }, "both followers' pushes per second above zero in the history after the burst started");
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.True(await burst > 0);
        var at = history["at"]!.AsArray().Select(t => (long)t!).ToList();
        Assert.True(at.Count > before["at"]!.AsArray().Count, "no sample was added during the burst");
        Assert.True(at.Count <= 900, $"{at.Count} samples kept, more than 15 minutes' worth");
        Assert.True(at.Zip(at.Skip(1)).All(p => p.First < p.Second), "sample times are not ascending");
        var followers = history["followers"]!.AsArray().Select(f => f!).ToList();
        Assert.Equal([DashboardWorld.East, DashboardWorld.West], followers.Select(f => (string)f["name"]!));
        foreach (var follower in followers)
        {
            foreach (var series in new[] { "lagMs", "pending", "pushesPerSecond" })
            {
                Assert.Equal(at.Count, follower[series]!.AsArray().Count);
            }

            // The leader answered every second of the burst: no gap in the lag series there.
            var lag = follower["lagMs"]!.AsArray();
            Assert.All(at.Select((t, i) => (t, i)).Where(s => s.t >= burstStart), s => Assert.NotNull(lag[s.i]));
        }

        Assert.DoesNotContain(DashboardWorld.ValuePrefix, history.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Charts_draw_real_lag_and_push_rate_during_a_write_burst()
    {
        await AwaitSettledAsync();
        var requests = new List<string>();
        await WithSignedInPageAsync(requests, async page =>
        {
            await Expect(page.Locator("#follower-cards .follower-card")).ToHaveCountAsync(2, new() { Timeout = Wait });
            // Settled: the newest sample of every chart is zero (nothing pushed, nothing waiting), so what rises
            // below comes from the burst, not from the pushes that filled the followers at the start.
            foreach (var follower in new[] { DashboardWorld.East, DashboardWorld.West })
            {
                foreach (var kind in new[] { "lag", "pushes" })
                {
                    await Expect(Chart(page, follower, kind)).ToHaveAttributeAsync("data-latest", "0", new() { Timeout = Wait });
                }
            }

            using var stop = new CancellationTokenSource();
            var burst = _world.WriteVersionsAsync(DashboardWorld.BillingDb, i => DashboardWorld.ValuePrefix + "burst-" + i, stop.Token);
            try
            {
                // BillingDb is granted to both: each follower's charts draw a newest point above zero during the burst.
                foreach (var follower in new[] { DashboardWorld.East, DashboardWorld.West })
                {
                    foreach (var kind in new[] { "pushes", "lag" })
                    {
                        var chart = Chart(page, follower, kind);
                        await Eventually.HoldsAsync(() => NewestPointRisesAsync(chart), $"{follower}'s {kind} chart draws its newest sample above zero");
                    }
                }

                // The README's screenshot: the dashboard with its charts moving, a few samples into the burst.
                var eastLag = Chart(page, DashboardWorld.East, "lag");
                var samples = int.Parse((await eastLag.GetAttributeAsync("data-samples"))!, CultureInfo.InvariantCulture);
                await Eventually.HoldsAsync(async () => int.Parse((await eastLag.GetAttributeAsync("data-samples"))!, CultureInfo.InvariantCulture) >= samples + 3,
                    "three more samples drawn during the burst");
                var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "dashboard.png");
                Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
                Assert.True(new FileInfo(screenshot).Length > 0);
                output.WriteLine($"Dashboard screenshot: {screenshot}");
                // Set to docs/dashboard.png to refresh the README's screenshot.
                if (Environment.GetEnvironmentVariable("PARTIALREPLICA_DASHBOARD_SCREENSHOT") is { Length: > 0 } readme)
                {
                    File.Copy(screenshot, readme, overwrite: true);
                }
            }
            finally
            {
                await stop.CancelAsync();
            }

            Assert.True(await burst > 0);
            Assert.DoesNotContain(DashboardWorld.ValuePrefix, await page.ContentAsync(), StringComparison.Ordinal);
        });

        Assert.All(requests, url => Assert.Equal("127.0.0.1", new Uri(url).Host));
    }

    [Fact]
    public async Task Follower_card_names_the_failure_while_its_agent_is_down_and_clears_after_it_returns()
    {
        await AwaitSettledAsync();
        await WithSignedInPageAsync([], async page =>
        {
            var lastError = page.Locator($"#follower-cards .follower-card[data-follower='{DashboardWorld.West}'] dd[data-field='lastError']");
            await Expect(lastError).ToHaveAttributeAsync("data-value", "", new() { Timeout = Wait });
            await Expect(lastError).ToHaveTextAsync("\u2014");

            await _world.StopAgentAsync(DashboardWorld.West);
            try
            {
                await _world.SetSecretAsync(DashboardWorld.BillingToken, DashboardWorld.ValuePrefix + "while-west-is-down");
                var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);
                string? reported = null;
                await Eventually.HoldsAsync(async () =>
                {
                    using var response = await _world.GetAsync("/status", admin);
                    var west = Followers(JsonNode.Parse(await response.Content.ReadAsStringAsync())!).Single(f => (string)f["name"]! == DashboardWorld.West);
                    reported = (string?)west["lastError"];
                    return reported is not null;
                }, "the status document reports west-1's failed push");

                // The card shows the error the gateway reports (it may be refreshed while we look: compare the live document).
                await Expect(lastError).Not.ToHaveAttributeAsync("data-value", "", new() { Timeout = Wait });
                await ExpectCardsMatchStatusAsync(page);
                var east = page.Locator($"#follower-cards .follower-card[data-follower='{DashboardWorld.East}'] dd[data-field='lastError']");
                await Expect(east).ToHaveAttributeAsync("data-value", "");
                Assert.DoesNotContain(DashboardWorld.ValuePrefix, await page.ContentAsync(), StringComparison.Ordinal);
            }
            finally
            {
                await _world.RestartAgentAsync(DashboardWorld.West);
            }

            await AwaitSettledAsync();
            await Expect(lastError).ToHaveAttributeAsync("data-value", "", new() { Timeout = Wait });
            await Expect(lastError).ToHaveTextAsync("\u2014");
        });
    }

    private static ILocator Chart(IPage page, string follower, string kind) =>
        page.Locator($"#follower-cards .follower-card[data-follower='{follower}'] svg[data-chart='{kind}']");

    /// <summary>
    /// Whether <paramref name="chart"/>'s newest sample is above zero and drawn above the zero line (y grows downwards
    /// in SVG); read in one evaluation, so a refresh cannot come between the number and the drawing.
    /// </summary>
    private static Task<bool> NewestPointRisesAsync(ILocator chart) => chart.EvaluateAsync<bool>("""
        svg => {
          const baseline = Number(svg.querySelector("line.axis").getAttribute("y1"));
          const lines = svg.querySelectorAll(".line");
          const last = lines[lines.length - 1];
          if (!last || svg.dataset.latest === "" || !(Number(svg.dataset.latest) > 0)) return false;
          const y = last.tagName === "circle"
            ? Number(last.getAttribute("cy"))
            : Number(last.getAttribute("points").trim().split(" ").pop().split(",")[1]);
          return y < baseline;
        }
        """);

    /// <summary>Pushes per second summed over the samples taken after <paramref name="sinceMs"/>.</summary>
    private static double PushesSince(JsonNode history, string follower, long sinceMs)
    {
        var at = history["at"]!.AsArray().Select(t => (long)t!).ToList();
        var series = history["followers"]!.AsArray().SingleOrDefault(f => (string)f!["name"]! == follower)?["pushesPerSecond"]?.AsArray();
        return series is null ? 0 : at.Select((t, i) => t > sinceMs ? (double?)series[i] ?? 0 : 0).Sum();
    }

    private async Task<JsonNode> HistoryAsync(string adminToken)
    {
        using var response = await _world.GetAsync("/status/history", adminToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    /// <summary>
    /// Each follower's card shows what <c>GET /status</c> says now: last push, retained WAL, breaker, last error and
    /// the last ten errors, or the dash where the document has nothing. Retried until a refresh agrees.
    /// </summary>
    private async Task ExpectCardsMatchStatusAsync(IPage page)
    {
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);
        string? difference = null;
        try
        {
            await Eventually.HoldsAsync(async () => (difference = await CardsDifferenceAsync(page, admin)) is null,
                "every follower card shows what GET /status says", TimeSpan.FromSeconds(10));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message} (last difference: {difference})");
        }
    }

    /// <summary>The first way a follower card differs from <c>GET /status</c> now, or null when none does.</summary>
    private async Task<string?> CardsDifferenceAsync(IPage page, string adminToken)
    {
        using var response = await _world.GetAsync("/status", adminToken);
        foreach (var follower in Followers(JsonNode.Parse(await response.Content.ReadAsStringAsync())!))
        {
            var card = page.Locator($"#follower-cards .follower-card[data-follower='{(string)follower["name"]!}']");
            foreach (var field in new[] { "lastPushAt", "breaker", "lastError" })
            {
                var expected = follower[field]?.GetValue<string>() ?? "";
                var dd = card.Locator($"dd[data-field='{field}']");
                var shownValue = await dd.GetAttributeAsync("data-value");
                if (shownValue != expected || (expected == "" && await dd.TextContentAsync() != "\u2014"))
                {
                    return $"{follower["name"]} {field}: page {shownValue}, status {expected}";
                }
            }

            var wal = await card.Locator("dd[data-field='retainedWalBytes']").TextContentAsync();
            if ((follower["retainedWalBytes"] is null) != (wal == "\u2014"))
            {
                return $"{follower["name"]} retainedWalBytes: page {wal}, status {follower["retainedWalBytes"]}";
            }

            var errors = follower["recentErrors"]?.AsArray().Select(e => (string)e!["at"]!).ToList();
            var shown = await card.Locator("ol.recent-errors li[data-at]").EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.at)");
            var dash = await card.Locator("p.recent-errors").CountAsync() == 1;
            if (errors is null ? !dash || shown.Length != 0 : dash || !errors.SequenceEqual(shown))
            {
                return $"{follower["name"]} recentErrors: page [{string.Join(", ", shown)}], status [{string.Join(", ", errors ?? [])}]";
            }
        }

        return null;
    }

    private Task WithSignedInPageAsync(List<string> requests, Func<IPage, Task> body) => DashboardBrowser.WithSignedInPageAsync(_world, requests, body);

    private static ILocator Cell(IPage page, string follower, string field) =>
        page.Locator($"#followers tr[data-follower='{follower}'] td[data-field='{field}']");

    /// <summary>Each follower's row shows what the real CLI's <c>status --json</c> says about it.</summary>
    private async Task ExpectPageMatchesCliAsync(IPage page)
    {
        var cli = Followers(await CliStatusAsync()).ToList();
        Assert.Equal(2, cli.Count);
        foreach (var follower in cli)
        {
            var name = (string)follower["name"]!;
            foreach (var field in new[] { "granted", "delivered", "pending", "subscription" })
            {
                await Expect(Cell(page, name, field)).ToHaveTextAsync(follower[field]!.ToString(), new() { Timeout = Wait });
            }

            var sets = string.Join(", ", follower["replicaSets"]!.AsArray().Select(s => (string)s!));
            await Expect(Cell(page, name, "replicaSets")).ToHaveTextAsync(sets);
        }
    }

    private async Task<JsonNode> CliStatusAsync()
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = _world.Leader }, "status", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return JsonNode.Parse(result.Stdout)!;
    }

    private static IEnumerable<JsonNode> Followers(JsonNode status) => status["followers"]!.AsArray().Select(f => f!);

    /// <summary>Waits until every follower has nothing pending and its agent answers (a stable picture).</summary>
    private async Task AwaitSettledAsync()
    {
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await _world.GetAsync("/status", admin);
            var followers = Followers(JsonNode.Parse(await response.Content.ReadAsStringAsync())!).ToList();
            return followers.Count == 2 && followers.All(f =>
                (long)f["pending"]! == 0 && f["delivered"] is not null && (string)f["subscription"]! == "streaming"
                && f["lastError"] is null);
        }, "both followers settled: nothing pending, agents answering, subscriptions streaming");
    }
}
