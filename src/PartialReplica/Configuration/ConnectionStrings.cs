using Npgsql;

namespace PartialReplica.Configuration;

/// <summary>
/// Accepts both Npgsql's <c>Host=...;Database=...</c> and libpq URIs (<c>postgresql://user:pw@host:port/db?sslmode=...</c>,
/// read by <see cref="PostgresUri"/>, every parameter kept).
/// </summary>
public static class ConnectionStrings
{
    /// <summary>
    /// A long-running service's connection string (gateway, agent): normalised, with PostgreSQL's JIT off
    /// unless the string sets it. Every statement the services run is short and keyed, and JIT compilation of
    /// statements the planner misjudges after a bulk load costs more than running them. Statements a session runs
    /// again and again (an agent's apply, a worker's outbox read) are
    /// prepared automatically unless the string says otherwise: planned once per connection, not per push.
    /// </summary>
    public static string ForService(string value, string whatFor)
    {
        var normalized = Normalize(value, whatFor);
        var builder = new NpgsqlConnectionStringBuilder(normalized);
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = normalized };
        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (builder.Options is not { } options || !options.Contains("jit", StringComparison.OrdinalIgnoreCase))
        {
            builder.Options = string.IsNullOrWhiteSpace(builder.Options) ? "-c jit=off" : builder.Options + " -c jit=off";
        }

        return builder.ConnectionString;
    }

    /// <summary>Normalises a connection string or URI; throws a clear error for anything else.</summary>
    public static string Normalize(string value, string whatFor)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new PartialReplicaException($"No connection string for the {whatFor}.");
        }

        if (PostgresUri.IsUri(value))
        {
            return PostgresUri.ToConnectionString(value, whatFor);
        }

        try
        {
            return new NpgsqlConnectionStringBuilder(value).ConnectionString;
        }
        catch (ArgumentException e)
        {
            throw new PartialReplicaException($"The {whatFor} connection string is malformed ({e.Message}).", e);
        }
    }
}
