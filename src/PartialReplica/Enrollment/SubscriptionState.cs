using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Enrollment;

/// <summary>
/// Where a follower's subscription stands. Until every table has finished its initial copy, tables
/// catch up independently, so one leader transaction may be visible in part.
/// </summary>
internal static class SubscriptionState
{
    /// <summary>Counts of the subscription's tables by state: ready ('r'/'s') and still copying.</summary>
    public static async Task<(int Ready, int Syncing)> ReadAsync(NpgsqlConnection follower, string subscription, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(follower, """
            SELECT count(*) FILTER (WHERE sr.srsubstate IN ('r', 's'))::int,
                   count(*) FILTER (WHERE sr.srsubstate NOT IN ('r', 's'))::int
              FROM pg_subscription s JOIN pg_subscription_rel sr ON sr.srsubid = s.oid
             WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, subscription);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    /// <summary>Whether this database has the subscription (<c>pg_subscription</c> is shared by the server's databases).</summary>
    public static async Task<bool> ExistsAsync(NpgsqlConnection connection, string subscription, CancellationToken cancellationToken) =>
        await connection.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            cancellationToken, subscription);

    /// <summary>Waits until the initial copy of every published table is done.</summary>
    public static async Task WaitUntilReadyAsync(NpgsqlDataSource follower, string subscription, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await using var connection = await follower.OpenConnectionAsync(deadline.Token);
            while (true)
            {
                var (ready, syncing) = await ReadAsync(connection, subscription, deadline.Token);
                if (ready > 0 && syncing == 0)
                {
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PartialReplicaException(
                $"Subscription {subscription} did not finish its initial copy within {timeout.TotalSeconds:0} s; see the follower server's log.");
        }
    }
}
