using System.Globalization;
using System.Text;
using Npgsql;

namespace PartialReplica.Configuration;

/// <summary>
/// libpq connection URIs (<c>postgresql://user:pw@host1:5432,host2:5433/db?sslmode=verify-full&amp;...</c>) read the way
/// libpq reads them, turned into Npgsql's keywords. Every parameter with an Npgsql equivalent is kept; any other is an
/// error naming it, because silently dropping one (<c>sslmode</c>, say) could weaken the connection.
/// </summary>
internal static class PostgresUri
{
    private static readonly string[] Schemes = ["postgresql://", "postgres://"];

    /// <summary>libpq parameter → how it lands on Npgsql's builder. The value is percent-decoded already.</summary>
    private static readonly Dictionary<string, Action<NpgsqlConnectionStringBuilder, string, string>> Parameters = new(StringComparer.Ordinal)
    {
        ["dbname"] = (b, _, v) => b.Database = v,
        ["user"] = (b, _, v) => b.Username = v,
        ["password"] = (b, _, v) => b.Password = v,
        ["passfile"] = (b, _, v) => b.Passfile = v,
        ["sslmode"] = (b, k, v) => b.SslMode = OneOf(k, v, new Dictionary<string, SslMode>
        {
            ["disable"] = SslMode.Disable, ["allow"] = SslMode.Allow, ["prefer"] = SslMode.Prefer,
            ["require"] = SslMode.Require, ["verify-ca"] = SslMode.VerifyCA, ["verify-full"] = SslMode.VerifyFull,
        }),
        ["sslrootcert"] = (b, _, v) => b.RootCertificate = v,
        ["sslcert"] = (b, _, v) => b.SslCertificate = v,
        ["sslkey"] = (b, _, v) => b.SslKey = v,
        ["sslpassword"] = (b, _, v) => b.SslPassword = v,
        ["sslnegotiation"] = (b, k, v) => b.SslNegotiation = OneOf(k, v, new Dictionary<string, SslNegotiation>
        {
            ["postgres"] = SslNegotiation.Postgres, ["direct"] = SslNegotiation.Direct,
        }),
        ["gssencmode"] = (b, k, v) => b.GssEncryptionMode = OneOf(k, v, new Dictionary<string, GssEncryptionMode>
        {
            ["disable"] = GssEncryptionMode.Disable, ["prefer"] = GssEncryptionMode.Prefer, ["require"] = GssEncryptionMode.Require,
        }),
        ["channel_binding"] = (b, k, v) => b.ChannelBinding = OneOf(k, v, new Dictionary<string, ChannelBinding>
        {
            ["disable"] = ChannelBinding.Disable, ["prefer"] = ChannelBinding.Prefer, ["require"] = ChannelBinding.Require,
        }),
        ["require_auth"] = (b, k, v) => b.RequireAuth = string.Join(',', v.Split(',').Select(m =>
            (m.StartsWith('!') ? "!" : "") + OneOf(k, m.TrimStart('!'), new Dictionary<string, string>
            {
                ["password"] = "Password", ["md5"] = "MD5", ["gss"] = "GSS", ["sspi"] = "SSPI", ["scram-sha-256"] = "ScramSHA256", ["none"] = "None",
            }))),
        ["krbsrvname"] = (b, _, v) => b.KerberosServiceName = v,
        ["options"] = (b, _, v) => b.Options = v,
        ["application_name"] = (b, _, v) => b.ApplicationName = v,
        ["fallback_application_name"] = (b, _, v) => b.ApplicationName ??= v,
        ["client_encoding"] = (b, _, v) => b.ClientEncoding = v,
        ["target_session_attrs"] = (b, k, v) => b.TargetSessionAttributes = OneOf(k, v,
            new[] { "any", "read-write", "read-only", "primary", "standby", "prefer-standby", "prefer-primary" }.ToDictionary(a => a)),
        ["load_balance_hosts"] = (b, k, v) => b.LoadBalanceHosts = OneOf(k, v, new Dictionary<string, bool> { ["disable"] = false, ["random"] = true }),
        ["connect_timeout"] = (b, k, v) => b.Timeout = Number(k, v),
        ["keepalives"] = (b, k, v) => b.TcpKeepAlive = OneOf(k, v, new Dictionary<string, bool> { ["0"] = false, ["1"] = true }),
        ["keepalives_idle"] = (b, k, v) => b.TcpKeepAliveTime = Number(k, v),
        ["keepalives_interval"] = (b, k, v) => b.TcpKeepAliveInterval = Number(k, v),
    };

