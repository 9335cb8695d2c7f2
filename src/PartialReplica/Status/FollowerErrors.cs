using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Status;

/// <summary>One error of a follower's pushes: when, and its cause (never a secret value).</summary>
public sealed record RecentError(DateTimeOffset At, string Message);

/// <summary>
/// Records a follower's push failures on the leader, where every gateway and <c>status</c> read them: the latest
/// cause and since when (kept until a push succeeds), the push breaker's pause, and the newest
/// <see cref="Kept"/> errors with their times.
/// </summary>
internal sealed class FollowerErrors(NpgsqlDataSource leader, string follower)
{
    /// <summary>How many errors are kept per follower.</summary>
    public const int Kept = 10;

    /// <summary>Records <paramref name="cause"/> (with the breaker's pause left, if open) as the follower's last error and adds it to its recent errors.</summary>
    public async Task RecordAsync(string cause, TimeSpan? breakerPause, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync("""
            UPDATE partial_replica.delivery
               SET last_error = $2, last_error_since = coalesce(last_error_since, clock_timestamp()), breaker_until = clock_timestamp() + $3::interval,
                   updated_at = clock_timestamp()
             WHERE follower = $1
            """, cancellationToken, follower, cause, (object?)breakerPause ?? DBNull.Value);
        await connection.ExecuteAsync(
            "INSERT INTO partial_replica.follower_errors (follower, message) VALUES ($1, $2)", cancellationToken, follower, cause);
        await connection.ExecuteAsync("""
            DELETE FROM partial_replica.follower_errors
             WHERE follower = $1
               AND id < (SELECT min(id) FROM (SELECT id FROM partial_replica.follower_errors WHERE follower = $1 ORDER BY id DESC LIMIT $2) newest)
            """, cancellationToken, follower, Kept);
    }

    /// <summary>Moves the breaker's pause, keeping the recorded cause (the breaker's own refusal is not one).</summary>
    public async Task RecordBreakerAsync(TimeSpan? breakerPause, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync("""
            UPDATE partial_replica.delivery
               SET breaker_until = clock_timestamp() + $2::interval, last_error = coalesce(last_error, 'pushes paused by the breaker after repeated failures'),
                   last_error_since = coalesce(last_error_since, clock_timestamp()), updated_at = clock_timestamp()
             WHERE follower = $1
            """, cancellationToken, follower, (object?)breakerPause ?? DBNull.Value);
    }

    /// <summary>Every follower's newest errors, newest first.</summary>
    public static async Task<Dictionary<string, List<RecentError>>> ReadRecentAsync(NpgsqlConnection leader, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, List<RecentError>>(StringComparer.Ordinal);
        await using var command = ConnectionExtensions.Command(leader, """
            SELECT follower, at, message
              FROM (SELECT e.*, row_number() OVER (PARTITION BY follower ORDER BY id DESC) AS n FROM partial_replica.follower_errors e) ranked
             WHERE n <= $1
             ORDER BY follower, id DESC
            """, Kept);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            if (!result.TryGetValue(name, out var list))
            {
                result[name] = list = [];
            }

            list.Add(new RecentError(reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2)));
        }

        return result;
    }
}
