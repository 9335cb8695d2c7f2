using Npgsql;
using PartialReplica.Leader.Relay;
using PartialReplica.Schema;

namespace PartialReplica.Enrollment;

/// <summary>
/// Run by a follower's agent when the gateway asks (S6: a slot dropped by anyone heals). With <c>recopy</c> its slot
/// was recreated, so changes the old slot held are lost: in one transaction the subscription is dropped (keeping the
/// new slot) and made again with the same connection, and the published tables are emptied and copied anew. Without
/// it the subscription is only re-enabled and refreshed. The connection, and so the password, never leaves the
/// follower's database.
/// </summary>
public static class SubscriptionRepair
{
    /// <summary>Repairs <paramref name="subscription"/>; returns what was done.</summary>
    public static async Task<string> RunAsync(NpgsqlDataSource follower, string subscription, bool recopy, CancellationToken cancellationToken)
    {
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        string conninfo;
        string[] publications;
        await using (var command = ConnectionExtensions.Command(connection, """
            SELECT subconninfo, subpublications FROM pg_subscription
             WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, subscription))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new PartialReplicaException($"This follower database has no subscription {subscription}.");
            }

            conninfo = reader.GetString(0);
            publications = reader.GetFieldValue<string[]>(1);
        }

        var name = SqlIdentifier.Quote(subscription);
        if (!recopy)
        {
            await connection.ExecuteAsync($"ALTER SUBSCRIPTION {name} ENABLE", cancellationToken);
            await connection.ExecuteAsync($"ALTER SUBSCRIPTION {name} REFRESH PUBLICATION", cancellationToken);
            return "re-enabled and refreshed";
        }

        var tables = new List<string>();
        await using (var command = ConnectionExtensions.Command(connection, """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
              FROM pg_subscription_rel r JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.srsubid = (SELECT oid FROM pg_subscription WHERE subname = $1
                                  AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
             ORDER BY 1
            """, subscription))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                tables.Add(reader.GetString(0));
            }
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync($"ALTER SUBSCRIPTION {name} DISABLE", cancellationToken);
        // Detached first, so dropping it leaves the relay's (new) slot in place.
        await connection.ExecuteAsync($"ALTER SUBSCRIPTION {name} SET (slot_name = NONE)", cancellationToken);
        await connection.ExecuteAsync($"DROP SUBSCRIPTION {name}", cancellationToken);
        if (tables.Count > 0)
        {
            await connection.ExecuteAsync($"TRUNCATE {string.Join(", ", tables)}", cancellationToken);
        }

        // A connection made by an older follower init named every session of the subscription after it; without the
        // name, each table copy's session is named after its sync slot, which the gateway's slot check reads.
        await connection.ExecuteAsync(
            $"CREATE SUBSCRIPTION {name} CONNECTION {SqlIdentifier.Literal(ConnInfo.WithoutApplicationName(conninfo))} " +
            $"PUBLICATION {string.Join(", ", publications.Select(SqlIdentifier.Quote))} " +
            $"WITH (create_slot = false, slot_name = {SqlIdentifier.Literal(subscription)}, copy_data = true)",
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return $"re-subscribed; {tables.Count} tables copied anew";
    }
}
