using PartialReplica.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// Generates random but valid policies over one world: replica sets (maybe 'full'), three follower hosts,
/// app branches with sub-branches, groups, layers and variables, nested grants, permits, and follow-up
/// loads that update (revoke, deny, delete), replace (omit records and statements) or add grants to a set.
/// It reads the model only to pick records that exist.
/// </summary>
internal sealed class PolicyGenerator(Random random, GrantModel model)
{
    public static readonly string[] Followers = ["conjur/followers/f0", "conjur/followers/f1", "conjur/followers/f2"];
    private static readonly string[] Privileges = ["read", "execute", "update"];
    private int _fresh;

    public GenFile Initial()
    {
        var sets = new[] { "a", "b", "c", "full" }.Where((s, i) => random.NextDouble() < (s == "full" ? 0.2 : 0.6)).ToList();
        if (sets.Count == 0)
        {
            sets.Add("a");
        }

        var root = new List<GenItem>
        {
            new GenPolicy("conjur/followers", [.. Followers.Select(f => new GenRecord("host", f.Split('/')[^1]))]),
            new GenPolicy("conjur/replication-sets", [.. sets.Select(n => new GenPolicy(n,
            [
                new GenRecord("webservice", null), new GenRecord("group", "replicated-data"), new GenRecord("layer", "followers"),
                new GenPermission(false, "layer", $"conjur/replication-sets/{n}/followers", ["replicate"], "webservice", [$"conjur/replication-sets/{n}"]),
            ]))]),
        };
        var records = new List<(string Kind, string Path)>();
        records.AddRange(Followers.Select(f => ("host", f)));
        foreach (var n in sets)
        {
            records.Add(("webservice", $"conjur/replication-sets/{n}"));
            records.Add(("group", $"conjur/replication-sets/{n}/replicated-data"));
            records.Add(("layer", $"conjur/replication-sets/{n}/followers"));
        }

        var bodies = new List<List<GenItem>> { root };
        var apps = new List<GenItem>();
        for (var i = 0; i < random.Next(1, 4); i++)
        {
            var body = Records($"apps/p{i}", random.Next(1, 6), random.Next(0, 3), random.Next(0, 3), records);
            bodies.Add(body);
            if (random.NextDouble() < 0.4)
            {
                var sub = Records($"apps/p{i}/sub", random.Next(1, 4), random.Next(0, 2), 0, records);
                body.Add(new GenPolicy("sub", sub));
                bodies.Add(sub);
            }

            apps.Add(new GenPolicy($"p{i}", body));
        }

        root.Add(new GenPolicy("apps", apps));
        for (var i = random.Next(6, 15); i > 0; i--)
        {
            bodies[random.Next(bodies.Count)].Add(Statement(records));
        }

        foreach (var follower in Followers)
        {
            for (var i = random.Next(0, 3); i > 0; i--)
            {
                var (kind, path) = Pick(records.Where(r => r.Kind is "layer" or "group").ToList());
                bodies[random.Next(bodies.Count)].Add(new GenEdge(false, kind, path, "host", follower));
            }
        }

        return new GenFile("root", PolicyMode.Load, root);
    }

    /// <summary>A follow-up load: update, replace or a load into a replica set.</summary>
    public GenFile Next()
    {
        var apps = ExistingPolicies().Where(p => p.Count(c => c == '/') == 1).ToList();
        var choice = random.Next(3);
        return choice switch
        {
            0 when apps.Count > 0 => Replace(Pick(apps)),
            1 => LoadIntoSet(),
            _ => Update(Pick(["root", .. ExistingPolicies()])),
        };
    }

