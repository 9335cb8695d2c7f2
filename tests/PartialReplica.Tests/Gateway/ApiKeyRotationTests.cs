using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace PartialReplica.Tests.Gateway;

/// <summary>PUT /authn/{account}/api_key: a role rotates its own key; the admin rotates anyone's.</summary>
[Collection(GatewayCollection.Name)]
public sealed class ApiKeyRotationTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Host_rotates_its_own_key_and_only_the_new_key_authenticates()
    {
        var follower = await fixture.AddFollowerAsync();

        using var response = await PutAsync("/authn/default/api_key", follower.Token);
        var newKey = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(follower.ApiKey, newKey);
        Assert.Equal(HttpStatusCode.Unauthorized, await AuthenticateStatusAsync(follower.Name, follower.ApiKey));
        Assert.Equal(HttpStatusCode.OK, await AuthenticateStatusAsync(follower.Name, newKey));
    }

    [Fact]
    public async Task Host_cannot_rotate_another_roles_key()
    {
        var (a, b) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());

        using var response = await PutAsync($"/authn/default/api_key?role={Uri.EscapeDataString("host:" + b.Name)}", a.Token);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await AuthenticateStatusAsync(b.Name, b.ApiKey));
    }

    [Fact]
    public async Task Admin_rotates_a_hosts_key_and_unknown_roles_are_404()
    {
        var follower = await fixture.AddFollowerAsync();
        var admin = await fixture.AdminTokenAsync();

        using var rotated = await PutAsync($"/authn/default/api_key?role={Uri.EscapeDataString(follower.RoleId)}", admin);
        using var unknown = await PutAsync("/authn/default/api_key?role=host:conjur/followers/nobody", admin);

        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await AuthenticateStatusAsync(follower.Name, await rotated.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Rotation_needs_a_token()
    {
        using var response = await PutAsync("/authn/default/api_key", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task<HttpResponseMessage> PutAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await fixture.Http.SendAsync(request);
    }

    private async Task<HttpStatusCode> AuthenticateStatusAsync(string name, string apiKey)
    {
        using var response = await fixture.Http.PostAsync(
            $"/authn/default/{Uri.EscapeDataString("host/" + name)}/authenticate", new StringContent(apiKey, Encoding.UTF8, "text/plain"));
        return response.StatusCode;
    }
}
