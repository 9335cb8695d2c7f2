using System.Security.Authentication;
using Npgsql;
using PartialReplica.Configuration;
using PartialReplica.Tooling.Clusters;

namespace PartialReplica.Tests.Tls;

/// <summary>
/// SPEC S5: a postgresql:// URI's TLS parameters reach the driver. A loopback server serves a certificate from a CA
/// the test made; <c>sslmode=verify-full</c> with that CA connects encrypted, another CA is refused.
/// </summary>
public sealed class LeaderTlsTests(LeaderTlsTests.TlsServer fixture) : IClassFixture<LeaderTlsTests.TlsServer>
{
    private readonly TestCertificates _ca = fixture.Ca;
    private readonly TestCertificates _otherCa = fixture.OtherCa;
    private readonly PostgresCluster _server = fixture.Server;

    [Fact]
    public async Task Verify_full_uri_with_the_servers_ca_connects_over_tls()
    {
        var uri = Uri(_ca.CaPath, "sslmode=verify-full&application_name=tls%20probe");

        await using var connection = new NpgsqlConnection(ConnectionStrings.ForService(uri, "leader"));
        await connection.OpenAsync();

        Assert.True(await ScalarAsync<bool>(connection, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
        Assert.Equal("tls probe", await ScalarAsync<string>(connection, "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"));
    }

    [Fact]
    public async Task Verify_full_uri_reaches_the_second_of_two_hosts_when_the_first_is_down()
    {
        // Port 1 on loopback refuses at once; libpq's host list moves on to the next host.
        var uri = $"postgresql://postgres:{System.Uri.EscapeDataString(_server.SuperuserPassword)}@127.0.0.1:1,127.0.0.1:{_server.Port}/postgres" +
            $"?sslmode=verify-full&sslrootcert={System.Uri.EscapeDataString(_ca.CaPath)}&target_session_attrs=any";

        await using var connection = new NpgsqlConnection(ConnectionStrings.Normalize(uri, "leader"));
        await connection.OpenAsync();

        Assert.True(await ScalarAsync<bool>(connection, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
        Assert.Equal(_server.Port, await ScalarAsync<int>(connection, "SELECT inet_server_port()"));
    }

    [Fact]
    public async Task Verify_full_uri_with_another_ca_is_refused_with_a_certificate_error()
    {
        var uri = Uri(_otherCa.CaPath, "sslmode=verify-full");

        await using var connection = new NpgsqlConnection(ConnectionStrings.Normalize(uri, "leader"));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => connection.OpenAsync());

        Assert.Contains(Chain(error), e => e is AuthenticationException);
    }

    [Fact]
    public async Task Sslmode_disable_in_the_uri_is_honoured_by_a_tls_capable_server()
    {
        // Without the query string the driver would default to prefer and encrypt: disable proves it is read.
        var uri = Uri(_ca.CaPath, "sslmode=disable");

        await using var connection = new NpgsqlConnection(ConnectionStrings.Normalize(uri, "leader"));
        await connection.OpenAsync();

        Assert.False(await ScalarAsync<bool>(connection, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
    }

    private string Uri(string caPath, string query) =>
        $"postgresql://postgres:{System.Uri.EscapeDataString(_server.SuperuserPassword)}@127.0.0.1:{_server.Port}/postgres" +
        $"?sslrootcert={System.Uri.EscapeDataString(caPath)}&{query}";

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    /// <summary>One TLS-capable server for the class, its CA, and a CA that did not issue its certificate.</summary>
    public sealed class TlsServer : IAsyncLifetime
    {
        public TestCertificates Ca { get; } = TestCertificates.CreateAuthority("leader-ca");

        public TestCertificates OtherCa { get; } = TestCertificates.CreateAuthority("other-ca");

        public PostgresCluster Server { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var certificate = Ca.Issue("leader-server");
            Server = await PostgresCluster.StartAsync(
                new ClusterOptions { Name = "tls-leader", Tls = new ClusterTls(certificate.CertificatePem, certificate.KeyPem) }, CancellationToken.None);
        }

        public async Task DisposeAsync()
        {
            await Server.DisposeAsync();
            Ca.Dispose();
            OtherCa.Dispose();
        }
    }
}
