using Npgsql;

namespace PartialReplica.Configuration;

/// <summary>Accepts both Npgsql's <c>Host=...;Database=...</c> and libpq URIs (<c>postgresql://user:pw@host:port/db</c>).</summary>
public static class ConnectionStrings
{
    /// <summary>
    /// A long-running service's connection string (gateway, agent): normalised, with PostgreSQL's JIT off
    /// unless the string sets it. Every statement the services run is short and keyed; measured in
    /// <c>bench</c>, JIT compilation of statements the planner misjudged after a bulk load cost more than
    /// running them. Statements a session runs again and again (an agent's apply, a worker's outbox read) are
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

        if (value.StartsWith("postgres://", StringComparison.Ordinal) || value.StartsWith("postgresql://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
            {
                throw new PartialReplicaException($"The {whatFor} URI is malformed; write it as postgresql://user:password@host:port/database.");
            }

            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = uri.Host,
                Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
                Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
            };
            var userInfo = uri.UserInfo.Split(':', 2);
            if (userInfo[0].Length > 0)
            {
                builder.Username = Uri.UnescapeDataString(userInfo[0]);
            }

            if (userInfo.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[1]);
            }

            return builder.ConnectionString;
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
