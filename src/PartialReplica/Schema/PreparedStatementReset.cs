using System.Data;
using Npgsql;

namespace PartialReplica.Schema;

/// <summary>
/// Puts a pooled connection's prepared statements back in step with the server after a statement failed on it.
/// Npgsql (10.0.0 and 10.0.3 both, tested) auto-prepares a statement on its fifth use by sending Parse, Bind, Describe
/// and Execute in one round trip. When the server accepts the Parse but refuses the Bind (a parameter it cannot take,
/// such as text holding U+0000), Npgsql keeps the statement as prepared although its row description never came; the
/// next execution of it on that connection skips the Describe, meets a DataRow it cannot place ("Received unexpected
/// backend message DataRow"), and breaks the connection, failing whoever the pool handed it to. Forgetting the
/// connection's prepared statements (<see cref="NpgsqlConnection.UnprepareAll"/>: Npgsql's own bookkeeping and
/// <c>DEALLOCATE ALL</c>) after such a failure avoids that; they are prepared again on later use.
/// </summary>
internal static class PreparedStatementReset
{
    /// <summary>
    /// Call after a statement on <paramref name="connection"/> failed on the server (outside a transaction, or after
    /// its rollback). A connection Npgsql already broke is discarded by the pool and needs nothing.
    /// </summary>
    public static void After(NpgsqlConnection connection)
    {
        if (connection.FullState == ConnectionState.Open)
        {
            // Npgsql offers no asynchronous form; this runs only after a failure, one short round trip.
            connection.UnprepareAll();
        }
    }
}
