using System.Diagnostics;
using System.Security.Cryptography;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Clusters;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// S5 (issue 20): the token-signing keys on the leader are useless to anyone who reads the database: they are
/// encrypted with the gateway key, which only gateways hold, not with the data key the followers hold.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class GatewayKeyTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Stored_signing_keys_are_not_keys_and_open_with_the_gateway_key_only()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var active = await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);

        var columns = await Db.ColumnAsync(fixture.Leader,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'partial_replica' AND table_name = 'signing_keys'");
        Assert.DoesNotContain("private_key", columns);
        var rows = await ReadRowsAsync();
        Assert.Contains(rows, r => r.Kid == active.KeyId);
        var dataKey = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());
        var gatewayKey = Slosilo.FromBase64Key(TestGatewayKey.Base64);
        foreach (var (kid, stored) in rows)
        {
            using var probe = ECDsa.Create();
            Assert.ThrowsAny<CryptographicException>(() => probe.ImportPkcs8PrivateKey(stored, out _));
            Assert.Throws<PartialReplicaException>(() => dataKey.Decrypt(stored, kid));
            // Bound to its key id: the blob moved to another row does not open either.
            Assert.Throws<PartialReplicaException>(() => gatewayKey.Decrypt(stored, kid + "x"));

            using var opened = ECDsa.Create();
            opened.ImportPkcs8PrivateKey(gatewayKey.Decrypt(stored, kid), out _);
            Assert.Equal(256, opened.KeySize);
        }

        // The one that opens is the key the gateway signs with.
        var (_, activeBlob) = rows.Single(r => r.Kid == active.KeyId);
        using var activeOpened = ECDsa.Create();
        activeOpened.ImportPkcs8PrivateKey(gatewayKey.Decrypt(activeBlob, active.KeyId), out _);
        Assert.Equal(active.ECDsa.ExportParameters(false).Q.X, activeOpened.ExportParameters(false).Q.X);
    }

    [Fact]
    public async Task A_dump_of_the_leader_holds_no_signing_key()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var active = await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);
        var privateScalar = Convert.ToHexStringLower(active.ECDsa.ExportParameters(includePrivateParameters: true).D!);
        var pkcs8 = Convert.ToHexStringLower(active.ECDsa.ExportPkcs8PrivateKey());

        var dump = await PgDumpAsync(fixture.Leader);

        Assert.Contains(active.KeyId, dump, StringComparison.Ordinal);
        Assert.DoesNotContain(privateScalar, dump, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(pkcs8[..64], dump, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_gateway_key_that_did_not_make_the_leaders_signing_keys_is_a_clear_error_and_the_gateway_does_not_start()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);
        var other = GatewayKey.GenerateBase64();

        var ring = new SigningKeyRing(leader, GatewayKey.FromBase64(other), TimeProvider.System);
        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => ring.GetKeysAsync(refresh: false, CancellationToken.None));
        Assert.Contains("PARTIALREPLICA_GATEWAY_KEY does not match the leader's signing keys", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(other, error.Message, StringComparison.Ordinal);

        await using var gateway = GatewayApplication.Build([], new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Gateway:Leader"] = fixture.Leader,
            ["Gateway:GatewayKey"] = other,
            ["Gateway:DataKey"] = TestDataKey.Base64,
            ["Dispatch:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "None",
        });
        var refused = await Assert.ThrowsAsync<PartialReplicaException>(() => gateway.StartAsync());
        Assert.Contains("does not match the leader's signing keys", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_gateway_without_the_key_prints_one_line_and_exits_2()
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = fixture.Leader,
            ["PARTIALREPLICA_GATEWAY_KEY"] = "",
        }, "serve", "gateway", "--urls", "http://127.0.0.1:0");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: No gateway key: set PARTIALREPLICA_GATEWAY_KEY", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_gateway_with_another_key_prints_that_it_does_not_match_and_exits_2()
    {
        await using (var leader = NpgsqlDataSource.Create(fixture.Leader))
        {
            await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);
        }

        var other = GatewayKey.GenerateBase64();
        var result = await CliProcess.RunAsync(new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = fixture.Leader,
            ["PARTIALREPLICA_GATEWAY_KEY"] = other,
        }, "serve", "gateway", "--urls", "http://127.0.0.1:0");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: This PARTIALREPLICA_GATEWAY_KEY does not match the leader's signing keys", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(other, result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_and_replicate_without_the_key_say_so_in_one_line()
    {
        foreach (var verb in new[] { new[] { "listen" }, ["replicate", "--all"] })
        {
            var result = await CliProcess.RunAsync(new Dictionary<string, string>
            {
                ["PARTIALREPLICA_LEADER"] = fixture.Leader,
                ["PARTIALREPLICA_GATEWAY_KEY"] = "",
            }, verb);

            Assert.Equal(2, result.ExitCode);
            var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.Contains("PARTIALREPLICA_GATEWAY_KEY", line, StringComparison.Ordinal);
        }
    }

    private async Task<List<(string Kid, byte[] Stored)>> ReadRowsAsync()
    {
        // As the superuser the fixture connects as: whoever can read the table sees only these bytes.
        await using var connection = new NpgsqlConnection(fixture.Leader);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT kid, encrypted_private_key FROM partial_replica.signing_keys", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, byte[])>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
        }

        return rows;
    }

    private static async Task<string> PgDumpAsync(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var info = new ProcessStartInfo(PostgresBinaries.Locate()["pg_dump"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--data-only", "--schema=partial_replica", "--host", builder.Host!, "--port", builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--username", builder.Username!, builder.Database! })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["PGPASSWORD"] = builder.Password ?? "";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stderr);
        return await stdout;
    }
}
