using Npgsql;
using PartialReplica.Configuration;

namespace PartialReplica.UnitTests.Configuration;

/// <summary>libpq URIs keep every parameter the driver understands; anything else is a one-line error naming it.</summary>
public sealed class ConnectionUriTests
{
    [Fact]
    public void Libpq_uri_maps_hosts_credentials_and_every_tls_parameter_to_npgsql()
    {
        var builder = Parse(
            "postgresql://user:pass@host1:5432,host2:5433/db?sslmode=verify-full&sslrootcert=/x&application_name=y" +
            "&options=-c%20x%3Dy&target_session_attrs=read-write&sslcert=/c.crt&sslkey=/c.key&sslpassword=kp&connect_timeout=7");

        Assert.Equal("host1:5432,host2:5433", builder.Host);
        Assert.Equal("user", builder.Username);
        Assert.Equal("pass", builder.Password);
        Assert.Equal("db", builder.Database);
        Assert.Equal(SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/x", builder.RootCertificate);
        Assert.Equal("y", builder.ApplicationName);
        Assert.Equal("-c x=y", builder.Options);
        Assert.Equal("read-write", builder.TargetSessionAttributes);
        Assert.Equal("/c.crt", builder.SslCertificate);
        Assert.Equal("/c.key", builder.SslKey);
        Assert.Equal("kp", builder.SslPassword);
        Assert.Equal(7, builder.Timeout);
    }

    [Theory]
    [InlineData("disable", SslMode.Disable)]
    [InlineData("allow", SslMode.Allow)]
    [InlineData("prefer", SslMode.Prefer)]
    [InlineData("require", SslMode.Require)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("verify-full", SslMode.VerifyFull)]
    public void Every_libpq_sslmode_maps_to_its_npgsql_mode(string sslmode, SslMode expected) =>
        Assert.Equal(expected, Parse($"postgres://h/d?sslmode={sslmode}").SslMode);

    [Fact]
    public void Percent_encoding_is_decoded_exactly_once_and_plus_stays_plus()
    {
        var builder = Parse("postgresql://a%40b:p%2540%3A%2F+q@h/my%2Fdb%20%C3%BC?application_name=a%2Bb+c");

        Assert.Equal("a@b", builder.Username);
        Assert.Equal("p%40:/+q", builder.Password);
        Assert.Equal("my/db ü", builder.Database);
        Assert.Equal("a+b+c", builder.ApplicationName);
    }

    [Fact]
    public void Ipv6_hosts_single_port_for_all_hosts_and_query_hosts_follow_libpq()
    {
        var single = Parse("postgresql://[::1]:5433/db");
        Assert.Equal("::1", single.Host);
        Assert.Equal(5433, single.Port);

        Assert.Equal("[::1]:5433,h2:5434", Parse("postgresql://[::1]:5433,h2:5434/db").Host);

        var fromQuery = Parse("postgresql:///db?host=a,b&port=6000&user=u&dbname=other");
        Assert.Equal("a,b", fromQuery.Host);
        Assert.Equal(6000, fromQuery.Port);
        Assert.Equal("u", fromQuery.Username);
        Assert.Equal("other", fromQuery.Database);

        var defaults = Parse("postgresql://h");
        Assert.Equal("h", defaults.Host);
        Assert.Equal(5432, defaults.Port);
        Assert.Null(defaults.Database);
    }

    [Fact]
    public void Remaining_libpq_parameters_with_a_driver_equivalent_are_kept()
    {
        var builder = Parse(
            "postgresql://h/d?channel_binding=require&gssencmode=disable&sslnegotiation=direct&require_auth=scram-sha-256,password" +
            "&krbsrvname=pg&client_encoding=UTF8&load_balance_hosts=random&keepalives=1&keepalives_idle=30&keepalives_interval=5" +
            "&passfile=/pgpass&fallback_application_name=fb");

        Assert.Equal(ChannelBinding.Require, builder.ChannelBinding);
        Assert.Equal(GssEncryptionMode.Disable, builder.GssEncryptionMode);
        Assert.Equal(SslNegotiation.Direct, builder.SslNegotiation);
        Assert.Equal("ScramSHA256,Password", builder.RequireAuth);
        Assert.Equal("pg", builder.KerberosServiceName);
        Assert.Equal("UTF8", builder.ClientEncoding);
        Assert.True(builder.LoadBalanceHosts);
        Assert.True(builder.TcpKeepAlive);
        Assert.Equal(30, builder.TcpKeepAliveTime);
        Assert.Equal(5, builder.TcpKeepAliveInterval);
        Assert.Equal("/pgpass", builder.Passfile);
        Assert.Equal("fb", builder.ApplicationName);
        Assert.Equal("given", Parse("postgresql://h/d?application_name=given&fallback_application_name=fb").ApplicationName);
    }

    [Theory]
    [InlineData("postgresql://u:hunter2@h/d?sslcrl=/crl.pem", "\"sslcrl\" is unknown")]
    [InlineData("postgresql://u:hunter2@h/d?ssl=true", "\"ssl\" is unknown")]
    [InlineData("postgresql://u:hunter2@h/d?sslmode=verify", "sslmode=verify is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    [InlineData("postgresql://u:hunter2@h/d?target_session_attrs=rw", "target_session_attrs=rw is not one of any, read-write")]
    [InlineData("postgresql://u:hunter2@h/d?sslmode", "\"sslmode\" is not written as key=value")]
    [InlineData("postgresql://u:hunter2@h:5x/d", "port=5x is not a whole number")]
    [InlineData("postgresql://u:hunter2@a,b,c/d?port=1,2", "2 port numbers cannot be matched to 3 hosts")]
    [InlineData("postgresql://u:hunter2%zz@h/d", "the password has an invalid percent-encoding")]
    [InlineData("postgresql://u:hunter2%00@h/d", "the password holds %00")]
    [InlineData("postgresql://u:hunter2@h/d?options=%FF", "the value of options is not UTF-8")]
    [InlineData("postgresql://u:hunter2@[::1/d", "IPv6 host address has no closing")]
    public void Malformed_or_unknown_parts_are_one_line_errors_that_name_them_and_never_the_password(string uri, string expected)
    {
        var error = Assert.Throws<PartialReplicaException>(() => ConnectionStrings.Normalize(uri, "leader"));

        Assert.StartsWith("The leader URI is malformed: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Keyword_value_strings_keep_their_tls_settings()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(
            "Host=h1:5432,h2:5433;Database=d;Username=u;SSL Mode=VerifyFull;Root Certificate=/ca.pem;Target Session Attributes=primary", "leader"));

        Assert.Equal("h1:5432,h2:5433", builder.Host);
        Assert.Equal(SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/ca.pem", builder.RootCertificate);
        Assert.Equal("primary", builder.TargetSessionAttributes);
    }

    [Fact]
    public void Service_strings_keep_uri_tls_parameters_and_append_jit_off_to_given_options()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionStrings.ForService(
            "postgresql://u@h/d?sslmode=verify-full&sslrootcert=/ca.pem&options=-c%20statement_timeout%3D5s", "leader"));

        Assert.Equal(SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/ca.pem", builder.RootCertificate);
        Assert.Equal("-c statement_timeout=5s -c jit=off", builder.Options);
    }

    private static NpgsqlConnectionStringBuilder Parse(string uri) => new(ConnectionStrings.Normalize(uri, "leader"));
}
