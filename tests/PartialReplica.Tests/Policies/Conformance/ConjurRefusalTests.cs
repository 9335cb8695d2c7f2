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

    /// <summary>
    /// Conjur's resolver refuses an absolute id wherever it is a statement's subject (conjur-policy-parser's
    /// AbsoluteChecker over each statement's subject_id), inside a body and at root alike; its own fixtures
    /// (spec/resolver-fixtures/invalid-absolute-*-error.yml) are the first five. A host factory's absolute layer is
    /// looked up by its literal '/' id and never found, so the load fails there too.
    /// </summary>
    public static TheoryData<string, string, string> AbsoluteSubjects => new()
    {
        {
            "- !group root-owner\n- !policy\n  id: myapp\n  body:\n  - !grant\n    role: !group /root-owner\n    member: !group /existing\n",
            "bad.yml:6:11: ", "Illegal absolute id '/root-owner': a !grant's role is named relative to the policy that states it"
        },
        {
            "- !group root-owner\n- !policy\n  id: myapp\n  body:\n  - !revoke\n    role: !group /root-owner\n    member: !group /existing\n",
            "bad.yml:6:11: ", "Illegal absolute id '/root-owner': a !revoke's role"
        },
        {
            "- !group root-owner\n- !policy\n  id: myapp\n  body:\n  - !permit\n    resource: !group /root-owner\n    role: !group /existing\n    privilege: crack\n",
            "bad.yml:6:15: ", "Illegal absolute id '/root-owner': a !permit's resource"
        },
        {
            "- !group root-owner\n- !policy\n  id: myapp\n  body:\n  - !deny\n    resource: !group /root-owner\n    role: !group /existing\n    privilege: crack\n",
            "bad.yml:6:15: ", "Illegal absolute id '/root-owner': a !deny's resource"
        },
        {
            "- !group root-group\n- !policy\n  id: remove-root\n  body:\n  - !delete\n    record: !group /root-group\n",
            "bad.yml:6:13: ", "Illegal absolute id '/root-group': a !delete's record"
        },
        {
            "- !grant\n  role: !group /existing\n  member: !group /existing\n",
            "bad.yml:2:9: ", "Illegal absolute id '/existing': a !grant's role"
        },
        {
            "- !variable a\n- !variable b\n- !permit\n  role: !group /existing\n  privileges: [ read ]\n  resources: [ !variable a, !variable /b ]\n",
            "bad.yml:6:29: ", "Illegal absolute id '/b': a !permit's resource"
        },
        {
            "- !layer workers\n- !policy\n  id: myapp\n  body:\n  - !host-factory\n    id: hf\n    layers: [ !layer /workers ]\n",
            "bad.yml:7:15: ", "Illegal absolute id '/workers': a host factory's layer"
        },
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

    [Theory]
    [MemberData(nameof(AbsoluteSubjects))]
    public async Task An_absolute_subject_is_refused_with_its_place_and_nothing_changes(string yaml, string place, string problem)
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !group existing\n- !policy myapp\n");
        var before = await db.SnapshotAsync();

        foreach (var branch in new[] { "root", "myapp" })
        {
            foreach (var mode in new[] { PolicyMode.Load, PolicyMode.Update, PolicyMode.Replace })
            {
                var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync(yaml, mode, branch, file: "bad.yml"));
                Assert.StartsWith(place, error.Message, StringComparison.Ordinal);
                Assert.Contains(problem, error.Message, StringComparison.Ordinal);
            }
        }

        Assert.Equal(before, await db.SnapshotAsync());
    }

    [Fact]
    public async Task The_cli_exits_2_with_the_place_of_an_absolute_granted_role()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !group readers\n- !policy\n  id: app\n  body:\n  - !group team\n");
        var file = Path.Combine(Path.GetTempPath(), $"pr-abs-{Guid.NewGuid():N}.yml");
        await File.WriteAllTextAsync(file, "- !grant\n  role: !group /readers\n  member: !group team\n");
        try
        {
            var before = await db.SnapshotAsync();
            var result = await CliProcess.RunAsync(null, "policy", "update", file, "--branch", "app", "--leader", db.ConnectionString);

            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"{file}:2:9: Illegal absolute id '/readers': a !grant's role is named relative to the policy that states it; "
                + "state this in a policy that encloses 'readers'", result.Stderr, StringComparison.Ordinal);
            Assert.Equal(before, await db.SnapshotAsync());
        }
        finally
        {
            File.Delete(file);
        }
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
