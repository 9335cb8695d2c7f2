using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace PartialReplica.Leader.Relay;

/// <summary>libpq <c>key=value</c> connection strings for subscriptions (the only place a replication password lives).</summary>
internal static partial class ConnInfo
{
    /// <summary>
    /// A subscription's conninfo; TLS settings of <paramref name="tls"/> carry over. <paramref name="host"/> may be
    /// Npgsql's multi-host form (<c>a:5432,b:5433</c>, a port per host or <paramref name="port"/> for all), which
    /// libpq takes as parallel <c>host</c> and <c>port</c> lists.
    /// </summary>
    /// <remarks>
    /// Without <paramref name="applicationName"/>, PostgreSQL names the subscription's sessions on the publisher itself:
    /// the apply worker's after the subscription, each table copy's after its table sync slot (the gateway's slot check
    /// tells a copy still running by that name; <see cref="SlotHealer"/>).
    /// </remarks>
    public static string Build(
        string host, int port, string database, string user, string password, string? applicationName, NpgsqlConnectionStringBuilder? tls = null)
    {
        var (hosts, ports) = HostLists(host, port);
        var parts = new List<string>
        {
            $"host={Value(hosts)}",
            $"port={Value(ports)}",
            $"dbname={Value(database)}",
            $"user={Value(user)}",
            $"password={Value(password)}",
        };
        if (applicationName is not null)
        {
            parts.Add($"application_name={Value(applicationName)}");
        }

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
            // Paths are read by the subscriber's server, as libpq reads them for any subscription.
            foreach (var (key, value) in new[] { ("sslrootcert", tls.RootCertificate), ("sslcert", tls.SslCertificate), ("sslkey", tls.SslKey) })
            {
                if (!string.IsNullOrEmpty(value))
                {
                    parts.Add($"{key}={Value(value)}");
                }
            }
        }

        return string.Join(' ', parts);
    }

    /// <summary>
    /// <paramref name="conninfo"/> without its <c>application_name</c> (as <see cref="Build"/> made it for followers
    /// before their table copies were named after their slots).
    /// </summary>
    public static string WithoutApplicationName(string conninfo) => ApplicationNamePart().Replace(conninfo, "").Trim();

    /// <summary><paramref name="conninfo"/> with <paramref name="password"/> in place of its password (added when it had none).</summary>
    public static string WithPassword(string conninfo, string password)
    {
        var part = "password=" + Value(password);
        var replaced = PasswordPart().Replace(conninfo, _ => part, 1);
        return replaced == conninfo ? conninfo + " " + part : replaced;
    }

    // A libpq value: quoted (backslash escapes inside) or bare up to the next space.
    private const string ValuePattern = @"(?:'(?:[^'\\]|\\.)*'|[^\s']\S*)";

    [GeneratedRegex(@"\s*\bapplication_name\s*=\s*" + ValuePattern)]
    private static partial Regex ApplicationNamePart();

    [GeneratedRegex(@"\bpassword\s*=\s*" + ValuePattern)]
    private static partial Regex PasswordPart();

    private static (string Hosts, string Ports) HostLists(string host, int port)
    {
        var hosts = new List<string>();
        var ports = new List<string>();
        foreach (var entry in host.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // "[::1]:5433", "h:5433", "h" or a bare IPv6 address (more than one colon, no brackets).
            var colon = entry.LastIndexOf(':');
            var bracketed = entry.StartsWith('[');
            var hasPort = colon > 0 && (bracketed ? entry.IndexOf(']', StringComparison.Ordinal) < colon : entry.IndexOf(':') == colon)
                && int.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
            var name = hasPort ? entry[..colon] : entry;
            hosts.Add(name.Trim('[', ']'));
            ports.Add(hasPort ? entry[(colon + 1)..] : port.ToString(CultureInfo.InvariantCulture));
        }

        return (string.Join(',', hosts), string.Join(',', ports));
    }

    private static string Value(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
