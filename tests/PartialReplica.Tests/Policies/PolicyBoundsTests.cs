using System.Diagnostics;
using System.Text;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>
/// S4: hostile policies cost no more than their size warrants. Alias bombs and nesting bombs are refused within a
/// second and 100 MB with a located error (they cost 30 s and 4 GB, and 52 s); the CLI refuses a file over the
/// policy size limit, naming it, before reading it whole. Time and memory are bounds on the refusal, not benchmarks.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class PolicyBoundsTests(ReplicationFixture fixture)
{
    /// <summary>A "billion laughs" in policy form: nine levels of ten aliases each, about 500 bytes.</summary>
    public static string BillionLaughs()
    {
        var yaml = new StringBuilder("- !group g\n- !variable &a a\n");
        var previous = 'a';
        for (var level = 'b'; level <= 'j'; level++)
        {
            yaml.Append(System.FormattableString.Invariant($"- &{level} [{string.Join(",", Enumerable.Repeat($"*{previous}", 10))}]\n"));
            previous = level;
        }

        return yaml.Append("- !permit\n  role: !group g\n  privilege: read\n  resources: *j\n").ToString();
    }

    [Fact]
    public async Task Billion_laughs_is_refused_within_a_second_and_100_MB_with_its_place()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !variable warm-up\n");
        var before = await db.SnapshotAsync();
        var bomb = BillionLaughs();
        Assert.True(bomb.Length < 600, $"the bomb is {bomb.Length} bytes");

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<PartialReplicaException>(() => PolicyParser.Parse(bomb, "bomb.yml", "default", "root"));
        clock.Stop();

        Assert.Matches(@"^bomb\.yml:\d+:\d+: YAML aliases expand this policy past 100000 nodes", error.Message);
        Assert.InRange(clock.ElapsedMilliseconds, 0, 1000);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - allocated, 0, 100L << 20);

        var loaded = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync(bomb, PolicyMode.Update, dryRun: true, file: "bomb.yml"));
        Assert.Equal(error.Message, loaded.Message);
        Assert.Equal(before, await db.SnapshotAsync());
    }

    [Fact]
    public async Task Cli_refuses_a_policy_over_the_size_limit_naming_it()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var file = Path.Combine(Path.GetTempPath(), $"pr-big-{Guid.NewGuid():N}.yml");
        var line = "- !variable " + new string('x', 60) + "\n";
        await File.WriteAllTextAsync(file, string.Concat(Enumerable.Repeat(line, (PolicyLimits.MaxPolicyBytes / line.Length) + 1)));
        try
        {
            var before = await db.SnapshotAsync();
            var clock = Stopwatch.StartNew();
            var result = await CliProcess.RunAsync(null, "policy", "load", file, "--leader", db.ConnectionString);

            Assert.Equal(2, result.ExitCode);
            Assert.Contains("larger than the policy size limit of 4194304 bytes (4 MiB)", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("cannot reach the database", result.Stderr, StringComparison.Ordinal);
            Assert.Equal(before, await db.SnapshotAsync());
            Assert.InRange(clock.ElapsedMilliseconds, 0, 30_000);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