    public static bool IsUri(string value) => Schemes.Any(s => value.StartsWith(s, StringComparison.Ordinal));

    /// <summary>Parses a libpq URI into an Npgsql connection string; errors name the part, never the password.</summary>
    public static string ToConnectionString(string uri, string whatFor)
    {
        var rest = uri[Schemes.First(s => uri.StartsWith(s, StringComparison.Ordinal)).Length..];
        var builder = new NpgsqlConnectionStringBuilder();
        string hosts;
        string ports;

        try
        {
            var queryAt = rest.IndexOf('?', StringComparison.Ordinal);
            var query = queryAt < 0 ? "" : rest[(queryAt + 1)..];

            // As libpq: credentials end at the first '@' that comes before any '/'.
            var credentialsEnd = rest.IndexOfAny(['@', '/']);
            if (credentialsEnd >= 0 && rest[credentialsEnd] == '@')
            {
                var credentials = rest[..credentialsEnd];
                var colon = credentials.IndexOf(':', StringComparison.Ordinal);
                var user = colon < 0 ? credentials : credentials[..colon];
                if (user.Length > 0)
                {
                    builder.Username = Decode(user, "user name");
                }

                if (colon >= 0)
                {
                    builder.Password = Decode(credentials[(colon + 1)..], "password");
                }

                rest = rest[(credentialsEnd + 1)..];
                queryAt = rest.IndexOf('?', StringComparison.Ordinal);
            }

            var beforeQuery = queryAt < 0 ? rest : rest[..queryAt];
            var slash = beforeQuery.IndexOf('/', StringComparison.Ordinal);
            (hosts, ports) = ParseHosts(slash < 0 ? beforeQuery : beforeQuery[..slash]);
            if (slash >= 0 && slash + 1 < beforeQuery.Length)
            {
                builder.Database = Decode(beforeQuery[(slash + 1)..], "database name");
            }

            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals < 0 || pair.IndexOf('=', equals + 1) >= 0)
                {
                    throw new FormatException($"the query parameter \"{Visible(equals < 0 ? pair : pair[..equals])}\" is not written as key=value");
                }

                var key = Decode(pair[..equals], "parameter name");
                var value = Decode(pair[(equals + 1)..], $"value of {key}");
                switch (key)
                {
                    // A query host or port replaces the one before the path, as in libpq.
                    case "host":
                        hosts = value;
                        break;
                    case "port":
                        ports = value;
                        break;
                    default:
                        if (!Parameters.TryGetValue(key, out var apply))
                        {
                            throw new FormatException(
                                $"the parameter \"{Visible(key)}\" is unknown or has no equivalent in the .NET driver (Npgsql); known: host, port, " +
                                string.Join(", ", Parameters.Keys));
                        }

                        try
                        {
                            apply(builder, key, value);
                        }
                        catch (ArgumentException e)
                        {
                            throw new FormatException($"the driver refuses the value of {key}" + (key.Contains("password", StringComparison.Ordinal) ? "" : $" ({e.Message})"), e);
                        }

                        break;
                }
            }

