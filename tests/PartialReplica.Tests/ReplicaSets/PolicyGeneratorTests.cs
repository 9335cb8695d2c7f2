using System.Text.RegularExpressions;
using PartialReplica.Policies;
using Xunit.Abstractions;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// The R6 generator writes only policies Conjur accepts (each statement in a policy that encloses its subject), and
/// still covers cross-branch edges: members and permitted roles absolute and with <c>../</c>, statements in nested
/// bodies, and loads into app, replica-set and root branches.
/// </summary>
public sealed partial class PolicyGeneratorTests(ITestOutputHelper output)
{
    [GeneratedRegex(@"^\s*(?:member|role): !\w+ /", RegexOptions.Multiline)]
    private static partial Regex AbsoluteReference();

    [GeneratedRegex(@"^\s*(?:member|role): !\w+ (?:\.\./)+", RegexOptions.Multiline)]
    private static partial Regex ClimbingReference();

    [GeneratedRegex(@"^\s{4,}- !(?:grant|permit)\n", RegexOptions.Multiline)]
    private static partial Regex NestedStatement();

    [Fact]
    public void Generated_policies_parse_as_Conjur_would_and_keep_their_coverage()
    {
        var shapes = new Dictionary<string, int>(StringComparer.Ordinal);
        void Count(string shape, bool seen)
        {
            if (seen)
            {
                shapes[shape] = shapes.GetValueOrDefault(shape) + 1;
            }
        }

        for (var seed = 1; seed <= 300; seed++)
        {
            var random = new Random(seed);
            var model = new GrantModel();
            var generator = new PolicyGenerator(random, model);
            var steps = random.Next(1, 4);
            for (var step = 0; step <= steps; step++)
            {
                var file = step == 0 ? generator.Initial() : generator.Next();
                var yaml = file.Render();
                try
                {
                    PolicyParser.Parse(yaml, $"seed-{seed}-step-{step}.yml", "default", file.Branch);
                }
                catch (PartialReplicaException e)
                {
                    Assert.Fail($"seed {seed} step {step}: {e.Message}\n{file.Mode} into {file.Branch}:\n{yaml}");
                }

                file.ApplyTo(model);
                Count("absolute member or role", AbsoluteReference().IsMatch(yaml));
                Count("../ member or role", ClimbingReference().IsMatch(yaml));
                Count("statement in a nested body", NestedStatement().IsMatch(yaml));
                Count("load into an app branch", file.Branch.StartsWith("apps/", StringComparison.Ordinal));
                Count("load into a replica set", file.Branch.StartsWith("conjur/replication-sets/", StringComparison.Ordinal));
                Count("grant to replicated-data from an app branch",
                    file.Branch.StartsWith("apps/", StringComparison.Ordinal) && yaml.Contains("/replicated-data", StringComparison.Ordinal));
                Count("revoke, deny or delete", step > 0 && Regex.IsMatch(yaml, "!(?:revoke|deny|delete)\n"));
                Count("replace", file.Mode == PolicyMode.Replace);
            }
        }

        string[] expected =
        [
            "absolute member or role", "../ member or role", "statement in a nested body", "load into an app branch",
            "load into a replica set", "grant to replicated-data from an app branch", "revoke, deny or delete", "replace",
        ];
        output.WriteLine(string.Join("\n", shapes.Select(s => $"{s.Key}: {s.Value}")));
        Assert.All(expected, shape => Assert.True(shapes.GetValueOrDefault(shape) >= 10, $"{shape}: {shapes.GetValueOrDefault(shape)}"));
    }
}
