using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PartialReplica.Protocol;

namespace PartialReplica.Leader.Dispatch;

/// <summary>Supplies the gateway-signed token a push to a follower carries (audience = the follower's role).</summary>
public interface IPushTokenSource
{
    Task<string> GetTokenAsync(string audience, CancellationToken cancellationToken);
}

/// <summary>
/// Pushes batches to agents over HTTP: <c>POST {agent}/agent/batches</c> with a bearer token, the batch in
/// the binary form (<see cref="PushBatchCodec"/>); the report comes back as JSON.
/// </summary>
public sealed class HttpBatchSender(HttpClient http, IPushTokenSource tokens) : IBatchSender
{
    /// <summary>The JSON form shared with the agent: its reports, status and subscription repairs (batches are binary).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = JsonTypeInfoResolver.Combine(PushJsonContext.Default, new DefaultJsonTypeInfoResolver()),
    };

    /// <summary>The agent's route.</summary>
    public const string AgentRoute = "/agent/batches";

    /// <summary>The liveness route every service maps; <see cref="PrepareAsync"/> opens the connection with it.</summary>
    public const string LivenessRoute = "/health/live";

    /// <summary>
    /// Compiles the encoder and the report reader before the first push needs them (so a new follower's first page
    /// does not pay for it), by encoding a one-variable batch and reading a report.
    /// </summary>
    public static void WarmUp()
    {
        var batch = new PushBatch("warm-up", "warm-up", "warm-up", [new VariableState("warm-up", 1, [new SecretVersion(1, [0], null)])]);
        using var encoded = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, encoded);
        _ = JsonSerializer.Deserialize<ApplyReport>("""{"variables":1,"skipped":0,"upserts":1,"deletes":0}"""u8, Json);
    }

    /// <summary>Signs (and caches) the follower's token and opens a connection to its agent with a liveness probe.</summary>
    public async Task PrepareAsync(FollowerEndpoint follower, CancellationToken cancellationToken)
    {
        if (follower.AgentUrl is null)
        {
            return;
        }

        await tokens.GetTokenAsync(follower.RoleId, cancellationToken);
        using var response = await http.GetAsync(new Uri(new Uri(follower.AgentUrl), LivenessRoute), cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    public async Task<ApplyReport> SendAsync(FollowerEndpoint follower, PushBatch batch, CancellationToken cancellationToken)
    {
        if (follower.AgentUrl is null)
        {
            throw new PartialReplicaException($"Follower {follower.Name} has no agent URL; run follower init with --agent-url.");
        }

        using var encoded = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, encoded);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(follower.AgentUrl), AgentRoute))
        {
            Content = new ReadOnlyMemoryContent(encoded.WrittenMemory) { Headers = { ContentType = new MediaTypeHeaderValue(PushBatchCodec.ContentType) } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(follower.RoleId, cancellationToken));
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // The agent's error bodies carry no values; keep them short in our own errors anyway.
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (BatchRefusedException.IsRefusal(response.StatusCode, body))
            {
                throw new BatchRefusedException(
                    $"Agent of {follower.Name} refused the batch ({(int)response.StatusCode}): {body[..Math.Min(body.Length, 300)]}", response.StatusCode);
            }

            throw new HttpRequestException(
                $"Agent of {follower.Name} answered {(int)response.StatusCode}: {body[..Math.Min(body.Length, 200)]}", null, response.StatusCode);
        }

        return await response.Content.ReadFromJsonAsync<ApplyReport>(Json, cancellationToken)
            ?? throw new HttpRequestException($"Agent of {follower.Name} sent an empty report.");
    }
}
