using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>S4: a refused or dry-run load changes nothing.</summary>
[Collection(PolicyCollection.Name)]
public sealed class FailedLoadTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Reference_to_a_record_that_exists_nowhere_names_its_place_and_changes_nothing()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !variable a\n");
        var before = await db.SnapshotAsync();

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync(
            "- !variable b\n- !group g\n- !grant\n  role: !group g\n  member: !user ghost\n", file: "ghost.yml"));

        Assert.Equal("ghost.yml:5:11: default:user:ghost does not exist (declare it in this file or load it first)", error.Message);
        Assert.Equal(before, await db.SnapshotAsync());
    }

    [Fact]
    public async Task Loading_into_a_missing_branch_is_refused()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync("- !variable a\n", branch: "nope"));
        Assert.Contains("default:policy:nope does not exist", error.Message);
    }

    [Fact]
    public async Task Dry_run_reports_the_result_and_changes_nothing()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        await db.RegisterFollowerAsync("conjur/followers/west-1");
        var before = await db.SnapshotAsync();

        var result = await db.LoadAsync("""
            - !host new-host
            - !grant
              role: !group apps/secrets-readers
              member: !group conjur/replication-sets/west/replicated-data
            """, PolicyMode.Update, dryRun: true);

        Assert.True(result.DryRun);
        Assert.Equal(2, result.Version);
        Assert.Null(Assert.Single(result.CreatedRoles).Value.ApiKey);
        var change = Assert.Single(result.GrantChanges);
        Assert.Equal(["default:variable:apps/inventory/db/password"], change.Added);
        Assert.Equal(before, await db.SnapshotAsync());
    }
}
