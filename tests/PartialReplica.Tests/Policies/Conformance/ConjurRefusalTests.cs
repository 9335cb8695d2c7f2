using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies.Conformance;

/// <summary>What Conjur refuses is refused at its file:line:column, and nothing changes.</summary>
[Collection(PolicyCollection.Name)]
public sealed class ConjurRefusalTests(ReplicationFixture fixture)
{
    public static TheoryData<string, string, string> Refusals => new()
    {
        { "- !variable\n  id: 123\n", "bad.yml:2:7: ", "Expected a string for field 'id', got a number (123)" },
        { "- !host\n  id: h\n  restricted_to: [ 10.0.0.1/24 ]\n", "bad.yml:3:20: ", "Invalid IP address or CIDR range '10.0.0.1/24': Value has bits set to right of mask. Did you mean '10.0.0.0/24'?" },
        { "- !user\n  id: u\n  restricted_to: '::1'\n", "bad.yml:3:18: ", "Address must be IPv4" },
        { "- !policy\n  id: app\n  body:\n  - !variable /etc/secret\n", "bad.yml:4:5: ", "Illegal absolute id '/etc/secret'" },
        { "- !policy\n  id: app\n  body:\n  - !layer\n  - !host-factory\n    id: hf\n", "bad.yml:5:5: ", "Host factory 'app/hf' does not include any layers" },
        { "- !variable a\n- !group g\n- !variable a\n", "bad.yml:3:3: ", "default:variable:a is declared more than once (first at bad.yml:1:3)" },
        { "- !group g\n- !variable v\n- !permit\n  role: !group g\n  privilege: read\n  resource: !variable ../v\n", "bad.yml:6:13: ", "Invalid relative reference" },
        { "- !user\n  id: bob\n  public_key: not-a-key\n", "bad.yml:3:15: ", "Invalid public key format" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Refused_with_its_place_and_nothing_changes(string yaml, string place, string problem)
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !group existing\n");
        var before = await db.SnapshotAsync();

        foreach (var mode in new[] { PolicyMode.Load, PolicyMode.Update, PolicyMode.Replace })
        {
            var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync(yaml, mode, file: "bad.yml"));
            Assert.StartsWith(place, error.Message, StringComparison.Ordinal);
            Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, await db.SnapshotAsync());
    }

    [Fact]
    public async Task The_cli_exits_2_with_the_place_of_a_host_factory_without_layers()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var file = Path.Combine(Path.GetTempPath(), $"pr-hf-{Guid.NewGuid():N}.yml");
        await File.WriteAllTextAsync(file, "- !layer l\n- !host-factory\n  id: hf\n");
        try
        {
            var before = await db.SnapshotAsync();
            var result = await CliProcess.RunAsync(null, "policy", "load", file, "--leader", db.ConnectionString);

            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"{file}:2:3: Host factory 'hf' does not include any layers", result.Stderr, StringComparison.Ordinal);
            Assert.Equal(before, await db.SnapshotAsync());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_statement_too_large_for_PostgreSQL_is_reported_as_such()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var before = await db.SnapshotAsync();
        // An annotation name is part of a btree key; random text does not compress under PostgreSQL's 2,704-byte entry limit.
        var name = string.Concat(Enumerable.Range(0, 250).Select(_ => Guid.NewGuid().ToString("N")));

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() =>
            db.LoadAsync($"- !variable\n  id: v\n  annotations:\n    ? {name}\n    : x\n", file: "big.yml"));

        Assert.StartsWith("big.yml: the policy is too large for PostgreSQL to store (54000: ", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync());
    }
}
