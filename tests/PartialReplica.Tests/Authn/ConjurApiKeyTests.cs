using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// S1: API keys live where Conjur keeps them, <c>credentials.api_key</c> in Slosilo's format with the data key and the
/// role id as associated data, so a key Conjur issued authenticates at the gateway and a key we issue is one Conjur
/// reads; <c>expiration</c> and <c>restricted_to</c> are honoured. On a leader of this product's schema and on one
/// Conjur's migrations made. Rows "Conjur wrote" are written here with plain SQL and <see cref="ConjurBlob"/>.
/// </summary>
public sealed class ConjurApiKeyTests(ConjurKeysFixture fixture) : IClassFixture<ConjurKeysFixture>
{
    // The shape of a key Conjur's documentation shows for a created host.
    private const string ConjurIssuedKey = "1wgv7h2pw1vta2a7dnzk370ger03nnakkq33sex2a1jmbbnz3h8cye9";

    [Theory]
    [InlineData("product")]
    [InlineData("conjur")]
    public async Task A_key_Conjur_wrote_authenticates_and_a_wrong_key_does_not(string schema)
    {
        var leader = fixture[schema];
        var (roleId, login) = await ConjurWrittenHostAsync(leader, ConjurIssuedKey);

        using var ok = await leader.AuthenticateAsync(login, ConjurIssuedKey);
        using var wrong = await leader.AuthenticateAsync(login, ConjurIssuedKey[..^1] + "0");
        using var unknown = await leader.AuthenticateAsync("host/nobody/" + Guid.NewGuid().ToString("N"), ConjurIssuedKey);

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(roleId, TestJwt.Claims(await ok.Content.ReadAsStringAsync()).GetProperty("sub").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
    }

    [Theory]
    [InlineData("product")]
    [InlineData("conjur")]
    public async Task Keys_a_policy_load_and_rotation_issue_are_stored_as_Conjur_stores_them(string schema)
    {
        var leader = fixture[schema];
        var id = "apps/" + Guid.NewGuid().ToString("N")[..12];
        var roleId = $"default:host:{id}";
        await using var dataSource = NpgsqlDataSource.Create(leader.ConnectionString);
        var load = await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource,
            new PolicyLoadRequest { PolicyText = $"- !host {id}\n", DataKey = TestDataKey.Key }, CancellationToken.None);
        var issued = load.CreatedRoles[roleId].ApiKey!;

        await AssertStoredAsConjurAsync(leader, roleId, issued);
        using (var response = await leader.AuthenticateAsync("host/" + id, issued))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var rotated = await RotateAsync(leader, "host:" + id);

        Assert.NotEqual(issued, rotated);
        await AssertStoredAsConjurAsync(leader, roleId, rotated);
        using var old = await leader.AuthenticateAsync("host/" + id, issued);
        using var fresh = await leader.AuthenticateAsync("host/" + id, rotated);
        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Theory]
    [InlineData("product")]
    [InlineData("conjur")]
    public async Task Expired_credentials_do_not_authenticate(string schema)
    {
        var leader = fixture[schema];
        var (roleId, login) = await ConjurWrittenHostAsync(leader, ConjurIssuedKey);

        // Conjur writes expiration in UTC, as timestamp without time zone.
        await Db.ExecuteAsync(leader.ConnectionString,
            "UPDATE credentials SET expiration = (now() AT TIME ZONE 'UTC') - interval '1 minute' WHERE role_id = $1", roleId);
        using var expired = await leader.AuthenticateAsync(login, ConjurIssuedKey);
        await Db.ExecuteAsync(leader.ConnectionString,
            "UPDATE credentials SET expiration = (now() AT TIME ZONE 'UTC') + interval '1 hour' WHERE role_id = $1", roleId);
        using var current = await leader.AuthenticateAsync(login, ConjurIssuedKey);

        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
    }

    [Theory]
    [InlineData("product")]
    [InlineData("conjur")]
    public async Task Restricted_to_admits_only_clients_inside_its_cidrs(string schema)
    {
        var leader = fixture[schema];
        var (roleId, login) = await ConjurWrittenHostAsync(leader, ConjurIssuedKey);
        var statuses = new List<HttpStatusCode>();
        foreach (var cidrs in new[] { "{10.0.0.0/8}", "{127.0.0.0/8}", "{10.0.0.0/8,127.0.0.1/32}", "{}" })
        {
            await Db.ExecuteAsync(leader.ConnectionString, "UPDATE credentials SET restricted_to = $2::cidr[] WHERE role_id = $1", roleId, cidrs);
            using var response = await leader.AuthenticateAsync(login, ConjurIssuedKey);
            statuses.Add(response.StatusCode);
        }

        // The tests reach the gateway from loopback.
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], statuses);
    }

    [Fact]
    public async Task A_policy_creating_hosts_without_the_data_key_is_refused_and_changes_nothing()
    {
        var leader = fixture.Product;
        await using var dataSource = NpgsqlDataSource.Create(leader.ConnectionString);
        var before = await Db.ScalarAsync<long>(leader.ConnectionString, "SELECT count(*) FROM roles");

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => new PolicyLoader(NullLogger.Instance).LoadAsync(
            dataSource, new PolicyLoadRequest { PolicyText = "- !host keyless\n" }, CancellationToken.None));
        var dryRun = await new PolicyLoader(NullLogger.Instance).LoadAsync(
            dataSource, new PolicyLoadRequest { PolicyText = "- !host keyless\n", DryRun = true }, CancellationToken.None);

        Assert.Contains("CONJUR_DATA_KEY", error.Message, StringComparison.Ordinal);
        Assert.Null(dryRun.CreatedRoles["default:host:keyless"].ApiKey);
        Assert.Equal(before, await Db.ScalarAsync<long>(leader.ConnectionString, "SELECT count(*) FROM roles"));
    }

    /// <summary>A host with a credentials row as Conjur's Ruby writes it (no password hash, nothing restricted).</summary>
    private static async Task<(string RoleId, string Login)> ConjurWrittenHostAsync(KeysLeader leader, string apiKey)
    {
        var id = "conjur-written/" + Guid.NewGuid().ToString("N")[..12];
        var roleId = $"default:host:{id}";
        await Db.ExecuteAsync(leader.ConnectionString, "INSERT INTO roles (role_id) VALUES ($1)", roleId);
        await Db.ExecuteAsync(leader.ConnectionString, "INSERT INTO credentials (role_id, api_key) VALUES ($1, $2)",
            roleId, ConjurBlob.Seal(TestDataKey.Base64, roleId, apiKey));
        return (roleId, "host/" + id);
    }

    private static async Task AssertStoredAsConjurAsync(KeysLeader leader, string roleId, string apiKey)
    {
        Assert.Matches(PartialReplica.Conjur.ConjurApiKey.ShapePattern, apiKey);
        var stored = await Db.ScalarAsync<byte[]>(leader.ConnectionString, "SELECT api_key FROM credentials WHERE role_id = $1", roleId);
        Assert.Equal(apiKey, ConjurBlob.Open(TestDataKey.Base64, roleId, stored!));
        Assert.True(await Db.ScalarAsync<bool>(leader.ConnectionString,
            "SELECT encrypted_hash IS NULL FROM credentials WHERE role_id = $1", roleId));
    }

    private static async Task<string> RotateAsync(KeysLeader leader, string role)
    {
        using var admin = await leader.AuthenticateAsync("admin", leader.AdminApiKey);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        var token = await admin.Content.ReadAsStringAsync();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/authn/default/api_key?role={Uri.EscapeDataString(role)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");
        using var response = await leader.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
