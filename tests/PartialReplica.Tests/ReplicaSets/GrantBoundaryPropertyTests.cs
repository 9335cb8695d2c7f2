using System.Diagnostics;
using PartialReplica.Grants;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// R6 (grant boundary), policy side: for hundreds of random policies and follow-up loads, every follower's
/// granted set — from the SQL function and from the materialised table — equals the independent model's,
/// exactly, and each load reports exactly the difference. Set PARTIALREPLICA_PROPERTY_SEED to replay a run.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class GrantBoundaryPropertyTests(ReplicationFixture fixture, ITestOutputHelper output)
{
    private const int Batches = 4;
    private static readonly int ScenariosPerBatch =
        int.TryParse(Environment.GetEnvironmentVariable("PARTIALREPLICA_PROPERTY_SCENARIOS"), out var n) ? n : 50;

    [Fact]
    public async Task Sql_grant_resolution_equals_the_model_for_random_policies()
    {
        var baseSeed = int.TryParse(Environment.GetEnvironmentVariable("PARTIALREPLICA_PROPERTY_SEED"), out var fixedSeed)
            ? fixedSeed
            : Random.Shared.Next(1, 1_000_000);
        output.WriteLine($"base seed {baseSeed} (replay with PARTIALREPLICA_PROPERTY_SEED={baseSeed})");
        var clock = Stopwatch.StartNew();

        // Setup touches cluster-wide roles, so the databases are made one after another; the batches then run side by side.
        var databases = new List<PolicyDatabase>();
        for (var b = 0; b < Batches; b++)
        {
            databases.Add(await PolicyDatabase.CreateAsync(fixture));
        }

        var loads = await Task.WhenAll(databases.Select((db, b) => RunBatchAsync(db, baseSeed, b)));

        output.WriteLine($"{Batches * ScenariosPerBatch} random policies, {loads.Sum()} loads checked in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(loads.Sum() >= Batches * ScenariosPerBatch * 2);
    }

    private static async Task<int> RunBatchAsync(PolicyDatabase db, int baseSeed, int batch)
    {
        var loads = 0;
        for (var i = 0; i < ScenariosPerBatch; i++)
        {
            var seed = baseSeed + batch * 10_000 + i;
            loads += await RunScenarioAsync(db, seed);
        }

        return loads;
    }

    private static async Task<int> RunScenarioAsync(PolicyDatabase db, int seed)
    {
        await Db.ExecuteAsync(db.ConnectionString, """
            DELETE FROM partial_replica.followers;
            DELETE FROM resources WHERE policy_id IS NOT NULL;
            DELETE FROM roles WHERE policy_id IS NOT NULL;
            """);
        foreach (var follower in PolicyGenerator.Followers)
        {
            await db.RegisterFollowerAsync(follower);
        }

        var random = new Random(seed);
        var model = new GrantModel();
        var generator = new PolicyGenerator(random, model);
        var files = new List<GenFile> { generator.Initial() };
        var steps = random.Next(1, 4);
        for (var step = 0; step <= steps; step++)
        {
            var file = step == 0 ? files[0] : generator.Next();
            var yaml = file.Render();
            var before = PolicyGenerator.Followers.ToDictionary(f => f, f => model.Granted("default:host:" + f));
            PartialReplica.Policies.PolicyLoadResult result;
            try
            {
                result = await db.LoadAsync(yaml, file.Mode, file.Branch, file: $"seed-{seed}-step-{step}.yml");
            }
            catch (PartialReplicaException e)
            {
                throw new XunitException($"seed {seed} step {step}: the generated policy was refused: {e.Message}\n{Describe(file, yaml)}");
            }

            file.ApplyTo(model);
            foreach (var follower in PolicyGenerator.Followers)
            {
                var expected = model.Granted("default:host:" + follower).ToList();
                var resolved = await db.GrantedAsync(follower);
                var materialised = await db.MaterialisedAsync(follower);
                long count;
                await using (var connection = await db.DataSource.OpenConnectionAsync())
                {
                    count = await GrantedSecretsReader.CountVariablesAsync(connection, "default:host:" + follower, CancellationToken.None);
                }

                var change = result.GrantChanges.SingleOrDefault(c => c.Follower == follower);
                var added = expected.Except(before[follower], StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                var removed = before[follower].Except(expected, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                if (!expected.SequenceEqual(resolved) || !expected.SequenceEqual(materialised) || count != expected.Count
                    || !added.SequenceEqual(change?.Added ?? []) || !removed.SequenceEqual(change?.Removed ?? []))
                {
                    throw new XunitException(
                        $"seed {seed} step {step}, follower {follower}:\n model      [{string.Join(", ", expected)}]\n" +
                        $" sql        [{string.Join(", ", resolved)}]\n count {count}\n materialised [{string.Join(", ", materialised)}]\n" +
                        $" added  model [{string.Join(", ", added)}] load [{string.Join(", ", change?.Added ?? [])}]\n" +
                        $" removed model [{string.Join(", ", removed)}] load [{string.Join(", ", change?.Removed ?? [])}]\n{Describe(file, yaml)}");
                }
            }
        }

        return steps + 1;
    }

    private static string Describe(GenFile file, string yaml) => $"{file.Mode} into {file.Branch}:\n{yaml}";
}