            SetHosts(builder, hosts, ports);
            return builder.ConnectionString;
        }
        catch (FormatException e)
        {
            throw new PartialReplicaException($"The {whatFor} URI is malformed: {e.Message}.", e);
        }
    }

    /// <summary>The part between the credentials and the path: <c>host[:port][,host[:port]]...</c>, IPv6 in brackets.</summary>
    private static (string Hosts, string Ports) ParseHosts(string text)
    {
        var hosts = new List<string>();
        var ports = new List<string>();
        var i = 0;
        while (true)
        {
            string host;
            if (i < text.Length && text[i] == '[')
            {
                var close = text.IndexOf(']', i);
                if (close < 0)
                {
                    throw new FormatException("an IPv6 host address has no closing \"]\"");
                }

                host = text[(i + 1)..close];
                i = close + 1;
            }
            else
            {
                var end = text.IndexOfAny([':', ','], i);
                end = end < 0 ? text.Length : end;
                host = Decode(text[i..end], "host");
                i = end;
            }

            var port = "";
            if (i < text.Length && text[i] == ':')
            {
                var end = text.IndexOf(',', i);
                end = end < 0 ? text.Length : end;
                port = Decode(text[(i + 1)..end], "port");
                i = end;
            }

            hosts.Add(host);
            ports.Add(port);
            if (i >= text.Length)
            {
                break;
            }

            if (text[i] != ',')
            {
                throw new FormatException($"unexpected \"{text[i]}\" after a host");
            }

            i++;
        }

        return (string.Join(',', hosts), string.Join(',', ports));
    }

    /// <summary>libpq's host and port lists as Npgsql's <c>Host=h1:p1,h2:p2</c> (or one Port for all).</summary>
    private static void SetHosts(NpgsqlConnectionStringBuilder builder, string hostList, string portList)
    {
        var hosts = hostList.Split(',');
        var ports = portList.Split(',');
        if (ports.Length != 1 && ports.Length != hosts.Length)
        {
            throw new FormatException($"{ports.Length} port numbers cannot be matched to {hosts.Length} hosts");
        }

        foreach (var port in ports.Where(p => p.Length > 0))
        {
            Number("port", port);
        }

        if (hosts.Length == 1 || ports.Length == 1)
        {
            if (hosts.Any(h => h.Length > 0))
            {
                builder.Host = string.Join(',', hosts);
            }

            if (ports[0].Length > 0)
            {
                builder.Port = Number("port", ports[0]);
            }

            return;
        }

        builder.Host = string.Join(',', hosts.Zip(ports, (h, p) => p.Length == 0 ? h : (h.Contains(':', StringComparison.Ordinal) ? $"[{h}]" : h) + ":" + p));
    }

    private static T OneOf<T>(string key, string value, IReadOnlyDictionary<string, T> allowed) =>
        allowed.TryGetValue(value, out var mapped)
            ? mapped
            : throw new FormatException($"{key}={Visible(value)} is not one of {string.Join(", ", allowed.Keys)}");

    private static int Number(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new FormatException($"{key}={Visible(value)} is not a whole number");

    /// <summary>Percent-decoding, once and strictly (as libpq: a bad escape or %00 is an error; '+' stays '+').</summary>
    private static string Decode(string text, string what)
    {
        if (!text.Contains('%', StringComparison.Ordinal))
        {
            return text;
        }

        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
            {
                var run = text.IndexOf('%', i);
                run = run < 0 ? text.Length : run;
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i..run]));
                i = run - 1;
                continue;
            }

            if (i + 2 >= text.Length || !byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                throw new FormatException($"the {what} has an invalid percent-encoding (write a literal % as %25)");
            }

            if (b == 0)
            {
                throw new FormatException($"the {what} holds %00, which PostgreSQL cannot take");
            }

            bytes.Add(b);
            i += 2;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException e)
        {
            throw new FormatException($"the {what} is not UTF-8 once percent-decoded", e);
        }
    }

    /// <summary>A name or enumerated value, shortened, for an error line.</summary>
    private static string Visible(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
