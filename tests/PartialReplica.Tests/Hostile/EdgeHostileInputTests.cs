using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using PartialReplica.Configuration;
using PartialReplica.Grants;
using PartialReplica.Leader.Edge;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Hostile;

/// <summary>
/// Issue 23: caller text PostgreSQL refuses (U+0000, lone surrogates, over-long ids) and out-of-range paging values
/// are a 400 before any query, and never cost another caller anything. A second gateway on the fixture's leader with
/// a pool of one connection makes "the next request" certain to run on the connection the hostile one used.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class EdgeHostileInputTests(GatewayFixture fixture) : IAsyncLifetime
{
    // Npgsql auto-prepares a statement on its fifth use on a connection; rounds enough to cross that twice.
    private const int Rounds = 12;

    private WebApplication? _gateway;
    private HttpClient _oneConnection = null!;

    public async Task InitializeAsync()
    {
        (_gateway, var url) = await WebHosts.StartGatewayAsync(fixture.Leader + ";Maximum Pool Size=1", new Dictionary<string, string?>
        {
            ["Dispatch:Enabled"] = "false",
            // The one pooled connection is for the requests under test alone.
            ["Dashboard:History:Enabled"] = "false",
            ["Gateway:Issuer"] = GatewayFixture.Issuer,
        });
        _oneConnection = new HttpClient { BaseAddress = new Uri(url) };
    }

    public async Task DisposeAsync()
    {
        _oneConnection.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("?after=%00")]
    [InlineData("?after=a%00b&limit=5")]
    [InlineData("?after=%00&count=true")]
    public async Task After_with_NUL_is_400_and_another_followers_next_request_on_that_connection_reads_its_exact_secrets(string query)
    {
        var (hostile, other) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var prefix = GatewayFixture.Unique("nul");
        byte[] value = [0x47, 0, 1, 0];
        await fixture.AddSecretAsync($"{prefix}/b", value);
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [other], $"{prefix}/b");

        for (var round = 0; round < Rounds; round++)
        {
            using (var refused = await GetAsync("/edge/secrets/default" + query, hostile.Token))
            {
                var message = (await JsonAsync(refused, HttpStatusCode.BadRequest)).GetProperty("error").GetProperty("message").GetString();
                Assert.Equal("after is refused: it contains a NUL character (U+0000), which PostgreSQL does not store in text.", message);
            }

            // The same keyset statement, right after, from another follower.
            using var next = await GetAsync("/edge/secrets/default?after=a", other.Token);
            var secret = Assert.Single((await JsonAsync(next)).GetProperty("secrets").EnumerateArray());
            Assert.Equal(GatewayFixture.VariableId($"{prefix}/b"), secret.GetProperty("id").GetString());
            Assert.Equal(value, Assert.Single(secret.GetProperty("versions").EnumerateArray()).GetProperty("value").GetBytesFromBase64());
        }
    }

    // Kestrel refuses a path holding %00 itself (400). It leaves escapes that are not UTF-8 undecoded, so they arrive as
    // plain text: an account that is not the caller's (403), a variable not granted (404, as for any).
    [Theory]
    [InlineData("/edge/secrets/de%00fault", HttpStatusCode.BadRequest)]
    [InlineData("/edge/secrets/de%00fault?after=x", HttpStatusCode.BadRequest)]
    [InlineData("/edge/secrets/default/db%00password", HttpStatusCode.BadRequest)]
    [InlineData("/edge/secrets/de%00fault/db-password", HttpStatusCode.BadRequest)]
    [InlineData("/followers/conjur%2Ffollowers%2Feast%00", HttpStatusCode.BadRequest)]
    [InlineData("/edge/secrets/default/db%ED%A0%80password", HttpStatusCode.NotFound)]
    [InlineData("/edge/secrets/de%FFfault", HttpStatusCode.Forbidden)]
    public async Task NUL_or_invalid_UTF8_in_a_path_is_refused_and_the_next_request_is_served(string path, HttpStatusCode expected)
    {
        var (hostile, other) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var variable = GatewayFixture.Unique("nul-path") + "/db-password";
        await fixture.AddSecretAsync(variable, [5, 0, 5]);
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [other], variable);

        for (var round = 0; round < Rounds; round++)
        {
            using (var refused = await GetAsync(path, hostile.Token))
            {
                Assert.Equal(expected, refused.StatusCode);
            }

            using var next = await GetAsync($"/edge/secrets/default/{variable}", other.Token);
            var secret = await JsonAsync(next);
            Assert.Equal([5, 0, 5], Assert.Single(secret.GetProperty("versions").EnumerateArray()).GetProperty("value").GetBytesFromBase64());
        }
    }

    [Theory]
    [InlineData("limit=99999999999999999999", "limit must be a whole number from 1 to 10000")]
    [InlineData("limit=2147483648", "limit must be a whole number from 1 to 10000")]
    [InlineData("limit=1e9", "limit must be a whole number from 1 to 10000")]
    [InlineData("offset=2147483647", "offset must be a whole number from 0 to 10000000")]
    [InlineData("offset=10000001", "offset must be a whole number from 0 to 10000000")]
    [InlineData("offset=99999999999999999999999", "offset must be a whole number from 0 to 10000000")]
    [InlineData("offset=%00", "offset must be a whole number from 0 to 10000000")]
    public async Task Huge_or_malformed_paging_values_are_400(string query, string expected)
    {
        var follower = await fixture.AddFollowerAsync();

        using var response = await GetAsync($"/edge/secrets/default?{query}", follower.Token);

        var message = (await JsonAsync(response, HttpStatusCode.BadRequest)).GetProperty("error").GetProperty("message").GetString()!;
        Assert.StartsWith(expected, message, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', message);
    }

    [Fact]
    public async Task An_after_id_longer_than_the_limit_is_400_and_one_at_the_limit_is_served()
    {
        var follower = await fixture.AddFollowerAsync();
        var prefix = GatewayFixture.Unique("long");
        await fixture.AddSecretAsync($"{prefix}/a", [1]);
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [follower], $"{prefix}/a");

        using var tooLong = await GetAsync($"/edge/secrets/default?after={new string('a', CallerText.MaxIdBytes + 1)}", follower.Token);
        using var atLimit = await GetAsync($"/edge/secrets/default?after={new string('a', CallerText.MaxIdBytes)}", follower.Token);

        var message = (await JsonAsync(tooLong, HttpStatusCode.BadRequest)).GetProperty("error").GetProperty("message").GetString();
        Assert.Equal($"after is refused: it is {CallerText.MaxIdBytes + 1} bytes long in UTF-8, more than the limit of {CallerText.MaxIdBytes}.", message);
        // "default:variable:…" sorts before "aaa…", so the page after it holds the follower's one secret.
        Assert.Equal([GatewayFixture.VariableId($"{prefix}/a")], Ids(await JsonAsync(atLimit)));
    }

    [Fact]
    public async Task Path_values_longer_than_their_limits_are_400_with_the_limit_named()
    {
        var follower = await fixture.AddFollowerAsync();
        var admin = await fixture.AdminTokenAsync();
        var longId = new string('v', CallerText.MaxIdBytes);
        var longAccount = new string('d', CallerText.MaxNameBytes + 1);

        using var identifier = await GetAsync($"/edge/secrets/default/{longId}", follower.Token);
        using var account = await GetAsync($"/edge/secrets/{longAccount}", follower.Token);
        using var name = await GetAsync($"/followers/{new string('f', CallerText.MaxIdBytes + 1)}", admin);

        // The whole variable id counts, "default:variable:" and the identifier.
        var idBytes = "default:variable:".Length + CallerText.MaxIdBytes;
        Assert.Equal($"variable id is refused: it is {idBytes} bytes long in UTF-8, more than the limit of {CallerText.MaxIdBytes}.",
            await MessageAsync(identifier));
        Assert.Equal($"account is refused: it is {CallerText.MaxNameBytes + 1} bytes long in UTF-8, more than the limit of {CallerText.MaxNameBytes}.",
            await MessageAsync(account));
        Assert.Equal($"follower name is refused: it is {CallerText.MaxIdBytes + 1} bytes long in UTF-8, more than the limit of {CallerText.MaxIdBytes}.",
            await MessageAsync(name));
    }

    private static async Task<string?> MessageAsync(HttpResponseMessage response) =>
        (await JsonAsync(response, HttpStatusCode.BadRequest)).GetProperty("error").GetProperty("message").GetString();

    /// <summary>
    /// The driver-level half, below the edge's check: a statement that does fail on the server (text with U+0000 given
    /// straight to the query) leaves its pooled connection usable for the next caller, however often it happens.
    /// Without the reset, every third round's second query failed with "Received unexpected backend message DataRow".
    /// </summary>
    [Fact]
    public async Task A_statement_that_fails_on_the_server_does_not_break_the_pooled_connection_for_the_next_caller()
    {
        var (hostile, other) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var variable = GatewayFixture.Unique("pool") + "/v";
        await fixture.AddSecretAsync(variable, [9, 0, 9]);
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [other], variable);
        // As the gateway builds its data source (auto-prepare on), with one connection.
        await using var leader = NpgsqlDataSource.Create(ConnectionStrings.ForService(fixture.Leader + ";Maximum Pool Size=1", "leader"));

        for (var round = 0; round < Rounds; round++)
        {
            var failed = await Assert.ThrowsAsync<PostgresException>(() =>
                EdgeFullPull.PageAsync(leader, hostile.RoleId, new GrantedPage(10, After: "a\0"), CancellationToken.None));
            Assert.Equal(PostgresErrorCodes.CharacterNotInRepertoire, failed.SqlState);

            var page = await EdgeFullPull.PageAsync(leader, other.RoleId, new GrantedPage(10, After: "a"), CancellationToken.None);
            var secret = Assert.Single(page);
            Assert.Equal(GatewayFixture.VariableId(variable), secret.Id);
            Assert.Equal([9, 0, 9], Assert.Single(secret.Versions).Value);
        }
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");
        return await _oneConnection.SendAsync(request);
    }
}
