using System.Diagnostics;
using System.Text.Json;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>F8: the CLI verb prints Conjur's result shape and exits 2 with file:line:column on bad input.</summary>
[Collection(PolicyCollection.Name)]
public sealed class PolicyCommandTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Policy_load_prints_created_roles_and_version_as_json()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var file = Path.Combine(Path.GetTempPath(), $"pr-policy-{Guid.NewGuid():N}.yml");
        await File.WriteAllTextAsync(file, "- !host h1\n- !variable v\n");
        try
        {
            var (exit, stdout, _) = await RunAsync("policy", "load", file, "--branch", "root", "--leader", db.ConnectionString, "--json");

            Assert.Equal(0, exit);
            using var json = JsonDocument.Parse(stdout);
            Assert.Equal(1, json.RootElement.GetProperty("version").GetInt32());
            var host = json.RootElement.GetProperty("created_roles").GetProperty("default:host:h1");
            Assert.Equal("default:host:h1", host.GetProperty("id").GetString());
            Assert.Matches(PartialReplica.Conjur.ConjurApiKey.ShapePattern, host.GetProperty("api_key").GetString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Policy_replace_with_an_unknown_tag_exits_2_naming_the_place()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var file = Path.Combine(Path.GetTempPath(), $"pr-policy-{Guid.NewGuid():N}.yml");
        await File.WriteAllTextAsync(file, "- !variable v\n- !secret s\n");
        try
        {
            var before = await db.SnapshotAsync();
            var (exit, _, stderr) = await RunAsync("policy", "replace", file, "--leader", db.ConnectionString);

            Assert.Equal(2, exit);
            Assert.Contains($"{file}:2:3: unknown tag !secret", stderr);
            Assert.Equal(before, await db.SnapshotAsync());
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        // The created hosts' API keys are stored encrypted with the data key.
        start.Environment["CONJUR_DATA_KEY"] = TestDataKey.Base64;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "partial-replica.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
