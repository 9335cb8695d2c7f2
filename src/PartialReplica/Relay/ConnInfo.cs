using System.Globalization;
using Npgsql;

namespace PartialReplica.Relay;

/// <summary>libpq <c>key=value</c> connection strings for subscriptions (the only place a replication password lives).</summary>
internal static class ConnInfo
{
    /// <summary>A subscription's conninfo; TLS settings of <paramref name="tls"/> carry over.</summary>
    public static string Build(string host, int port, string database, string user, string password, string applicationName, NpgsqlConnectionStringBuilder? tls = null)
    {
        var parts = new List<string>
        {
            $"host={Value(host)}",
            $"port={port.ToString(CultureInfo.InvariantCulture)}",
            $"dbname={Value(database)}",
            $"user={Value(user)}",
            $"password={Value(password)}",
            $"application_name={Value(applicationName)}",
        };
        if (tls is not null && tls.SslMode != SslMode.Disable && tls.SslMode != SslMode.Prefer)
        {
            parts.Add("sslmode=" + tls.SslMode switch
            {
                SslMode.Allow => "allow",
                SslMode.Require => "require",
                SslMode.VerifyCA => "verify-ca",
                SslMode.VerifyFull => "verify-full",
                _ => "prefer",
            });
            if (!string.IsNullOrEmpty(tls.RootCertificate))
            {
                parts.Add($"sslrootcert={Value(tls.RootCertificate)}");
            }
        }

        return string.Join(' ', parts);
    }

    private static string Value(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
