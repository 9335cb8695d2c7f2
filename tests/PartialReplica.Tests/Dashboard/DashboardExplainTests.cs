using Microsoft.Playwright;
using PartialReplica.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace PartialReplica.Tests.Dashboard;

/// <summary>
/// The dashboard's explain form (SPEC F11, F12) in a real browser (Debian's chromium driven by Playwright) against a
/// real gateway: it answers both ways — the chain that grants, the missing link that does not — names an unknown
/// follower, shows only while signed in, and never puts a secret value on the page.
/// </summary>
public sealed class DashboardExplainTests(DashboardWorld fixture) : IClassFixture<DashboardWorld>
{
    private static readonly float Wait = DashboardBrowser.Wait;
    private readonly TestWorld _world = fixture.World;

    [Fact]
    public async Task Explain_form_shows_the_granting_chain_and_the_missing_link()
    {
        await DashboardBrowser.WithPageAsync([], async page =>
        {
            await page.GotoAsync(_world.GatewayUrl + "/dashboard");
            await Expect(page.Locator("#explain-section")).ToBeHiddenAsync();
            await page.FillAsync("#api-key", _world.AdminApiKey);
            await page.ClickAsync("#login-key button[type=submit]");
            await Expect(page.Locator("#explain-section")).ToBeVisibleAsync(new() { Timeout = Wait });
            // The follower field suggests the registered followers.
            await Expect(page.Locator("#explain-followers option")).ToHaveCountAsync(2, new() { Timeout = Wait });

            // Granted: east-1 receives billing's password through east; west names the missing membership.
            await ExplainAsync(page, DashboardWorld.East, DashboardWorld.BillingDb);
            await Expect(page.Locator("#explain-verdict")).ToHaveTextAsync(
                $"default:host:{DashboardWorld.East} receives {DashboardWorld.BillingDb} (through east).", new() { Timeout = Wait });
            await Expect(page.Locator("#explain-verdict")).ToHaveAttributeAsync("data-granted", "true");
            await Expect(Field(page, "east", "granted")).ToHaveTextAsync("yes");
            await Expect(Field(page, "east", "chain").Locator("li")).ToHaveTextAsync(
            [
                $"default:host:{DashboardWorld.East} is a member of default:layer:conjur/replication-sets/east/followers",
                "default:layer:conjur/replication-sets/east/followers may replicate default:webservice:conjur/replication-sets/east",
                "default:group:conjur/replication-sets/east/replicated-data is a member of default:group:apps/secrets-readers",
                "default:group:apps/secrets-readers is a member of default:group:apps/billing-readers",
                $"default:group:apps/billing-readers may execute {DashboardWorld.BillingDb}",
            ]);
            await Expect(Field(page, "east", "missing")).ToHaveTextAsync("");
            await Expect(Field(page, "west", "granted")).ToHaveTextAsync("no");
            await Expect(Field(page, "west", "missing")).ToHaveTextAsync(
                $"default:host:{DashboardWorld.East} is not a member of default:layer:conjur/replication-sets/west/followers");

            // Not granted: west-1 replicates west, whose replicated-data does not reach inventory's password.
            await ExplainAsync(page, DashboardWorld.West, DashboardWorld.InventoryDb);
            await Expect(page.Locator("#explain-verdict")).ToHaveTextAsync(
                $"default:host:{DashboardWorld.West} does not receive {DashboardWorld.InventoryDb}.", new() { Timeout = Wait });
            await Expect(page.Locator("#explain-verdict")).ToHaveAttributeAsync("data-granted", "false");
            await Expect(Field(page, "west", "chain").Locator("li")).ToHaveCountAsync(3);
            await Expect(Field(page, "west", "missing")).ToHaveTextAsync(
                "default:group:conjur/replication-sets/west/replicated-data is not a member of default:group:apps/secrets-readers, " +
                $"which may execute {DashboardWorld.InventoryDb}");

            // An unknown follower: the gateway's message, and no stale answer.
            await ExplainAsync(page, "conjur/followers/nobody", DashboardWorld.BillingDb);
            await Expect(page.Locator("#explain-error")).ToHaveTextAsync("No follower named 'conjur/followers/nobody' is registered.", new() { Timeout = Wait });
            await Expect(page.Locator("#explain-sets")).ToBeHiddenAsync();
            await Expect(page.Locator("#explain-verdict")).ToHaveTextAsync("");

            var html = await page.ContentAsync();
            Assert.DoesNotContain(DashboardWorld.ValuePrefix, html, StringComparison.Ordinal);
            Assert.DoesNotContain(_world.AdminApiKey, html, StringComparison.Ordinal);

            await page.ClickAsync("#sign-out");
            await Expect(page.Locator("#explain-section")).ToBeHiddenAsync();
        }, height: 900);
    }

    private static async Task ExplainAsync(IPage page, string follower, string variable)
    {
        await page.FillAsync("#explain-follower", follower);
        await page.FillAsync("#explain-variable", variable);
        await page.ClickAsync("#explain-form button[type=submit]");
    }

    private static ILocator Field(IPage page, string set, string field) =>
        page.Locator($"#explain-sets tr[data-replica-set='{set}'] td[data-field='{field}']");
}
