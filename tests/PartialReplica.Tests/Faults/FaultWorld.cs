using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// The world a fault test breaks, as a <see cref="TestWorld"/>: a leader with <c>policies/demo.yml</c> plus a few
/// more variables per group, every variable valued, and the grant model the followers' contents are checked against
/// (followers east-1 and west-1 with their agents as child processes are added by each test). The model is written
/// out here from the policy text, not read from the leader's grant function, so a grant-resolution bug cannot hide a
/// delivery bug.
/// </summary>
internal static class FaultWorld
{
    public const string East = "conjur/followers/east-1";
    public const string West = "conjur/followers/west-1";

    /// <summary>Followers made by <see cref="AddSitesAsync"/> are named this and a number; each receives the west set.</summary>
    public const string SitePrefix = "conjur/followers/site-";
    private const int ExtraPerGroup = 6;

    /// <summary>Granted to both followers (billing-readers, carried by both replica sets).</summary>
    public static readonly string[] Billing =
        ["default:variable:apps/billing/db/password", "default:variable:apps/billing/api/token", .. Numbered("apps/billing/burst")];

    /// <summary>Granted to east-1 only (secrets-readers, carried by the east set).</summary>
    public static readonly string[] Inventory = ["default:variable:apps/inventory/db/password", .. Numbered("apps/inventory/burst")];

    /// <summary>Granted to nobody.</summary>
    public static readonly string[] Hidden = ["default:variable:apps/inventory/reports/key", .. Numbered("apps/inventory/hidden")];

    public static readonly string[] All = [.. Billing, .. Inventory, .. Hidden];

    /// <summary>Every variable's granted followers, from the policy text (see the class comment).</summary>
    public static string[] GrantedTo(string follower) => follower switch
    {
        East => [.. Billing, .. Inventory],
        West => Billing,
        _ when follower.StartsWith(SitePrefix, StringComparison.Ordinal) => Billing,
        _ => [],
    };

    /// <summary>The fault world on <paramref name="leader"/> (setup run; the test owns its server).</summary>
    public static Task<TestWorld> CreateAsync(ReplicationFixture servers, string leader) => Describe(TestWorld.On(servers).OnLeader(leader)).StartAsync();

    /// <summary>The fault world on a fresh leader of <paramref name="servers"/>.</summary>
    public static TestWorldBuilder On(ReplicationFixture servers) => Describe(TestWorld.On(servers));

    /// <summary>
    /// Adds hosts <c>site-01</c>… to the policy, each a member of the west set's followers (so each receives
    /// <see cref="Billing"/>), and returns their follower names.
    /// </summary>
    public static async Task<string[]> AddSitesAsync(this TestWorld world, int count)
    {
        var names = Enumerable.Range(1, count).Select(i => $"site-{i:D2}").ToArray();
        var text = new System.Text.StringBuilder();
        foreach (var name in names)
        {
            text.AppendLine($"- !host {name}").AppendLine("- !grant").AppendLine("  role: !layer west-hosts").AppendLine($"  member: !host {name}");
        }

        await world.LoadPolicyAsync(text.ToString(), PolicyMode.Load, "conjur/followers");
        return [.. names.Select(n => "conjur/followers/" + n)];
    }

    /// <summary>Starts writers that insert and delete secret versions until stopped.</summary>
    public static BurstWriter StartWriting(this TestWorld world, int writers, int seed) => BurstWriter.Start(world, writers, seed);

    /// <summary>Pairs of batches from two different gateways whose apply intervals overlap, in the follower's apply log.</summary>
    public static List<string> Overlaps(List<AppliedBatch> log) =>
        (from x in log
         from y in log
         where string.CompareOrdinal(x.Gateway, y.Gateway) < 0
            && x.StartedAt < y.AppliedAt && y.StartedAt < x.AppliedAt
         select $"{x.Gateway} {x.StartedAt:O}..{x.AppliedAt:O} with {y.Gateway} {y.StartedAt:O}..{y.AppliedAt:O}").ToList();

    private static TestWorldBuilder Describe(TestWorldBuilder builder) =>
        builder.GrantModel(GrantedTo)
            .DemoPolicy()
            .Policy(ExtraVariables("burst", "/apps/billing-readers"), "apps/billing")
            .Policy(ExtraVariables("burst", "/apps/secrets-readers"), "apps/inventory")
            .Policy(ExtraVariables("hidden", null), "apps/inventory")
            .Secrets(All, id => "first value of " + id);

    private static IEnumerable<string> Numbered(string prefix) =>
        Enumerable.Range(0, ExtraPerGroup).Select(i => $"default:variable:{prefix}/{i}");

    private static string ExtraVariables(string name, string? readers)
    {
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < ExtraPerGroup; i++)
        {
            text.AppendLine($"- !variable {name}/{i}");
        }

        if (readers is not null)
        {
            text.AppendLine("- !permit").AppendLine($"  role: !group {readers}").AppendLine("  privilege: execute").AppendLine("  resources:");
            for (var i = 0; i < ExtraPerGroup; i++)
            {
                text.AppendLine($"  - !variable {name}/{i}");
            }
        }

        return text.ToString();
    }
}
