using PartialReplica.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// An independent, brute-force model of the Conjur tables a policy load touches and of SPEC F4's grant
/// rule, written from the spec without looking at the SQL. Ownership memberships are left out on purpose:
/// in generated policies every owner is a policy role, which no follower or replicated-data group ever
/// reaches, so they cannot change a granted set.
/// </summary>
internal sealed class GrantModel
{
    private const string Account = "default";

    /// <summary>Full record id → the policy id that defines it.</summary>
    public Dictionary<string, string> Records { get; } = new(StringComparer.Ordinal);

    /// <summary>(role, member) → defining policy id.</summary>
    public Dictionary<(string Role, string Member), string> Memberships { get; } = [];

    /// <summary>(privilege, resource, role) → defining policy id.</summary>
    public Dictionary<(string Privilege, string Resource, string Role), string> Permissions { get; } = [];

    public static string Id(string kind, string path) => $"{Account}:{kind}:{path}";

    public static string PolicyId(string path) => Id("policy", path.Length == 0 ? "root" : path);

    public void Declare(string id, string policy, PolicyMode mode) => Upsert(Records, id, policy, mode);

    public void Grant(string role, string member, string policy, PolicyMode mode) => Upsert(Memberships, (role, member), policy, mode);

    public void Permit(string privilege, string resource, string role, string policy, PolicyMode mode) =>
        Upsert(Permissions, (privilege, resource, role), policy, mode);

    public void Revoke(string role, string member) => Memberships.Remove((role, member));

    public void Deny(string privilege, string resource, string role) => Permissions.Remove((privilege, resource, role));

    /// <summary>A record goes, and with it every membership and permission that names it.</summary>
    public void Delete(string id)
    {
        Records.Remove(id);
        foreach (var key in Memberships.Keys.Where(k => k.Role == id || k.Member == id).ToList())
        {
            Memberships.Remove(key);
        }

        foreach (var key in Permissions.Keys.Where(k => k.Resource == id || k.Role == id).ToList())
        {
            Permissions.Remove(key);
        }
    }

    /// <summary>Whether a row defined by <paramref name="policy"/> belongs to the replace scope of <paramref name="branchPolicy"/>.</summary>
    public static bool InScope(string policy, string branchPolicy) =>
        branchPolicy == PolicyId("")
            ? policy.StartsWith($"{Account}:policy:", StringComparison.Ordinal)
            : policy == branchPolicy || policy.StartsWith(branchPolicy + "/", StringComparison.Ordinal);

    /// <summary>The roles <paramref name="role"/> holds: itself and every role it is transitively a member of.</summary>
    public HashSet<string> Closure(string role)
    {
        var closure = new HashSet<string>(StringComparer.Ordinal) { role };
        var queue = new Queue<string>([role]);
        while (queue.TryDequeue(out var current))
        {
            foreach (var (r, m) in Memberships.Keys)
            {
                if (m == current && closure.Add(r))
                {
                    queue.Enqueue(r);
                }
            }
        }

        return closure;
    }

    /// <summary>SPEC F4, literally: F gets V iff for some set N, F can replicate N and N's replicated-data can execute V.</summary>
    public SortedSet<string> Granted(string followerRole)
    {
        var granted = new SortedSet<string>(StringComparer.Ordinal);
        var roles = Closure(followerRole);
        var setPrefix = Id("webservice", "conjur/replication-sets/");
        var sets = Permissions.Keys
            .Where(p => p.Privilege == "replicate" && roles.Contains(p.Role)
                        && p.Resource.StartsWith(setPrefix, StringComparison.Ordinal)
                        && !p.Resource[setPrefix.Length..].Contains('/'))
            .Select(p => p.Resource[setPrefix.Length..])
            .ToHashSet(StringComparer.Ordinal);
        foreach (var set in sets)
        {
            if (set == "full")
            {
                granted.UnionWith(Records.Keys.Where(IsVariable));
                continue;
            }

            var carriers = Closure(Id("group", $"conjur/replication-sets/{set}/replicated-data"));
            granted.UnionWith(Permissions.Keys
                .Where(p => p.Privilege == "execute" && carriers.Contains(p.Role) && IsVariable(p.Resource))
                .Select(p => p.Resource));
        }

        return granted;
    }

    private static bool IsVariable(string id) => id.StartsWith($"{Account}:variable:", StringComparison.Ordinal);

    private static void Upsert<TKey>(Dictionary<TKey, string> rows, TKey key, string policy, PolicyMode mode)
        where TKey : notnull
    {
        // Load is add-only: an existing row keeps the policy that defined it.
        if (mode != PolicyMode.Load || !rows.ContainsKey(key))
        {
            rows[key] = policy;
        }
    }
}
