using System.Net.Sockets;
using System.Text.Json;
using Npgsql;
using PartialReplica.Protocol;

namespace PartialReplica.Status;

/// <summary>
/// Names what went wrong in a push as an operator reads it: the agent unreachable (at which address, what the
/// socket said), the follower database refusing connections (as the agent reported), a batch the agent refused.
/// Messages come from sockets, PostgreSQL and the agent's error bodies, none of which carry secret values.
/// </summary>
internal static class ErrorCause
{
    public static string Describe(Exception error, string? agentUrl)
    {
        var agent = agentUrl is null ? "agent" : $"agent {agentUrl}";
        switch (error)
        {
            case BatchRefusedException refused:
                return $"batch refused by agent: {(int?)refused.StatusCode} {AgentMessage(refused.Message) ?? refused.Message}";
            case HttpRequestException { StatusCode: { } status } http:
                return $"{agent} answered {(int)status}: {AgentMessage(http.Message) ?? http.Message}";
            case HttpRequestException http:
                return $"{agent} unreachable: {Innermost(http).Message}";
            case TaskCanceledException or TimeoutException:
                return $"{agent} did not answer in time";
            case PostgresException postgres:
                return $"leader database: {postgres.SqlState} {postgres.MessageText}";
            case NpgsqlException npgsql:
                return $"leader database unreachable: {npgsql.Message}" + (npgsql.InnerException is SocketException s ? $" ({s.Message})" : "");
            case PartialReplicaException:
                return error.Message;
            default:
                return $"{error.GetType().Name}: {error.Message}";
        }
    }

    /// <summary>What the agent's error body (<c>{"error":{"code","message"}}</c>) says, when the message carries one.</summary>
    private static string? AgentMessage(string message)
    {
        var start = message.IndexOf('{', StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        try
        {
            using var body = JsonDocument.Parse(message[start..]);
            return body.RootElement.TryGetProperty("error", out var detail) && detail.TryGetProperty("message", out var said)
                ? said.GetString()
                : null;
        }
        catch (JsonException)
        {
            // Cut short (the sender keeps the first 200 characters of the body) or not JSON: the whole message says it.
            return null;
        }
    }

    private static Exception Innermost(Exception error)
    {
        while (error.InnerException is { } inner)
        {
            error = inner;
        }

        return error;
    }
}
