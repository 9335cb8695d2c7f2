using System.Net.Http.Headers;
using System.Net.Http.Json;
using PartialReplica.Leader.Relay;

namespace PartialReplica.Leader.Dispatch;

/// <summary>The agent's answer to a subscription repair.</summary>
/// <param name="Done">What the agent did.</param>
public sealed record SubscriptionRepairReport(string Done);

/// <summary>The body of a subscription repair request.</summary>
/// <param name="Subscription">The follower's subscription (its slot's name).</param>
/// <param name="Recopy">Whether to re-subscribe and copy the tables anew (its slot was recreated).</param>
public sealed record SubscriptionRepairBody(string Subscription, bool Recopy);

/// <summary>Asks a follower's agent to repair its subscription, with the gateway's push token for that follower.</summary>
public sealed class AgentSubscriptionClient(HttpClient http, IPushTokenSource tokens)
{
    /// <summary>The agent's route.</summary>
    public const string Route = "/agent/subscription";

    /// <summary>Sends the request; throws when the agent cannot be reached or refuses.</summary>
    public async Task<SubscriptionRepairReport> RepairAsync(SubscriptionRepairRequest repair, CancellationToken cancellationToken)
    {
        if (repair.AgentUrl is null)
        {
            throw new PartialReplicaException($"Follower {repair.Follower} has no agent URL; run follower init with --agent-url.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(repair.AgentUrl), Route))
        {
            Content = JsonContent.Create(new SubscriptionRepairBody(repair.Slot, repair.Recopy), options: HttpBatchSender.Json),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(repair.RoleId, cancellationToken));
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException(
                $"Agent of {repair.Follower} answered {(int)response.StatusCode}: {body[..Math.Min(body.Length, 200)]}", null, response.StatusCode);
        }

        return await response.Content.ReadFromJsonAsync<SubscriptionRepairReport>(HttpBatchSender.Json, cancellationToken)
            ?? throw new HttpRequestException($"Agent of {repair.Follower} sent an empty answer.");
    }
}
