using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;
using PartialReplica.Authn;

namespace PartialReplica.Tooling.Bench;

/// <summary>P9: the Edge API's full pull and count of P1's granted set, beside native COPY of the same rows.</summary>
internal sealed partial class BenchRunner
{
    private const int PagingSamples = 3;
    private const int CountSamples = 21;

    // P1's follower role: granted every P1 variable, each with one value (P5c counts them).
    private const string PagingRoleId = "default:host:bench/p1";

    // The rows the Edge pull carries (the grant reader's GrantedSecretRowsSql for P1's role), as native COPY sends them.
    // COPY takes no parameters; the role is the bench's own constant.
    private const string PagingCopySql = """
        COPY (SELECT s.resource_id, s.version, s.value, s.expires_at
                FROM partial_replica.granted g JOIN secrets s ON s.resource_id = g.resource_id COLLATE "default"
               WHERE g.follower_role_id = 'default:host:bench/p1'
               ORDER BY g.resource_id, s.version) TO STDOUT
        """;

    /// <summary>The paging figures: rows/s through the gateway's HTTP API and by native COPY, and count latency.</summary>
    private sealed record EdgePaging(double RowsPerSecond, double CopyRowsPerSecond, double CountMs, int Limit);

    private List<BenchFigure> EdgePagingFigures(EdgePaging p9) =>
    [
        new("P9", $"Edge full pull of {sizes.P1Secrets:N0} granted secrets at limit {p9.Limit:N0} over HTTP vs native COPY of the same rows",
            p9.RowsPerSecond, p9.CopyRowsPerSecond, "rows/s", "≥ 150,000 rows/s", "≥ 150,000 rows/s"),
        new("P9c", $"Edge count=true for {sizes.P1Secrets:N0} granted secrets (median of {CountSamples})", p9.CountMs, null, "ms", "≤ 50 ms", "≤ 50 ms"),
    ];

    /// <summary>
    /// <c>bench --p9</c>: P1's granted set made as P1 makes it and its follower registered (follower init, no agent),
    /// without P1–P7's measurements; then P9.
    /// </summary>
    private async Task<EdgePaging> MeasureEdgePagingAloneAsync(CancellationToken cancellationToken)
    {
        Say($"P9: creating {sizes.P1Secrets:N0} variables granted to set p1, with values");
        await BenchData.CreateVariablesAsync(_leaderSource, "bench/p1", sizes.P1Secrets, _ => ["p1"], cancellationToken);
        await BenchData.InsertValuesAsync(_leaderSource, "bench/p1", sizes.P1Secrets, _crypto, cancellationToken);
        await BenchData.ExecuteAsync(_leader, "VACUUM (ANALYZE)", cancellationToken);
        await InitFollowerAsync(_followers.ConnectionString(await _followers.CreateDatabaseAsync("p9", cancellationToken)), "bench/p1", null, cancellationToken);
        return await MeasureEdgePagingAsync(cancellationToken);
    }

