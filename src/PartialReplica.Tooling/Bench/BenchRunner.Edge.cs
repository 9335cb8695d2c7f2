using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Enrollment;
using PartialReplica.Schema;

namespace PartialReplica.Tooling.Bench;

/// <summary>P10's edge sync: a pull client granted every P10 variable, as Conjur Edge syncs.</summary>
internal sealed partial class BenchRunner
{
    private const int EdgePage = 10_000;
    private const int EdgeFullSamples = 3;
    private const int EdgeDeltaSamples = 21;

    /// <summary>The edge figures: the no-change delta (null when the gateway's full pull carries no position) and the full re-pull.</summary>
    private sealed record EdgeSync(double? DeltaMs, int Samples, double FullMs, int FullSamples);

    /// <summary>
    /// An edge client (host <see cref="SteadyEdgeHost"/>, granted all P10 variables) authenticates once, then pulls its
    /// whole granted set in pages of 10,000 (keyset, <c>after=</c>) <see cref="EdgeFullSamples"/> times, each checked
    /// complete; the median is the full re-pull. With nothing written since, it then asks for the changes after the
    /// position its last full pull returned (<c>since=</c>) <see cref="EdgeDeltaSamples"/> times, each answer checked
    /// empty; the median is the no-change delta sync. Both include the HTTP round trips and parsing the JSON, on one
    /// kept-alive connection to the first gateway; the client's token is fetched before any clock starts.
    /// </summary>
    private async Task<EdgeSync> MeasureEdgeSyncAsync(SteadyWorkload w, CancellationToken cancellationToken)
    {
        Say($"P10: edge sync of {w.Variables:N0} granted variables, full re-pull and no-change delta");
        const string roleId = "default:host:" + SteadyEdgeHost;

        // Delta pulls are kept for registered followers: the edge client registers as one (follower init, its other
        // tables copied into a database of its own), with no agent to push to. Only now, so that the gateways did not
        // carry a follower granted every variable while P10's runs were measured; its subscription is dropped after.
        var edgeDatabase = _steadyFollowers.ConnectionString(await _steadyFollowers.CreateDatabaseAsync("edge", cancellationToken));
        FollowerInitResult registered;
        await using (var edgeSource = NpgsqlDataSource.Create(edgeDatabase))
        {
            registered = await new FollowerInit(logger).RunAsync(_steadyLeader, edgeSource,
                new FollowerInitOptions { Name = SteadyEdgeHost, DataKey = _crypto }, cancellationToken);
        }

        string apiKey;
        await using (var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken))
        {
            apiKey = await ApiKeys.RotateAsync(connection, roleId, _crypto, cancellationToken);
        }

        try
        {
            return await PullAsync(w, apiKey, cancellationToken);
        }
        finally
        {
            await BenchData.ExecuteAsync(edgeDatabase, $"DROP SUBSCRIPTION {SqlIdentifier.Quote(registered.SlotName)}", cancellationToken);
        }
    }

    private async Task<EdgeSync> PullAsync(SteadyWorkload w, string apiKey, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(_steadyGateways[0].Url), Timeout = TimeSpan.FromMinutes(2) };
        string token;
        using (var authn = await http.PostAsync(
                   new Uri("/authn/default/" + Uri.EscapeDataString("host/" + SteadyEdgeHost) + "/authenticate", UriKind.Relative),
                   new StringContent(apiKey, Encoding.UTF8, "text/plain"), cancellationToken))
        {
            if (!authn.IsSuccessStatusCode)
            {
                throw new PartialReplicaException($"P10: the edge client could not authenticate ({(int)authn.StatusCode}).");
            }

            token = await authn.Content.ReadAsStringAsync(cancellationToken);
        }

        var authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");

        async Task<JsonDocument> GetAsync(string query)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/edge/secrets/default" + query, UriKind.Relative));
            request.Headers.Authorization = authorization;
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new PartialReplicaException($"P10: the edge pull {query} answered {(int)response.StatusCode}.");
            }

            return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        }

        var full = new double[EdgeFullSamples];
        string? position = null;
        for (var sample = 0; sample < EdgeFullSamples; sample++)
        {
            var clock = Stopwatch.StartNew();
            var count = 0;
            string? after = null;
            while (true)
            {
                using var page = await GetAsync(after is null ? $"?limit={EdgePage}" : $"?limit={EdgePage}&after={Uri.EscapeDataString(after)}");
                var secrets = page.RootElement.GetProperty("secrets");
                count += secrets.GetArrayLength();
                if (after is null)
                {
                    // The position to sync from next; a gateway without delta pulls returns none.
                    position = page.RootElement.TryGetProperty("position", out var p) ? p.ToString() : null;
                }

                if (secrets.GetArrayLength() < EdgePage)
                {
                    break;
                }

                after = secrets[secrets.GetArrayLength() - 1].GetProperty("id").GetString();
            }

            full[sample] = clock.Elapsed.TotalMilliseconds;
            if (count != w.Variables)
            {
                throw new PartialReplicaException($"P10: the edge client's full pull returned {count} variables, expected {w.Variables}.");
            }
        }

        if (position is null)
        {
            return new EdgeSync(null, 0, Math.Round(Median(full), 1), EdgeFullSamples);
        }

        var delta = new double[EdgeDeltaSamples];
        for (var sample = 0; sample < EdgeDeltaSamples; sample++)
        {
            var clock = Stopwatch.StartNew();
            using var changes = await GetAsync("?since=" + Uri.EscapeDataString(position));
            delta[sample] = clock.Elapsed.TotalMilliseconds;
            if (changes.RootElement.GetProperty("secrets").GetArrayLength() != 0)
            {
                throw new PartialReplicaException("P10: a delta pull with no change since the last sync returned changes.");
            }
        }

        return new EdgeSync(Math.Round(Median(delta), 2), EdgeDeltaSamples, Math.Round(Median(full), 1), EdgeFullSamples);
    }
}
