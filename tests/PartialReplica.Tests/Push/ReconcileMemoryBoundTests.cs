using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// A new follower's full reconcile never holds more than two pages (issue 25): with pages of at most
/// <see cref="Largest"/> variables and a granted set a hundred times larger, the gateway's own
/// <c>partial_replica.reconcile.pages</c> (a page counts from the start of its read on the leader until its
/// acknowledgement) never passes two, reaches two (the pages are pipelined), is back at zero at the end, and the
/// follower holds exactly its granted set. The listener takes the gateway's own meter (its host's IMeterFactory).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ReconcileMemoryBoundTests(ReplicationFixture fixture) : IAsyncLifetime
{
    private const string Follower = "conjur/followers/west-1";
    private const int Bulk = 2_500;
    private const int First = 5;
    private const int Largest = 25;

    private readonly object _gate = new();
    private GatewayMeterListener _listener = null!;
    private long _held;
    private long _mostHeld;
    private long _changes;

    // The demo's billing variables (granted to west-1 through billing-readers) and the bulk ones granted the same way.
    private static readonly string[] Granted =
        ["default:variable:apps/billing/db/password", "default:variable:apps/billing/api/token", .. Enumerable.Range(0, Bulk).Select(BulkId)];

    public Task InitializeAsync()
    {
        _listener = new GatewayMeterListener(name => name == "partial_replica.reconcile.pages", (_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "follower" && tag.Value as string == Follower)
                {
                    lock (_gate)
                    {
                        _held += value;
                        _mostHeld = Math.Max(_mostHeld, _held);
                        _changes++;
                    }
                }
            }
        });
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _listener.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_reconcile_of_a_set_a_hundred_pages_long_holds_at_most_two_pages()
    {
        await using var world = await TestWorld.On(fixture)
            .GrantModel(name => name == Follower ? Granted : [])
            .DemoPolicy()
            .Secret(Granted[0], "billing db")
            .Then(world => AddBulkVariablesAsync(world.Leader))
            .Gateway(new Dictionary<string, string?>
            {
                ["Dispatch:ReconcileFirstBatchSize"] = First.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Dispatch:ReconcileBatchSize"] = Largest.ToString(System.Globalization.CultureInfo.InvariantCulture),
            })
            .Then(_listener.ListenAsync)
            .Follower(Follower, 0)
            .StartAsync();

        await world.AwaitExactAsync(Follower, TimeSpan.FromMinutes(3));
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(world.Leader,
            "SELECT count(*) FROM partial_replica.delivery WHERE follower = $1 AND NOT needs_reconcile", Follower) == 1, "the reconcile is recorded done");

        // Pages of 5, 10, 20, then 25: about a hundred of them, none larger than the setting, plus the sweep-only last batch.
        var batches = await world.ApplyLogAsync(Follower);
        Assert.True(batches.Count >= (Granted.Length / Largest) + 1, $"{batches.Count} batches applied");
        Assert.All(batches, b => Assert.InRange(b.Variables, 0, Largest));

        lock (_gate)
        {
            Assert.True(_changes >= 2 * (Granted.Length / Largest), $"{_changes} page holds and releases measured");
            // Two, never more (the bound, not the constant's value: a larger window fails here).
            Assert.Equal(2, _mostHeld);
            Assert.Equal(0, _held);
        }
    }

    private static string BulkId(int i) => $"default:variable:apps/bulk/v{i:D5}";

    /// <summary>
    /// <see cref="Bulk"/> variables, each executable by billing-readers (so by the west set) and with one value whose
    /// bytes differ per variable; plain SQL, as Conjur's own tables take them.
    /// </summary>
    private static async Task AddBulkVariablesAsync(string leader)
    {
        await Db.ExecuteAsync(leader,
            "INSERT INTO resources (resource_id, owner_id) SELECT 'default:variable:apps/bulk/v' || lpad(i::text, 5, '0'), 'default:user:admin' FROM generate_series(0, $1 - 1) i",
            Bulk);
        await Db.ExecuteAsync(leader, """
            INSERT INTO permissions (privilege, resource_id, role_id)
            SELECT 'execute', 'default:variable:apps/bulk/v' || lpad(i::text, 5, '0'), 'default:group:apps/billing-readers' FROM generate_series(0, $1 - 1) i
            """, Bulk);
        await Db.ExecuteAsync(leader,
            "INSERT INTO secrets (resource_id, value) SELECT 'default:variable:apps/bulk/v' || lpad(i::text, 5, '0'), sha256(i::text::bytea) FROM generate_series(0, $1 - 1) i",
            Bulk);
    }
}
