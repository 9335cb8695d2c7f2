namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// An independent, brute-force model of the Conjur tables a policy load touches and of SPEC F4's grant
/// rule, written from Conjur's loader rules and the spec without looking at the SQL: every row a load writes carries
/// the loaded branch as its policy; a row that exists already keeps the policy that wrote it (Conjur's "shadowed"
/// rows); replace removes only the loaded branch's own rows that the file omits; revoke and deny remove only the
/// loaded branch's own rows; a deleted record takes with it every row naming it, every row its policy wrote and every
/// record it owns (Conjur's cascading foreign keys). Ownership memberships are left out on purpose: in generated
/// policies every owner is a policy role or the admin user, which no follower or replicated-data group ever reaches,
/// so they cannot change a granted set.
/// </summary>
internal sealed class GrantModel
{
    public const string Admin = "default:user:admin";
    private const string Account = "default";

    /// <summary>Full record id → the policy (the branch loaded) whose load wrote it.</summary>
    public Dictionary<string, string> Records { get; } = new(StringComparer.Ordinal);

    /// <summary>Full record id → its owner role.</summary>
    public Dictionary<string, string> Owners { get; } = new(StringComparer.Ordinal);

    /// <summary>(role, member) → the policy whose load wrote it.</summary>
    public Dictionary<(string Role, string Member), string> Memberships { get; } = [];

    /// <summary>(privilege, resource, role) → the policy whose load wrote it.</summary>
    public Dictionary<(string Privilege, string Resource, string Role), string> Permissions { get; } = [];

    public static string Id(string kind, string path) => $"{Account}:{kind}:{path}";

    public static string PolicyId(string path) => Id("policy", path.Length == 0 ? "root" : path);

    /// <summary>A copy, to try a load without changing this model.</summary>
    public GrantModel Clone()
    {
        var copy = new GrantModel();
        foreach (var (k, v) in Records)
        {
            copy.Records[k] = v;
        }

        foreach (var (k, v) in Owners)
        {
            copy.Owners[k] = v;
        }

        foreach (var (k, v) in Memberships)
        {
            copy.Memberships[k] = v;
        }

        foreach (var (k, v) in Permissions)
        {
            copy.Permissions[k] = v;
        }

        return copy;
    }

    /// <summary>
    /// A record the file declares: inserted with the loaded branch as its policy if it does not exist; an existing one
    /// keeps its policy, and outside load mode takes the file's owner only if the loaded branch wrote it.
    /// </summary>
    public void Declare(string id, string owner, string branch, bool update)
    {
        if (Records.TryAdd(id, branch))
        {
            Owners[id] = owner;
        }
        else if (update && Records[id] == branch)
        {
            Owners[id] = owner;
        }
    }

    public void Grant(string role, string member, string branch) => Memberships.TryAdd((role, member), branch);

    public void Permit(string privilege, string resource, string role, string branch) =>
        Permissions.TryAdd((privilege, resource, role), branch);

    /// <summary>Conjur's revoke removes the membership only if the loaded branch wrote it.</summary>
    public void Revoke(string role, string member, string branch)
    {
        if (Memberships.TryGetValue((role, member), out var policy) && policy == branch)
        {
            Memberships.Remove((role, member));
        }
    }

    /// <summary>Conjur's deny removes the permission only if the loaded branch wrote it.</summary>
    public void Deny(string privilege, string resource, string role, string branch)
    {
        if (Permissions.TryGetValue((privilege, resource, role), out var policy) && policy == branch)
        {
            Permissions.Remove((privilege, resource, role));
        }
    }

    /// <summary>
    /// A record goes, and with it every membership and permission that names it, every row whose policy it is and
    /// every resource it owns (recursively, as the foreign keys cascade).
    /// </summary>
    public void Delete(string id)
    {
        if (!Records.Remove(id))
        {
            return;
        }

        Owners.Remove(id);
        foreach (var (key, _) in Memberships.Where(m => m.Key.Role == id || m.Key.Member == id || m.Value == id).ToList())
        {
            Memberships.Remove(key);
        }

        foreach (var (key, _) in Permissions.Where(p => p.Key.Resource == id || p.Key.Role == id || p.Value == id).ToList())
        {
            Permissions.Remove(key);
        }

        foreach (var dependent in Records.Keys.Where(r => Records[r] == id).ToList())
        {
            Delete(dependent);
        }

        // An owner's deletion cascades to the resources it owns, not to their roles: the model covers resource-only
        // records here and refuses the case it does not model rather than diverge silently.
        foreach (var owned in Records.Keys.Where(r => Owners.GetValueOrDefault(r) == id).ToList())
        {
            if (!Records.ContainsKey(owned))
            {
                continue;
            }

            if (!owned.Contains(":variable:", StringComparison.Ordinal) && !owned.Contains(":webservice:", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"the model does not cover deleting {id}, which owns the role {owned}");
            }

            Delete(owned);
        }
    }

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
}
