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
/// change on the leader without a reload, and never shows a secret value.
/// </summary>
public sealed class DashboardTests(DashboardWorld world, ITestOutputHelper output) : IClassFixture<DashboardWorld>
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly float Wait = (float)Eventually.DefaultDeadline.TotalMilliseconds;

    [Fact]
    public async Task Status_is_admin_only_and_is_the_document_status_json_prints()
    {
        await AwaitSettledAsync();
        var followerToken = await world.AuthenticateAsync("host/" + DashboardWorld.West, world.FollowerApiKeys[DashboardWorld.West]);
        var admin = await world.AuthenticateAsync("admin", world.AdminApiKey);

        foreach (var path in new[] { "/status", "/status/replica-sets" })
        {
            using var anonymous = await world.GetAsync(path, null);
            using var asFollower = await world.GetAsync(path, followerToken);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, asFollower.StatusCode);
        }

        var cli = await CliStatusAsync();
        using var response = await world.GetAsync("/status", admin);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        // The WAL a slot retains moves with every heartbeat between the two reads: present in both, compared apart.
        foreach (var document in new[] { cli, served })
        {
            foreach (var follower in document["followers"]!.AsArray())
            {
                Assert.True(follower!["retainedWalBytes"]!.GetValue<long>() >= 0);
                follower.AsObject().Remove("retainedWalBytes");
            }
        }

        Assert.True(JsonNode.DeepEquals(cli, served), $"GET /status differs from status --json:\n{served}\n{cli}");
        Assert.Equal([DashboardWorld.East, DashboardWorld.West], Followers(served).Select(f => (string)f["name"]!));

        using var sets = await world.GetAsync("/status/replica-sets", admin);
        var replicaSets = JsonNode.Parse(await sets.Content.ReadAsStringAsync())!["replicaSets"]!.AsArray();
        Assert.Equal(["east", "west"], replicaSets.Select(s => (string)s!["name"]!));
        Assert.All(replicaSets, s => Assert.Equal(1, (int)s!["followers"]!));
    }

    [Fact]
    public async Task Page_lists_both_followers_with_status_json_counts_and_follows_a_leader_change_live()
    {
        await AwaitSettledAsync();
        var requests = new List<string>();
        var userDataDir = Directory.CreateTempSubdirectory("pr-dashboard-chromium-").FullName;
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(userDataDir, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
                ViewportSize = new ViewportSize { Width = 1400, Height = 800 },
            });
            // The browser may load loopback pages only: anything else is refused and fails the test below.
            await browser.RouteAsync("**/*", async route =>
            {
                requests.Add(route.Request.Url);
                if (new Uri(route.Request.Url).Host == "127.0.0.1")
                {
                    await route.ContinueAsync();
                }
                else
                {
                    await route.AbortAsync();
                }
            });
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
            page.SetDefaultTimeout(Wait);

            await page.GotoAsync(world.GatewayUrl + "/dashboard");
            await page.FillAsync("#api-key", world.AdminApiKey);
            await page.ClickAsync("#login-key button[type=submit]");

            await Expect(page.Locator("#connection")).ToHaveTextAsync("live", new() { Timeout = Wait });
            await Expect(page.Locator("#followers tbody tr")).ToHaveCountAsync(2, new() { Timeout = Wait });
            await ExpectPageMatchesCliAsync(page);
            await Expect(Cell(page, DashboardWorld.East, "delivered")).ToHaveTextAsync("2", new() { Timeout = Wait });
            await Expect(page.Locator("#replica-sets tbody tr")).ToHaveCountAsync(2, new() { Timeout = Wait });
            await Expect(page.Locator("#replica-sets tr[data-replica-set='east'] td[data-field='followers']")).ToHaveTextAsync("1");

            // A change on the leader (the first value of a variable east-1 is granted) reaches the page by polling.
            await page.EvaluateAsync("() => { window.__notReloaded = true; }");
            await world.SetSecretAsync(DashboardWorld.InventoryDb, "inventory-db");
            await Expect(Cell(page, DashboardWorld.East, "delivered")).ToHaveTextAsync("3", new() { Timeout = Wait });
            Assert.True(await page.EvaluateAsync<bool>("() => window.__notReloaded === true"), "the page reloaded");
            await AwaitSettledAsync();
            await ExpectPageMatchesCliAsync(page);

            var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "dashboard.png");
            Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
            Assert.True(new FileInfo(screenshot).Length > 0);
            output.WriteLine($"Dashboard screenshot: {screenshot}");
            Console.WriteLine($"Dashboard screenshot: {screenshot}");

            // No secret value, API key or token is ever on the page.
            var html = await page.ContentAsync();
            Assert.DoesNotContain(DashboardWorld.ValuePrefix, html, StringComparison.Ordinal);
            Assert.DoesNotContain(world.AdminApiKey, html, StringComparison.Ordinal);
            Assert.Equal("", await page.InputValueAsync("#api-key"));

            // A pasted token works as well as the API key.
            await page.ClickAsync("#sign-out");
            await Expect(page.Locator("#followers-section")).ToBeHiddenAsync();
            await page.FillAsync("#token", await world.AuthenticateAsync("admin", world.AdminApiKey));
            await page.ClickAsync("#login-token button[type=submit]");
            await Expect(page.Locator("#followers tbody tr")).ToHaveCountAsync(2, new() { Timeout = Wait });
        }
        finally
        {
            Directory.Delete(userDataDir, recursive: true);
        }

        Assert.NotEmpty(requests);
        Assert.All(requests, url => Assert.Equal("127.0.0.1", new Uri(url).Host));
        Assert.DoesNotContain(requests, url => new Uri(url).AbsolutePath.StartsWith("/edge", StringComparison.Ordinal));
    }

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
        var result = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = world.Leader }, "status", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return JsonNode.Parse(result.Stdout)!;
    }

    private static IEnumerable<JsonNode> Followers(JsonNode status) => status["followers"]!.AsArray().Select(f => f!);

    /// <summary>Waits until every follower has nothing pending and its agent answers (a stable picture).</summary>
    private async Task AwaitSettledAsync()
    {
        var admin = await world.AuthenticateAsync("admin", world.AdminApiKey);
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await world.GetAsync("/status", admin);
            var followers = Followers(JsonNode.Parse(await response.Content.ReadAsStringAsync())!).ToList();
            return followers.Count == 2 && followers.All(f =>
                (long)f["pending"]! == 0 && f["delivered"] is not null && (string)f["subscription"]! == "streaming"
                && f["lastError"] is null);
        }, "both followers settled: nothing pending, agents answering, subscriptions streaming");
    }
}
