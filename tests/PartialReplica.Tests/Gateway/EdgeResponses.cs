using System.Net;
using System.Text.Json;

namespace PartialReplica.Tests.Gateway;

/// <summary>Reads edge API answers.</summary>
internal static class EdgeResponses
{
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"Expected {expected}, got {response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static List<string> Ids(JsonElement page) =>
        page.GetProperty("secrets").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToList();

    public static async Task<List<string>> IdsAsync(GatewayFixture fixture, string token, string query = "")
    {
        using var response = await fixture.GetAsync($"/edge/secrets/default{query}", token);
        return Ids(await JsonAsync(response));
    }
}