    /// <summary>
    /// P1's follower (granted all <see cref="BenchSizes.P1Secrets"/> variables, one value each) authenticates once and
    /// pulls its whole granted set from P1's gateway in pages of 10,000 (keyset, <c>after=</c>; a quarter of the set
    /// when quick, so paging is exercised), <see cref="PagingSamples"/> times after one unmeasured pull, each checked
    /// complete and in order; rows/s of the median. Then <c>count=true</c> <see cref="CountSamples"/> times, each checked
    /// equal to the set; median latency. Beside them, on the same leader: native <c>COPY (SELECT ...) TO STDOUT</c> of
    /// the same rows, read to the end, <see cref="PagingSamples"/> times; rows/s of the median. The HTTP figures include
    /// the round trips and parsing the JSON on one kept-alive connection; the token is fetched before any clock starts.
    /// </summary>
    private async Task<EdgePaging> MeasureEdgePagingAsync(CancellationToken cancellationToken)
    {
        var expected = sizes.P1Secrets;
        var limit = quick ? Math.Max(1, expected / 4) : EdgePage;
        Say($"P9: Edge paging of {expected:N0} granted secrets at limit {limit:N0}, count=true, native COPY of the same rows");

        string apiKey;
        await using (var connection = await _leaderSource.OpenConnectionAsync(cancellationToken))
        {
            apiKey = await ApiKeys.RotateAsync(connection, PagingRoleId, _crypto, cancellationToken);
        }

        using var http = new HttpClient { BaseAddress = new Uri(_gateway.Url), Timeout = TimeSpan.FromMinutes(2) };
        using (var authn = await http.PostAsync(
                   new Uri("/authn/default/" + Uri.EscapeDataString("host/bench/p1") + "/authenticate", UriKind.Relative),
                   new StringContent(apiKey, Encoding.UTF8, "text/plain"), cancellationToken))
        {
            if (!authn.IsSuccessStatusCode)
            {
                throw new PartialReplicaException($"P9: the Edge client could not authenticate ({(int)authn.StatusCode}).");
            }

            var token = await authn.Content.ReadAsStringAsync(cancellationToken);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");
        }

        async Task<JsonDocument> GetAsync(string query)
        {
            using var response = await http.GetAsync(new Uri("/edge/secrets/default" + query, UriKind.Relative), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new PartialReplicaException($"P9: the Edge pull {query} answered {(int)response.StatusCode}.");
            }

            return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        }

        async Task<double> PullAsync()
        {
            var clock = Stopwatch.StartNew();
            var count = 0;
            string? after = null;
            while (true)
            {
                using var page = await GetAsync(after is null
                    ? string.Create(CultureInfo.InvariantCulture, $"?limit={limit}")
                    : string.Create(CultureInfo.InvariantCulture, $"?limit={limit}&after={Uri.EscapeDataString(after)}"));
                var length = 0;
                // Enumerated, not indexed: a JsonElement array of objects walks from its start for each index.
                foreach (var secret in page.RootElement.GetProperty("secrets").EnumerateArray())
                {
                    length++;
                    var id = secret.GetProperty("id").GetString()!;
                    if ((after is not null && string.CompareOrdinal(id, after) <= 0) || secret.GetProperty("versions").GetArrayLength() == 0)
                    {
                        throw new PartialReplicaException($"P9: the Edge pull returned {id} out of order or without versions.");
                    }

                    after = id;
                }

                count += length;
                if (length < limit)
                {
                    break;
                }
            }

            var elapsed = clock.Elapsed.TotalSeconds;
            return count == expected
                ? elapsed
                : throw new PartialReplicaException($"P9: the Edge pull returned {count} secrets, expected {expected}.");
        }

        await PullAsync();
        var pulls = new double[PagingSamples];
        for (var sample = 0; sample < PagingSamples; sample++)
        {
            pulls[sample] = await PullAsync();
        }

        var counts = new double[CountSamples];
        for (var sample = 0; sample < CountSamples; sample++)
        {
            var clock = Stopwatch.StartNew();
            using var answer = await GetAsync("?count=true");
            counts[sample] = clock.Elapsed.TotalMilliseconds;
            if (answer.RootElement.GetProperty("count").GetInt64() != expected)
            {
                throw new PartialReplicaException($"P9: count=true answered {answer.RootElement.GetProperty("count")}, expected {expected}.");
            }
        }

        var copies = new double[PagingSamples];
        long rows = 0;
        for (var sample = 0; sample < PagingSamples; sample++)
        {
            await using var connection = await _leaderSource.OpenConnectionAsync(cancellationToken);
            var clock = Stopwatch.StartNew();
            rows = 0;
            using (var copy = await connection.BeginTextExportAsync(PagingCopySql, cancellationToken))
            {
                while (await copy.ReadLineAsync(cancellationToken) is not null)
                {
                    rows++;
                }
            }

            copies[sample] = clock.Elapsed.TotalSeconds;
        }

        if (rows != expected)
        {
            throw new PartialReplicaException($"P9: native COPY returned {rows} rows, expected {expected}.");
        }

        return new EdgePaging(Math.Round(expected / Median(pulls)), Math.Round(rows / Median(copies)), Math.Round(Median(counts), 2), limit);
    }
}
