using PartialReplica.Grants;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;
using PartialReplica.Tests.ReplicaSets;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace PartialReplica.Tests.Explain;

/// <summary>
/// Explain says "granted" exactly when the push path grants: for random policies (the R6 generator) followed by random
/// memberships, ownerships and permissions written with plain SQL, explain's verdict for every (follower, variable)
/// pair equals membership in the materialised <c>partial_replica.granted</c>, and every set that grants shows a chain
/// while every set that does not names a missing link. Set PARTIALREPLICA_PROPERTY_SEED to replay a run.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class ExplainPropertyTests(ReplicationFixture fixture, ITestOutputHelper output)
{
    private static readonly int Scenarios =
        int.TryParse(Environment.GetEnvironmentVariable("PARTIALREPLICA_PROPERTY_SCENARIOS"), out var n) ? n : 30;

    [Fact]
    public async Task Explain_says_granted_exactly_when_the_follower_is_granted()
    {
        var baseSeed = int.TryParse(Environment.GetEnvironmentVariable("PARTIALREPLICA_PROPERTY_SEED"), out var fixedSeed)
            ? fixedSeed
            : Random.Shared.Next(1, 1_000_000);
        output.WriteLine($"base seed {baseSeed} (replay with PARTIALREPLICA_PROPERTY_SEED={baseSeed})");
        var db = await PolicyDatabase.CreateAsync(fixture);

        var (pairs, granted) = (0, 0);
        for (var i = 0; i < Scenarios; i++)
        {
            var (checkedPairs, grantedPairs) = await RunScenarioAsync(db, baseSeed + i);
            pairs += checkedPairs;
            granted += grantedPairs;
        }

        output.WriteLine($"{Scenarios} scenarios, {pairs} (follower, variable) pairs explained, {granted} granted");
        // Both verdicts must have been exercised, or the comparison proved little.
        Assert.InRange(granted, 1, pairs - 1);
    }

    private static async Task<(int Pairs, int Granted)> RunScenarioAsync(PolicyDatabase db, int seed)
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
        var (pairs, granted) = (0, 0);
        var steps = random.Next(1, 3);
        for (var step = 0; step <= steps + 1; step++)
        {
            string what;
            if (step <= steps)
            {
                var file = step == 0 ? generator.Initial() : generator.Next();
                what = $"{file.Mode} into {file.Branch}:\n{file.Render()}";
                await db.LoadAsync(file.Render(), file.Mode, file.Branch, file: $"seed-{seed}-step-{step}.yml");
                file.ApplyTo(model);
            }
            else
            {
                what = await DirectSqlChangesAsync(db, random);
            }

            var (p, g) = await CompareAsync(db, seed, step, what);
            pairs += p;
            granted += g;
        }

        return (pairs, granted);
    }

    /// <summary>Random memberships, ownerships and permissions as Conjur's loader or psql would write them.</summary>
    private static async Task<string> DirectSqlChangesAsync(PolicyDatabase db, Random random)
    {
        var roles = await Db.ColumnAsync(db.ConnectionString, "SELECT role_id FROM roles ORDER BY role_id COLLATE \"C\"");
        var variables = await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM resources WHERE split_part(resource_id, ':', 2) = 'variable' ORDER BY resource_id COLLATE \"C\"");
        var sets = await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM resources WHERE split_part(resource_id, ':', 2) = 'webservice' ORDER BY resource_id COLLATE \"C\"");
        var statements = new List<string>();
        for (var i = random.Next(2, 7); i > 0; i--)
        {
            var role = roles[random.Next(roles.Count)];
            var other = roles[random.Next(roles.Count)];
            var (sql, parameters) = random.Next(5) switch
            {
                0 => ("INSERT INTO role_memberships (role_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", new object[] { role, other }),
                1 => ("INSERT INTO role_memberships (role_id, member_id, ownership) VALUES ($1, $2, true) ON CONFLICT DO NOTHING", [role, other]),
                2 => ("DELETE FROM role_memberships WHERE ctid = (SELECT ctid FROM role_memberships WHERE member_id = $1 ORDER BY role_id COLLATE \"C\", ownership LIMIT 1)", [role]),
                3 when sets.Count > 0 => ("INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('replicate', $1, $2) ON CONFLICT DO NOTHING", [sets[random.Next(sets.Count)], role]),
                _ when variables.Count > 0 => ("INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2) ON CONFLICT DO NOTHING", [variables[random.Next(variables.Count)], role]),
                _ => ("INSERT INTO role_memberships (role_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [role, other]),
            };
            await Db.ExecuteAsync(db.ConnectionString, sql, parameters);
            statements.Add($"{sql} [{string.Join(", ", parameters)}]");
        }

        return "direct SQL:\n" + string.Join("\n", statements);
    }

    private static async Task<(int Pairs, int Granted)> CompareAsync(PolicyDatabase db, int seed, int step, string what)
    {
        var variables = await Db.ColumnAsync(db.ConnectionString,
            "SELECT resource_id FROM resources WHERE split_part(resource_id, ':', 2) = 'variable' ORDER BY resource_id COLLATE \"C\"");
        var (pairs, granted) = (0, 0);
        await using var connection = await db.DataSource.OpenConnectionAsync();
        foreach (var follower in PolicyGenerator.Followers)
        {
            var materialised = (await db.MaterialisedAsync(follower)).ToHashSet(StringComparer.Ordinal);
            foreach (var variable in variables)
            {
                GrantExplanation explanation;
                try
                {
                    var answer = await GrantExplainer.ExplainAsync(connection, "default", follower, variable, CancellationToken.None);
                    explanation = Assert.IsType<ExplainResult.Explained>(answer).Explanation;
                }
                catch (InvalidOperationException e)
                {
                    throw new XunitException($"seed {seed} step {step}, {follower} / {variable}: {e.Message}\nafter {what}");
                }

                var expected = materialised.Contains(variable);
                var malformed = explanation.ReplicaSets.Where(s => s.Granted ? s.Chain.Count == 0 || s.Missing is not null : s.Missing is null).ToList();
                if (explanation.Granted != expected || malformed.Count > 0)
                {
                    throw new XunitException(
                        $"seed {seed} step {step}, {follower} / {variable}: materialised granted {expected}, explain {explanation.Granted}\n" +
                        $"{explanation.ToJson()}\nafter {what}");
                }

                pairs++;
                granted += expected ? 1 : 0;
            }
        }

        return (pairs, granted);
    }
}
