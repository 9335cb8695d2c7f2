using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>
/// Users' public keys are kept as Conjur's loader keeps them: each key's value (trimmed) is a secret of its
/// <c>public_key</c> resource, Slosilo-encrypted with the data key and the resource id as associated data, added only
/// when it differs from the newest version. A dry run stores none; without the data key such a policy is refused.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class PublicKeyTests(ReplicationFixture fixture)
{
    private const string Laptop = "default:public_key:user/bob/bob@laptop";
    private const string Desktop = "default:public_key:user/bob/bob@desktop";
    private const string LaptopKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ bob@laptop";
    private const string DesktopKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA bob@desktop";

    private static string Bob(string laptopKey) => $"""
        - !user
          id: bob
          public_keys:
          - "  {laptopKey}  "
          - {DesktopKey}
        """;

    [Fact]
    public async Task Each_key_is_a_secret_of_its_resource_encrypted_with_the_data_key()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(Bob(LaptopKey));

        Assert.Equal([$"{Desktop} 1 {DesktopKey}", $"{Laptop} 1 {LaptopKey}"], await SecretsAsync(db));
        // The resource id is the associated data: the blob does not open as another resource's.
        var blob = await Db.ScalarAsync<byte[]>(db.ConnectionString, "SELECT value FROM secrets WHERE resource_id = $1", Laptop);
        Assert.Throws<PartialReplicaException>(() => TestDataKey.Key.Decrypt(blob!, Desktop));
        // Captured like any secret write.
        Assert.Equal([$"upsert {Desktop} 1", $"upsert {Laptop} 1"], await Db.ColumnAsync(db.ConnectionString,
            "SELECT kind || ' ' || resource_id || ' ' || version FROM partial_replica.changes WHERE resource_id LIKE '%:public_key:%' ORDER BY 1"));
    }

    [Fact]
    public async Task An_unchanged_key_adds_no_version_and_a_changed_one_adds_one()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(Bob(LaptopKey));
        await db.LoadAsync(Bob(LaptopKey), PolicyMode.Update);
        await db.LoadAsync(Bob(LaptopKey));
        Assert.Equal([$"{Desktop} 1 {DesktopKey}", $"{Laptop} 1 {LaptopKey}"], await SecretsAsync(db));

        const string Rotated = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ bob@laptop";
        await db.LoadAsync(Bob(Rotated), PolicyMode.Update);
        Assert.Equal([$"{Desktop} 1 {DesktopKey}", $"{Laptop} 1 {LaptopKey}", $"{Laptop} 2 {Rotated}"], await SecretsAsync(db));
    }

    [Fact]
    public async Task A_dry_run_stores_no_key_and_needs_no_data_key()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var before = await db.SnapshotAsync();

        var result = await LoadWithoutDataKeyAsync(db, Bob(LaptopKey), dryRun: true);

        Assert.True(result.DryRun);
        Assert.Equal(before, await db.SnapshotAsync());
        Assert.Empty(await SecretsAsync(db));
    }

    [Fact]
    public async Task Without_the_data_key_a_policy_with_public_keys_is_refused_and_nothing_changes()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var before = await db.SnapshotAsync();

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => LoadWithoutDataKeyAsync(db, Bob(LaptopKey), dryRun: false));

        Assert.Equal(
            $"keys.yml:4:5: storing the public key {Laptop} needs the data key: set CONJUR_DATA_KEY (or --data-key) to the leader's " +
            "Conjur data key. Public keys are stored as secrets encrypted with it, as Conjur stores them; nothing was changed.",
            error.Message);
        Assert.Equal(before, await db.SnapshotAsync());
        Assert.Empty(await SecretsAsync(db));
    }

    private static Task<PolicyLoadResult> LoadWithoutDataKeyAsync(PolicyDatabase db, string yaml, bool dryRun) =>
        new PolicyLoader(NullLogger.Instance).LoadAsync(db.DataSource, new PolicyLoadRequest
        {
            PolicyText = yaml, FileName = "keys.yml", DryRun = dryRun, DataKey = null,
        }, CancellationToken.None);

    /// <summary>"resource version value", the value decrypted with the test data key and the resource id.</summary>
    private static async Task<List<string>> SecretsAsync(PolicyDatabase db)
    {
        var rows = new List<string>();
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT resource_id, version, value FROM secrets ORDER BY 1, 2", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var id = reader.GetString(0);
            var value = TestDataKey.Key.Decrypt(reader.GetFieldValue<byte[]>(2), id);
            rows.Add($"{id} {reader.GetInt32(1)} {Encoding.UTF8.GetString(value)}");
        }

        return rows;
    }
}