    private GenFile Update(string branch)
    {
        var policy = GrantModel.PolicyId(branch == "root" ? "" : branch);
        var existing = Existing();
        var items = new List<GenItem>();
        var gone = new HashSet<string>(StringComparer.Ordinal);
        var own = existing.Where(r => r.Kind is "variable" or "group" or "layer" && model.Records[GrantModel.Id(r.Kind, r.Path)] == policy).ToList();
        if (own.Count > 0 && random.NextDouble() < 0.5)
        {
            var (kind, path) = Pick(own);
            items.Add(new GenDelete(kind, path));
            gone.Add(GrantModel.Id(kind, path));
        }

        var revoked = new HashSet<(string, string)>();
        foreach (var (role, member) in Sample(model.Memberships.Keys.Where(m => !gone.Contains(m.Role) && !gone.Contains(m.Member)).ToList(), random.Next(0, 3)))
        {
            revoked.Add((role, member));
            items.Add(new GenEdge(true, KindOf(role), PathOf(role), KindOf(member), PathOf(member)));
        }

        var denied = new HashSet<(string, string, string)>();
        foreach (var (privilege, resource, role) in Sample(model.Permissions.Keys.Where(p => !gone.Contains(p.Resource) && !gone.Contains(p.Role)).ToList(), random.Next(0, 3)))
        {
            denied.Add((privilege, resource, role));
            items.Add(new GenPermission(true, KindOf(role), PathOf(role), [privilege], KindOf(resource), [PathOf(resource)]));
        }

        var pool = existing.Where(r => !gone.Contains(GrantModel.Id(r.Kind, r.Path))).ToList();
        items.AddRange(Fresh(branch == "root" ? "" : branch, random.Next(0, 3), pool));
        for (var i = random.Next(0, 4); i > 0; i--)
        {
            var statement = Statement(pool);
            var clashes = statement switch
            {
                GenEdge e => revoked.Contains((GrantModel.Id(e.RoleKind, e.Role), GrantModel.Id(e.MemberKind, e.Member))),
                GenPermission p => p.Privileges.Any(pr => p.Resources.Any(r => denied.Contains((pr, GrantModel.Id(p.ResourceKind, r), GrantModel.Id(p.RoleKind, p.Role))))),
                _ => false,
            };
            if (!clashes)
            {
                items.Add(statement);
            }
        }

        return new GenFile(branch, PolicyMode.Update, items);
    }

    private GenFile Replace(string branch)
    {
        var policy = GrantModel.PolicyId(branch);
        var subPath = branch + "/sub";
        var subPolicy = GrantModel.PolicyId(subPath);
        var keepSub = model.Records.ContainsKey(subPolicy) && random.NextDouble() < 0.6;
        var body = new List<GenItem>();
        var subBody = new List<GenItem>();
        var survivors = Existing().Where(r => !GrantModel.InScope(model.Records[GrantModel.Id(r.Kind, r.Path)], policy)).ToList();
        foreach (var (kind, path) in Existing())
        {
            var owner = model.Records[GrantModel.Id(kind, path)];
            if (kind == "policy" || (owner != policy && owner != subPolicy) || random.NextDouble() >= 0.7)
            {
                continue;
            }

            if (owner == policy)
            {
                body.Add(new GenRecord(kind, path[(branch.Length + 1)..]));
                survivors.Add((kind, path));
            }
            else if (keepSub)
            {
                subBody.Add(new GenRecord(kind, path[(subPath.Length + 1)..]));
                survivors.Add((kind, path));
            }
        }

        body.AddRange(Fresh(branch, random.Next(0, 3), survivors));
        if (keepSub)
        {
            body.Add(new GenPolicy("sub", subBody));
            survivors.Add(("policy", subPath));
        }

        var alive = survivors.Select(s => GrantModel.Id(s.Kind, s.Path)).ToHashSet(StringComparer.Ordinal);
        foreach (var ((role, member), defined) in model.Memberships.Where(m => GrantModel.InScope(m.Value, policy)))
        {
            if (alive.Contains(role) && alive.Contains(member) && random.NextDouble() < 0.6)
            {
                (defined == subPolicy && keepSub ? subBody : body).Add(new GenEdge(false, KindOf(role), PathOf(role), KindOf(member), PathOf(member)));
            }
        }

        foreach (var ((privilege, resource, role), defined) in model.Permissions.Where(p => GrantModel.InScope(p.Value, policy)))
        {
            if (alive.Contains(role) && alive.Contains(resource) && random.NextDouble() < 0.6)
            {
                (defined == subPolicy && keepSub ? subBody : body).Add(new GenPermission(false, KindOf(role), PathOf(role), [privilege], KindOf(resource), [PathOf(resource)]));
            }
        }

        for (var i = random.Next(0, 5); i > 0; i--)
        {
            (keepSub && random.NextDouble() < 0.3 ? subBody : body).Add(Statement(survivors));
        }

        return new GenFile(branch, PolicyMode.Replace, body);
    }

