using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Policies;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Edge;

/// <summary>
/// Delta pulls (F13) get a gateway and leader of their own: the tests prune the outbox, which needs every
/// registered follower's cursor moved, so they must not share a leader with other tests.
/// </summary>
[CollectionDefinition(Name)]
public sealed class EdgeDeltaCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "EdgeDelta";
}

/// <summary>
/// A pull client as a Conjur Edge site would write one: a full pull (keyset pages, keeping the first page's
/// position), then deltas applied page by page (<c>since=next</c> while <c>more</c>). Its copy is compared with the
/// leader byte for byte (<see cref="Render"/>).
/// </summary>
internal sealed class EdgeDeltaClient(GatewayFixture fixture, string token)
{
    /// <summary>The caller's token (a new one after its old tokens were revoked).</summary>
    public string Token { get; set; } = token;

    /// <summary>id → its versions, each rendered as "version|expires_at|base64 value".</summary>
    public SortedDictionary<string, List<string>> Copy { get; } = new(StringComparer.Ordinal);

    public string? Position { get; private set; }

    /// <summary>Replaces the copy by a full pull; <paramref name="betweenPages"/> runs between pages (a change mid-pull).</summary>
    public async Task FullPullAsync(int limit, Func<Task>? betweenPages = null)
    {
        Copy.Clear();
        Position = null;
        string? after = null;
        while (true)
        {
            var query = after is null ? $"?limit={limit}" : $"?limit={limit}&after={Uri.EscapeDataString(after)}";
            using var response = await fixture.GetAsync($"/edge/secrets/default{query}", Token);
            var page = await EdgeResponses.JsonAsync(response);
            // The first page's position: everything a later page does not show yet is at or after it.
            Position ??= page.GetProperty("position").GetString() ?? throw new InvalidOperationException("The full pull gave no position.");
            var secrets = page.GetProperty("secrets").EnumerateArray().ToList();
            foreach (var secret in secrets)
            {
                Copy[secret.GetProperty("id").GetString()!] = Versions(secret);
            }

            if (secrets.Count < limit)
            {
                return;
            }

            after = secrets[^1].GetProperty("id").GetString();
            if (betweenPages is not null)
            {
                await betweenPages();
            }
        }
    }

    /// <summary>
    /// Applies every page of the delta since <see cref="Position"/> and keeps the last <c>next</c>; false when a page is
    /// answered 410 (the client then pulls the full list). Each page's answer is added to <paramref name="pages"/> when given.
    /// </summary>
    public async Task<bool> SyncAsync(int limit, Func<Task>? betweenPages = null, List<JsonElement>? pages = null)
    {
        var since = Position ?? throw new InvalidOperationException("Pull the full list first.");
        while (true)
        {
            using var response = await fixture.GetAsync($"/edge/secrets/default?since={Uri.EscapeDataString(since)}&limit={limit}", Token);
            if (response.StatusCode == HttpStatusCode.Gone)
            {
                return false;
            }

            var page = await EdgeResponses.JsonAsync(response);
            pages?.Add(page);
            foreach (var change in page.GetProperty("secrets").EnumerateArray())
            {
                var id = change.GetProperty("id").GetString()!;
                if (change.TryGetProperty("deleted", out var deleted) && deleted.GetBoolean())
                {
                    Copy.Remove(id);
                }
                else
                {
                    Copy[id] = Versions(change);
                }
            }

            since = page.GetProperty("next").GetString()!;
            if (!page.GetProperty("more").GetBoolean())
            {
                Position = since;
                return true;
            }

            if (betweenPages is not null)
            {
                await betweenPages();
            }
        }
    }

    /// <summary>The copy as one text, one line per version.</summary>
    public string Render() => Render(Copy);

    public static string Render(SortedDictionary<string, List<string>> copy) =>
        string.Join('\n', copy.SelectMany(kv => kv.Value.Select(v => $"{kv.Key} {v}")));

    /// <summary>
    /// What the follower is granted now, read straight from the leader's tables by the grant rule's SQL function:
    /// every kept version of every granted variable that has one.
    /// </summary>
    public static async Task<SortedDictionary<string, List<string>>> TruthAsync(string leader, string roleId)
    {
        var truth = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        await using var connection = new NpgsqlConnection(leader);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT s.resource_id, s.version, s.expires_at, s.value FROM secrets s
             WHERE s.resource_id IN (SELECT g.resource_id FROM partial_replica.granted_variables($1) g)
             ORDER BY s.resource_id COLLATE "C", s.version
            """, connection);
        command.Parameters.AddWithValue(roleId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var id = reader.GetString(0);
            if (!truth.TryGetValue(id, out var versions))
            {
                truth[id] = versions = [];
            }

            var expires = reader.IsDBNull(2)
                ? "null"
                : new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc)).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            versions.Add($"{reader.GetInt32(1)}|{expires}|{Convert.ToBase64String(reader.GetFieldValue<byte[]>(3))}");
        }

        return truth;
    }

    /// <summary>Loads a policy through the product's loader, as <c>policy load</c> does.</summary>
    public static async Task LoadPolicyAsync(string leader, string yaml, PolicyMode mode, string branch = "root")
    {
        await using var dataSource = NpgsqlDataSource.Create(leader);
        await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = yaml, Mode = mode, Branch = branch }, CancellationToken.None);
    }

    /// <summary>A replica set loaded by policy, its followers granted by policy.</summary>
    public static string ReplicaSetPolicy(string set, IEnumerable<TestFollower> followers)
    {
        var yaml = new StringBuilder($"""
            - !policy
              id: conjur/replication-sets/{set}
              body:
              - !webservice
              - !group replicated-data
              - !layer followers
              - !permit
                role: !layer followers
                privilege: replicate
                resource: !webservice

            """);
        foreach (var follower in followers)
        {
            yaml.Append($"""
                - !grant
                  role: !layer conjur/replication-sets/{set}/followers
                  member: !host {follower.Name}

                """);
        }

        return yaml.ToString();
    }

    /// <summary>'execute' of the set's replicated-data group on a variable, as a !permit (grant) or !deny (revoke).</summary>
    public static string ExecutePolicy(string statement, string set, string variable) => $"""
        - {statement}
          role: !group conjur/replication-sets/{set}/replicated-data
          privilege: execute
          resource: !variable {variable}

        """;

    private static List<string> Versions(JsonElement secret) =>
        secret.GetProperty("versions").EnumerateArray().Select(v =>
        {
            var expires = v.GetProperty("expires_at");
            var rendered = expires.ValueKind == JsonValueKind.Null
                ? "null"
                : expires.GetDateTimeOffset().ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            return $"{v.GetProperty("version").GetInt32()}|{rendered}|{Convert.ToBase64String(v.GetProperty("value").GetBytesFromBase64())}";
        }).ToList();
}
