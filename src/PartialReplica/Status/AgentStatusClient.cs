using System.Net.Http.Headers;
using System.Net.Http.Json;
using PartialReplica.Follower;
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.Status;

/// <summary>Asks a follower's agent for its <see cref="LocalStatus"/> (<c>GET /agent/status</c>, gateway-signed token).</summary>
public sealed class AgentStatusClient(HttpClient http, IPushTokenSource tokens)
{
    public const string Route = "/agent/status";

    public async Task<LocalStatus> ReadAsync(FollowerEndpoint follower, CancellationToken cancellationToken)
    {
        if (follower.AgentUrl is null)
        {
            throw new PartialReplicaException($"Follower {follower.Name} has no agent URL.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(follower.AgentUrl), Route));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(follower.RoleId, cancellationToken));
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<LocalStatus>(HttpBatchSender.Json, cancellationToken)
            ?? throw new PartialReplicaException($"Agent of {follower.Name} sent an empty status.");
    }
}
