using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Protocol;
using PartialReplica.Schema;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Web.Agent;
using Xunit.Abstractions;

namespace PartialReplica.Tests.Hostile;

/// <summary>
/// Issue 23: an agent in front of a real follower database takes over a thousand seeded mutations of valid batches
/// (their bytes, and their fields before encoding) under a valid gateway token. Every answer is 2xx or 4xx, and
/// every refused batch leaves the follower's <c>secrets</c> (and its applied stamps) byte for byte as they were. The seed is random unless
/// <c>PARTIALREPLICA_FUZZ_SEED</c> names one, and every failure names it.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class AgentFuzzTests(GatewayFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Batches = 1200;
    private const string Follower = "conjur/followers/fuzz";
    private const string RoleId = "default:host:" + Follower;
    private const long MaxRequestBody = 64 * 1024;
    private static readonly string[] Variables = ["default:variable:fuzz/a", "default:variable:fuzz/b", "default:variable:fuzz/c", "default:variable:fuzz/d"];

    // Every row of both tables, in one text: equal texts mean byte-for-byte equal tables.
    private const string Checksum = """
        SELECT coalesce((SELECT string_agg(resource_id || '|' || version || '|' || encode(value, 'hex') || '|' || coalesce(expires_at::text, '-'),
                                            ',' ORDER BY resource_id COLLATE "C", version) FROM secrets), '')
               || '#' ||
               coalesce((SELECT string_agg(resource_id || '|' || stamp || '|' || present, ',' ORDER BY resource_id COLLATE "C")
                           FROM partial_replica.applied), '')
        """;

    private WebApplication? _agent;
    private string _followerDb = "";
    private string _database = "";

    public async Task InitializeAsync()
    {
        _database = "fuzz_" + Guid.NewGuid().ToString("N")[..12];
        await Db.ExecuteAsync(fixture.Leader, $"CREATE DATABASE {_database}");
        _followerDb = new NpgsqlConnectionStringBuilder(fixture.Leader) { Database = _database }.ConnectionString;
        await using (var source = NpgsqlDataSource.Create(_followerDb))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(source, DatabaseRole.Follower, CancellationToken.None);
        }

        // What replication would have written: a heartbeat past the base batches' stamps and a policy granting this
        // follower every variable (replica set full), so a well-formed batch passes the agent's own checks.
        await Db.ExecuteAsync(_followerDb, "INSERT INTO partial_replica.heartbeat (id, beat_at, leader_lsn) VALUES (1, now(), 1000000)");
        foreach (var variable in Variables)
        {
            await Db.ExecuteAsync(_followerDb, "INSERT INTO resources (resource_id, owner_id) VALUES ($1, 'default:user:admin')", variable);
        }

        await Db.ExecuteAsync(_followerDb,
            "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('replicate', 'default:webservice:conjur/replication-sets/full', $1)", RoleId);

        _agent = AgentApplication.Build([], new Dictionary<string, string?>
        {
            ["Agent:Name"] = Follower,
            ["Agent:Database"] = _followerDb,
            ["Agent:GatewayUrl"] = fixture.Http.BaseAddress!.ToString(),
            ["Agent:ReplayTimeout"] = "00:00:00.005",
            ["Agent:MaxRequestBodyBytes"] = MaxRequestBody.ToString(CultureInfo.InvariantCulture),
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "None",
        });
        await _agent.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        await Db.ExecuteAsync(fixture.Leader, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
    }

    [Fact]
    public async Task Mutated_batches_get_only_2xx_or_4xx_and_refused_ones_leave_the_follower_unchanged()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("PARTIALREPLICA_FUZZ_SEED"), CultureInfo.InvariantCulture, out var given)
            ? given
            : Random.Shared.Next();
        var random = new Random(seed);
        var mutator = new BatchMutator(random);
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var tokens = SignedPushTokens.ForLeader(leader, TestGatewayKey.Key, GatewayFixture.Issuer);
        using var http = new HttpClient { BaseAddress = new Uri(_agent!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };

        // A follower holding something, so that a refused removal or sweep would show.
        var seeded = Base(random, stamp: 100, kind: 0);
        using (var applied = await PostAsync(http, tokens, Binary(seeded), PushBatchCodec.ContentType))
        {
            Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
        }

        var expected = await Db.ScalarAsync<string>(_followerDb, Checksum);
        Assert.NotEqual("#", expected);
        var outcomes = new Dictionary<HttpStatusCode, int>();
        for (var i = 0; i < Batches; i++)
        {
            var batch = Base(random, stamp: 200 + i, kind: random.Next(3));
            var (body, what) = random.Next(10) == 0 ? (Binary(batch), "unmutated") : mutator.Binary(batch);
            using var response = await PostAsync(http, tokens, body, PushBatchCodec.ContentType);
            var status = (int)response.StatusCode;
            var context = $"seed {seed}, batch {i} ({what}): {status} {await response.Content.ReadAsStringAsync()}";
            Assert.True(status is >= 200 and < 300 or >= 400 and < 500, context);
            outcomes[response.StatusCode] = outcomes.GetValueOrDefault(response.StatusCode) + 1;

            var now = await Db.ScalarAsync<string>(_followerDb, Checksum);
            if (status >= 400)
            {
                Assert.True(expected == now, "the follower changed under a refused batch: " + context);
            }

            expected = now;
        }

        // Both halves were exercised: batches applied, and batches refused as malformed before the database.
        var summary = $"seed {seed}: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{(int)o.Key}×{o.Value}"));
        output.WriteLine(summary);
        Assert.True(outcomes.GetValueOrDefault(HttpStatusCode.OK) > 50, summary);
        Assert.True(outcomes.GetValueOrDefault(HttpStatusCode.BadRequest) > Batches / 4, summary);
    }

    // The binary form's fields one at a time: each decodes, and the agent's check refuses it before the database.
    [Theory]
    [InlineData("nul-in-id", "variables[0].id is refused: it contains a NUL character (U+0000), which PostgreSQL does not store in text.")]
    [InlineData("overlong-id", "variables[0].id is refused: it is 2049 bytes long in UTF-8, more than the limit of 2048.")]
    [InlineData("repeated-version", "variables[0].versions[1] repeats version 1.")]
    [InlineData("negative-stamp", "variables[0].stamp is a leader position: never negative.")]
    [InlineData("negative-sweep-end", "The batch's sweep stamps are leader positions: never negative.")]
    [InlineData("nul-in-gateway", "gateway is refused: it contains a NUL character (U+0000), which PostgreSQL does not store in text.")]
    [InlineData("nul-in-sweep-bound", "sweepAfter is refused: it contains a NUL character (U+0000), which PostgreSQL does not store in text.")]
    [InlineData("not-utf8", "The batch is not valid in the binary push format: The batch holds a string that is not UTF-8.")]
    public async Task Batches_with_NUL_overlong_or_unappliable_fields_are_400_naming_the_field(string field, string message)
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var tokens = SignedPushTokens.ForLeader(leader, TestGatewayKey.Key, GatewayFixture.Issuer);
        using var http = new HttpClient { BaseAddress = new Uri(_agent!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        var before = await Db.ScalarAsync<string>(_followerDb, Checksum);
        VariableState State(string id, long stamp, params int[] versions) =>
            new(id, stamp, [.. versions.Select(v => new SecretVersion(v, [1, 2], null))]);
        var batch = new PushBatch("b", "g", Follower, [State(Variables[0], 1, 1)]);
        batch = field switch
        {
            "nul-in-id" => batch with { Variables = [State(Variables[0] + "\0", 1)] },
            "overlong-id" => batch with { Variables = [State("default:variable:" + new string('x', CallerText.MaxIdBytes + 1 - "default:variable:".Length), 1)] },
            "repeated-version" => batch with { Variables = [State(Variables[0], 1, 1, 1)] },
            "negative-stamp" => batch with { Variables = [State(Variables[0], -1, 1)] },
            "negative-sweep-end" => batch with { SweepBefore = 1, SweepEnd = -1 },
            "nul-in-gateway" => batch with { Gateway = "g\0" },
            "nul-in-sweep-bound" => batch with { SweepBefore = 1, SweepAfter = "a\0" },
            _ => batch,
        };
        var body = Binary(batch);
        if (field == "not-utf8")
        {
            // The batch id "b", after the magic and its length: 0xFF starts no UTF-8 sequence.
            body[8] = 0xFF;
        }

        using var response = await PostAsync(http, tokens, body, PushBatchCodec.ContentType);

        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {answer}");
        var error = System.Text.Json.JsonDocument.Parse(answer).RootElement.GetProperty("error");
        Assert.Equal(("bad_request", message), (error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));

        Assert.Equal(before, await Db.ScalarAsync<string>(_followerDb, Checksum));
        Assert.Equal(0, await Db.ScalarAsync<long>(_followerDb, "SELECT count(*) FROM partial_replica.refusals"));
    }

    [Theory]
    [InlineData("""{"subscription":"pr_sub\u0000","recopy":true}""", "subscription is refused: it contains a NUL character (U+0000), which PostgreSQL does not store in text.")]
    [InlineData("""{"subscription":"pr_sub\ud800","recopy":false}""", null)]
    public async Task A_subscription_repair_naming_text_PostgreSQL_refuses_is_400(string json, string? message)
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var tokens = SignedPushTokens.ForLeader(leader, TestGatewayKey.Key, GatewayFixture.Issuer);
        using var http = new HttpClient { BaseAddress = new Uri(_agent!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        using var request = new HttpRequestMessage(HttpMethod.Post, AgentSubscriptionClient.Route)
        {
            Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(RoleId, CancellationToken.None));

        using var response = await http.SendAsync(request);

        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {answer}");
        if (message is not null)
        {
            Assert.Equal(message, System.Text.Json.JsonDocument.Parse(answer).RootElement.GetProperty("error").GetProperty("message").GetString());
        }
    }

    /// <summary>
    /// The agent reads batches only in the binary form: a well-formed batch in the JSON form it once also took (with a
    /// valid token, for a granted variable) is a 415 with a Conjur-shaped error body naming the binary media type,
    /// and changes nothing.
    /// </summary>
    [Fact]
    public async Task A_batch_in_JSON_is_415_with_an_error_body_and_changes_nothing()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var tokens = SignedPushTokens.ForLeader(leader, TestGatewayKey.Key, GatewayFixture.Issuer);
        using var http = new HttpClient { BaseAddress = new Uri(_agent!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        var before = await Db.ScalarAsync<string>(_followerDb, Checksum);
        var logged = await Db.ScalarAsync<long>(_followerDb, "SELECT count(*) FROM partial_replica.apply_log");
        var json = $$"""{"batchId":"j","gateway":"g","follower":"{{Follower}}","variables":[{"id":"{{Variables[0]}}","stamp":500000,"versions":[{"version":1,"value":"AQI="}]}]}""";

        using var response = await PostAsync(http, tokens, System.Text.Encoding.UTF8.GetBytes(json), "application/json");

        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnsupportedMediaType, $"{(int)response.StatusCode} {answer}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var error = System.Text.Json.JsonDocument.Parse(answer).RootElement.GetProperty("error");
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Contains(PushBatchCodec.ContentType, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await Db.ScalarAsync<string>(_followerDb, Checksum));
        Assert.Equal(logged, await Db.ScalarAsync<long>(_followerDb, "SELECT count(*) FROM partial_replica.apply_log"));
        Assert.Equal(0, await Db.ScalarAsync<long>(_followerDb, "SELECT count(*) FROM partial_replica.refusals"));
    }

    [Fact]
    public async Task A_body_over_the_agents_limit_is_413_and_changes_nothing()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var tokens = SignedPushTokens.ForLeader(leader, TestGatewayKey.Key, GatewayFixture.Issuer);
        using var http = new HttpClient { BaseAddress = new Uri(_agent!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        var before = await Db.ScalarAsync<string>(_followerDb, Checksum);
        var huge = new PushBatch("big", "fuzz", Follower,
            [new VariableState(Variables[0], 10, [new SecretVersion(1, new byte[MaxRequestBody], null)])]);

        using var response = await PostAsync(http, tokens, Binary(huge), PushBatchCodec.ContentType);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(before, await Db.ScalarAsync<string>(_followerDb, Checksum));
    }

    /// <summary>A valid batch: changes (kind 0), a reconcile page with a sweep (1), or a reconcile's last batch with its end stamp (2).</summary>
    private static PushBatch Base(Random random, long stamp, int kind)
    {
        var states = Variables.Where(_ => random.Next(3) > 0).Select(id => new VariableState(id, stamp,
            Enumerable.Range(1, random.Next(0, 3)).Select(v => new SecretVersion(v, RandomBytes(random),
                random.Next(2) == 0 ? null : new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(random.Next(1000)))).ToList())).ToList();
        var batch = new PushBatch(Guid.NewGuid().ToString("N"), "fuzz-gateway", Follower, states);
        return kind switch
        {
            1 => batch with { SweepBefore = stamp, SweepAfter = "default:variable:fuzz/", SweepThrough = "default:variable:fuzz/c" },
            2 => batch with { SweepBefore = stamp, SweepAfter = "default:variable:fuzz/b", SweepEnd = stamp },
            _ => batch,
        };
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 40)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Binary(PushBatch batch)
    {
        using var writer = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, writer);
        return writer.WrittenSpan.ToArray();
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, SignedPushTokens tokens, byte[] body, string contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, HttpBatchSender.AgentRoute)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue(contentType) } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(RoleId, CancellationToken.None));
        return await http.SendAsync(request);
    }
}
