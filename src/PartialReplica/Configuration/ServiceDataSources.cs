using Microsoft.Extensions.Logging;
using Npgsql;

namespace PartialReplica.Configuration;

/// <summary>
/// Data sources of the long-running hosts (gateway, agent), built with the host's logger factory so the driver's own
/// log lines (categories <c>Npgsql.*</c>) reach the same place as ours.
/// </summary>
public static class ServiceDataSources
{
    /// <summary>
    /// A data source on <paramref name="connectionString"/> logging through <paramref name="loggerFactory"/>. Parameter
    /// logging stays off: parameter values include ciphertext, API key hashes and passwords; Npgsql logs command texts
    /// (which carry <c>$1</c> placeholders, never values) and connection strings without their password.
    /// </summary>
    public static NpgsqlDataSource Create(string connectionString, ILoggerFactory loggerFactory) =>
        new NpgsqlDataSourceBuilder(connectionString).UseLoggerFactory(loggerFactory).Build();
}
