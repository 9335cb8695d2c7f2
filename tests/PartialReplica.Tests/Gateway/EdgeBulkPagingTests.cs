using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Gateway;

/// <summary>F7 at scale: 100,000 granted secrets page through the API at limit 10000, each once, in order.</summary>
[Collection(GatewayCollection.Name)]
public sealed class EdgeBulkPagingTests(GatewayFixture fixture, ITestOutputHelper output)
{
    private const int Rows = 100_000;
    private const int Limit = 10_000;

    [Fact]
    public async Task Paging_100000_granted_secrets_at_limit_10000_returns_each_once_in_order()
    {
        var follower = await fixture.AddFollowerAsync();
        var set = GatewayFixture.Unique("bulk");
        var prefix = $"default:variable:{set}/";
        await fixture.GrantAsync(set, [follower]);
        var group = $"default:group:conjur/replication-sets/{set}/replicated-data";
        // Values stand in for Slosilo blobs: 'G' + tag + IV + ciphertext, ~60 bytes.
        await fixture.RunAsync(
            ("INSERT INTO resources (resource_id, owner_id) SELECT $1 || lpad(i::text, 6, '0'), 'default:user:admin' FROM generate_series(1, $2) i", [prefix, Rows]),
            ("INSERT INTO permissions (privilege, resource_id, role_id) SELECT 'execute', $1 || lpad(i::text, 6, '0'), $3 FROM generate_series(1, $2) i", [prefix, Rows, group]),
            ("INSERT INTO secrets (resource_id, value) SELECT $1 || lpad(i::text, 6, '0'), '\\x47'::bytea || decode(repeat(md5(i::text), 4), 'hex') FROM generate_series(1, $2) i", [prefix, Rows]));

        var keyset = await PageAllAsync(follower.Token, keyset: true);
        var offset = await PageAllAsync(follower.Token, keyset: false);

        var expected = Enumerable.Range(1, Rows).Select(i => prefix + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(expected, keyset);
        Assert.Equal(expected, offset);
    }

    private async Task<List<string>> PageAllAsync(string token, bool keyset)
    {
        var ids = new List<string>(Rows);
        long bytes = 0;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var query = keyset
                ? ids.Count == 0 ? $"?limit={Limit}" : $"?limit={Limit}&after={Uri.EscapeDataString(ids[^1])}"
                : $"?limit={Limit}&offset={ids.Count}";
            using var response = await fixture.GetAsync($"/edge/secrets/default{query}", token);
            var body = await response.Content.ReadAsByteArrayAsync();
            bytes += body.Length;
            var page = Ids(JsonDocument.Parse(body).RootElement);
            ids.AddRange(page);
            if (page.Count < Limit)
            {
                break;
            }
        }

        clock.Stop();
        output.WriteLine($"{(keyset ? "keyset" : "offset")} paging: {ids.Count} secrets in {clock.Elapsed.TotalSeconds:0.00} s = " +
            $"{ids.Count / clock.Elapsed.TotalSeconds:0} rows/s, {bytes / 1048576.0:0.0} MiB");
        return ids;
    }
}
