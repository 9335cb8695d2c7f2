using Microsoft.Playwright;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Dashboard;

/// <summary>The dashboard in Debian's chromium, driven by Playwright (never <c>playwright install</c>).</summary>
internal static class DashboardBrowser
{
    public const string Chromium = "/usr/bin/chromium";

    /// <summary>How long a page expectation waits: the tests' usual deadline.</summary>
    public static readonly float Wait = (float)Eventually.DefaultDeadline.TotalMilliseconds;

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="world"/>'s dashboard in Debian's chromium, signed in with the admin's API key. The
    /// browser may load loopback pages only (every URL it asked for lands in <paramref name="requests"/>).
    /// </summary>
    public static Task WithSignedInPageAsync(TestWorld world, List<string> requests, Func<IPage, Task> body) =>
        WithPageAsync(requests, async page =>
        {
            await page.GotoAsync(world.GatewayUrl + "/dashboard");
            await page.FillAsync("#api-key", world.AdminApiKey);
            await page.ClickAsync("#login-key button[type=submit]");
            await body(page);
        });

    /// <summary>
    /// Runs <paramref name="body"/> on a blank page of Debian's chromium, <paramref name="height"/> pixels high. The
    /// browser may load loopback pages only (every URL it asked for lands in <paramref name="requests"/>).
    /// </summary>
    public static async Task WithPageAsync(List<string> requests, Func<IPage, Task> body, int height = 800)
    {
        var userDataDir = Directory.CreateTempSubdirectory("pr-dashboard-chromium-").FullName;
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(userDataDir, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
                ViewportSize = new ViewportSize { Width = 1400, Height = height },
            });
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
            await body(page);
        }
        finally
        {
            Directory.Delete(userDataDir, recursive: true);
        }
    }
}
