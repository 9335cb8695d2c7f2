using System.Net;
using System.Text.Json.Nodes;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Explain;

/// <summary>
/// SPEC F12 at the edges: the admin's <c>GET /followers/{name}/explain?variable=</c> and the real CLI's
/// <c>explain --json</c> print the same document; the CLI's text names each chain and missing link; unknown ids are
/// 404 (exit 2) with the id named; nothing is ever a secret value.
/// </summary>
public sealed class ExplainApiTests(ExplainWorld fixture) : IClassFixture<ExplainWorld>
{
    private const string East = "conjur/followers/east-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";

    private readonly TestWorld _world = fixture.World;

    [Fact]
    public async Task Admin_gets_the_document_explain_json_prints_with_slashes_plain_or_encoded()
    {
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);

        using var plain = await _world.GetAsync($"/followers/{East}/explain?variable={Uri.EscapeDataString(BillingDb)}", admin);
        using var encoded = await _world.GetAsync($"/followers/{Uri.EscapeDataString(East)}/explain?variable={Uri.EscapeDataString(BillingDb)}", admin);
        var cli = await CliAsync("explain", "--follower", East, "--variable", BillingDb, "--json");

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, encoded.StatusCode);
        var body = await plain.Content.ReadAsStringAsync();
        Assert.Equal(body, await encoded.Content.ReadAsStringAsync());
        Assert.Equal(0, cli.ExitCode);
        Assert.Equal(body + "\n", cli.Stdout);
        var document = JsonNode.Parse(body)!;
        Assert.Equal("default:host:" + East, (string)document["follower"]!);
        Assert.Equal(BillingDb, (string)document["variable"]!);
        Assert.True((bool)document["granted"]!);
        var west = document["replicaSets"]!.AsArray()[1]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"name":"west","granted":false,"chain":[],
             "missing":"default:host:conjur/followers/east-1 is not a member of default:layer:conjur/replication-sets/west/followers"}
            """), west), west.ToJsonString());
        Assert.DoesNotContain(ExplainWorld.ValuePrefix, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_text_names_the_verdict_each_chain_and_each_missing_link()
    {
        var cli = await CliAsync("explain", "--follower", "conjur/followers/west-1", "--variable", "apps/inventory/db/password");

        Assert.Equal(0, cli.ExitCode);
        Assert.Equal("""
            default:host:conjur/followers/west-1 does not receive default:variable:apps/inventory/db/password.

            east: not granted
              missing: default:host:conjur/followers/west-1 is not a member of default:layer:conjur/replication-sets/east/followers

            west: not granted
              1. default:host:conjur/followers/west-1 is a member of default:layer:conjur/followers/west-hosts
              2. default:layer:conjur/followers/west-hosts is a member of default:layer:conjur/replication-sets/west/followers
              3. default:layer:conjur/replication-sets/west/followers may replicate default:webservice:conjur/replication-sets/west
              missing: default:group:conjur/replication-sets/west/replicated-data is not a member of default:group:apps/secrets-readers, which may execute default:variable:apps/inventory/db/password

            """, cli.Stdout);
        Assert.Equal("", cli.Stderr);
    }

    [Fact]
    public async Task Unknown_follower_or_variable_is_404_and_exit_2_naming_it()
    {
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);

        using var noFollower = await _world.GetAsync($"/followers/conjur/followers/nobody/explain?variable={BillingDb}", admin);
        using var noVariable = await _world.GetAsync($"/followers/{East}/explain?variable=default:variable:apps/nothing", admin);
        using var noQuery = await _world.GetAsync($"/followers/{East}/explain", admin);
        var cli = await CliAsync("explain", "--follower", "conjur/followers/nobody", "--variable", BillingDb);

        Assert.Equal(HttpStatusCode.NotFound, noFollower.StatusCode);
        Assert.Equal("""{"error":{"code":"not_found","message":"No follower named 'conjur/followers/nobody' is registered."}}""",
            await noFollower.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, noVariable.StatusCode);
        Assert.Equal("""{"error":{"code":"not_found","message":"No variable 'default:variable:apps/nothing' exists on the leader."}}""",
            await noVariable.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, noQuery.StatusCode);
        Assert.Equal(2, cli.ExitCode);
        Assert.Equal("", cli.Stdout);
        Assert.Equal("error: No follower named 'conjur/followers/nobody' is registered.\n", cli.Stderr);
    }

    [Fact]
    public async Task Explain_is_admin_only_and_the_follower_status_route_still_answers()
    {
        var path = $"/followers/{East}/explain?variable={BillingDb}";
        var follower = await _world.AuthenticateAsync("host/" + East, fixture.FollowerApiKey);
        var admin = await _world.AuthenticateAsync("admin", _world.AdminApiKey);

        using var anonymous = await _world.GetAsync(path, null);
        using var asFollower = await _world.GetAsync(path, follower);
        using var status = await _world.GetAsync($"/followers/{East}", admin);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, asFollower.StatusCode);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal(East, (string)JsonNode.Parse(await status.Content.ReadAsStringAsync())!["follower"]!["name"]!);
    }

    private Task<CliProcess.Result> CliAsync(params string[] arguments) =>
        CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = _world.Leader }, arguments);
}