    private GenFile LoadIntoSet()
    {
        var existing = Existing();
        var set = PathOf(Pick(model.Records.Keys.Where(k => k.StartsWith("default:webservice:conjur/replication-sets/", StringComparison.Ordinal)).ToList()));
        var items = new List<GenItem>();
        for (var i = random.Next(1, 3); i > 0; i--)
        {
            var groups = existing.Where(r => r.Kind is "group" or "layer" && r.Path.StartsWith("apps/", StringComparison.Ordinal)).ToList();
            if (random.NextDouble() < 0.5 || groups.Count == 0)
            {
                items.Add(new GenEdge(false, "layer", set + "/followers", "host", Pick(Followers)));
            }
            else
            {
                var (kind, path) = Pick(groups);
                items.Add(new GenEdge(false, kind, path, "group", set + "/replicated-data"));
            }
        }

        return new GenFile(set, PolicyMode.Load, items);
    }

    private List<GenItem> Records(string path, int variables, int groups, int layers, List<(string, string)> records)
    {
        var body = new List<GenItem>();
        void Add(string kind, string name)
        {
            body.Add(new GenRecord(kind, name));
            records.Add((kind, path + "/" + name));
        }

        for (var i = 0; i < variables; i++)
        {
            Add("variable", random.NextDouble() < 0.3 ? $"db/v{i}" : $"v{i}");
        }

        for (var i = 0; i < groups; i++)
        {
            Add("group", $"g{i}");
        }

        for (var i = 0; i < layers; i++)
        {
            Add("layer", $"l{i}");
        }

        return body;
    }

    private IEnumerable<GenItem> Fresh(string path, int count, List<(string Kind, string Path)> pool)
    {
        for (var i = 0; i < count; i++)
        {
            var kind = random.NextDouble() < 0.6 ? "variable" : "group";
            var name = $"n{_fresh++}";
            pool.Add((kind, GenFile.Join(path, name)));
            yield return new GenRecord(kind, name);
        }
    }

    /// <summary>A random grant or permit among the given records.</summary>
    private GenItem Statement(List<(string Kind, string Path)> records)
    {
        var roles = records.Where(r => r.Kind is "group" or "layer").ToList();
        var members = records.Where(r => r.Kind is "group" or "layer" or "host").ToList();
        var variables = records.Where(r => r.Kind == "variable").ToList();
        var sets = records.Where(r => r.Kind == "webservice").ToList();
        var roll = random.NextDouble();
        if (roll < 0.45 && roles.Count > 0 && members.Count > 1)
        {
            var role = Pick(roles);
            var member = Pick(members.Where(m => m != role).ToList());
            return new GenEdge(false, role.Kind, role.Path, member.Kind, member.Path);
        }

        if (roll < 0.9 && roles.Count > 0 && variables.Count > 0)
        {
            var role = Pick(roles);
            var privileges = Privileges.Where(_ => random.NextDouble() < 0.5).ToArray();
            var targets = Sample(variables, random.Next(1, 3)).Select(v => v.Path).ToArray();
            return new GenPermission(false, role.Kind, role.Path, privileges.Length == 0 ? ["execute"] : privileges, "variable", targets);
        }

        // Follower hosts and replica sets always exist, so this fallback always has candidates.
        var grantee = Pick(members);
        return new GenPermission(false, grantee.Kind, grantee.Path, ["replicate"], "webservice", [Pick(sets).Path]);
    }

    private List<(string Kind, string Path)> Existing() =>
        model.Records.Keys.Select(id => (KindOf(id), PathOf(id))).OrderBy(r => r.Item1 + ":" + r.Item2, StringComparer.Ordinal).ToList();

    private List<string> ExistingPolicies() =>
        Existing().Where(r => r.Kind == "policy" && r.Path.StartsWith("apps/", StringComparison.Ordinal)).Select(r => r.Path).ToList();

    private static string KindOf(string id) => id.Split(':')[1];

    private static string PathOf(string id) => id.Split(':', 3)[2];

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private List<T> Sample<T>(List<T> items, int count) =>
        items.OrderBy(_ => random.Next()).Take(Math.Min(count, items.Count)).ToList();
}
