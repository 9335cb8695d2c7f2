using Npgsql;
using PartialReplica.Leader.Relay;

namespace PartialReplica.UnitTests.Configuration;

/// <summary>
/// A subscription's conninfo is read by libpq in the subscriber's server: Npgsql's multi-host form becomes libpq's
/// parallel host and port lists, and every TLS file setting of the connection it was built from carries over.
/// </summary>
public sealed class SubscriptionConnInfoTests
{
    [Fact]
    public void Single_host_keeps_the_given_port()
    {
        var conninfo = ConnInfo.Build("127.0.0.1", 5433, "db", "u", "p", "app");
        Assert.Equal("host='127.0.0.1' port='5433' dbname='db' user='u' password='p' application_name='app'", conninfo);
    }

    [Fact]
    public void Without_an_application_name_none_is_written_and_one_written_before_can_be_taken_out()
    {
        Assert.Equal("host='h' port='5432' dbname='db' user='u' password='p\\'q'", ConnInfo.Build("h", 5432, "db", "u", "p'q", null));
        Assert.Equal(
            "host='h' port='5432' dbname='db' user='u' password='p\\'q' sslmode=verify-full",
            ConnInfo.WithoutApplicationName("host='h' port='5432' dbname='db' user='u' password='p\\'q' application_name='pr_it\\'s' sslmode=verify-full"));
        Assert.Equal("host=h user=u", ConnInfo.WithoutApplicationName("host=h application_name=pr_x user=u"));
    }

    [Fact]
    public void A_rotated_password_replaces_the_old_one_or_is_added()
    {
        Assert.Equal("host='h' password='new' sslpassword='k' user='u'",
            ConnInfo.WithPassword("host='h' password='o\\'ld' sslpassword='k' user='u'", "new"));
        Assert.Equal("host='h' sslpassword='k' password='new'", ConnInfo.WithPassword("host='h' sslpassword='k'", "new"));
    }

    [Fact]
    public void Multi_host_becomes_parallel_host_and_port_lists()
    {
        var conninfo = ConnInfo.Build("a.example:5432,[::1]:5434,b.example", 6000, "db", "u", "p", "app");
        Assert.StartsWith("host='a.example,::1,b.example' port='5432,5434,6000' ", conninfo);
    }

    [Fact]
    public void Tls_files_and_mode_carry_over_and_quotes_are_escaped()
    {
        var tls = new NpgsqlConnectionStringBuilder
        {
            SslMode = SslMode.VerifyFull,
            RootCertificate = "/etc/ca's.pem",
            SslCertificate = "/etc/client.pem",
            SslKey = "/etc/client.key",
        };
        var conninfo = ConnInfo.Build("h", 5432, "db", "u", "p\\w", "app", tls);
        Assert.Equal(
            "host='h' port='5432' dbname='db' user='u' password='p\\\\w' application_name='app' sslmode=verify-full " +
            "sslrootcert='/etc/ca\\'s.pem' sslcert='/etc/client.pem' sslkey='/etc/client.key'",
            conninfo);
    }
}
