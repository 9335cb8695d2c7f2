using PartialReplica.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// Generates random but valid policies over one world: replica sets (maybe 'full'), three follower hosts,
/// app branches with sub-branches, groups, layers and variables, nested grants, permits, and follow-up
/// loads that update (revoke, deny, delete), replace (omit records and statements) or add grants to a set.
/// It reads the model only to pick records that exist. As Conjur requires, a statement stands in a policy that
/// encloses its subject (a grant's or revoke's role, a permit's or deny's resource, a deleted record); its member or
/// permitted role may be anywhere, written absolute or with <c>../</c>.
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

        var setBodies = sets.ToDictionary(n => n, n => new List<GenItem>
        {
            new GenRecord("webservice", null), new GenRecord("group", "replicated-data"), new GenRecord("layer", "followers"),
            new GenPermission(false, "layer", $"conjur/replication-sets/{n}/followers", ["replicate"], "webservice", [$"conjur/replication-sets/{n}"]),
        });
        var root = new List<GenItem>
        {
            new GenPolicy("conjur/followers", [.. Followers.Select(f => new GenRecord("host", f.Split('/')[^1]))]),
            new GenPolicy("conjur/replication-sets", [.. sets.Select(n => new GenPolicy(n, setBodies[n]))]),
        };
        var records = new List<(string Kind, string Path)>();
        records.AddRange(Followers.Select(f => ("host", f)));
        foreach (var n in sets)
        {
            records.Add(("webservice", $"conjur/replication-sets/{n}"));
            records.Add(("group", $"conjur/replication-sets/{n}/replicated-data"));
            records.Add(("layer", $"conjur/replication-sets/{n}/followers"));
        }

        var bodies = new List<(string Path, List<GenItem> Body)> { ("", root) };
        bodies.AddRange(sets.Select(n => ($"conjur/replication-sets/{n}", setBodies[n])));
        var apps = new List<GenItem>();
        for (var i = 0; i < random.Next(1, 4); i++)
        {
            var body = Records($"apps/p{i}", random.Next(1, 6), random.Next(0, 3), random.Next(0, 3), records);
            bodies.Add(($"apps/p{i}", body));
            if (random.NextDouble() < 0.4)
            {
                var sub = Records($"apps/p{i}/sub", random.Next(1, 4), random.Next(0, 2), 0, records);
                body.Add(new GenPolicy("sub", sub));
                bodies.Add(($"apps/p{i}/sub", sub));
            }

            apps.Add(new GenPolicy($"p{i}", body));
        }

        root.Add(new GenPolicy("apps", apps));
        for (var i = random.Next(6, 15); i > 0; i--)
        {
            // A body whose branch holds nothing a statement can be about leaves it to root, which holds everything.
            var (path, body) = Pick(bodies);
            var statement = Statement(records, path);
            if (statement is null)
            {
                (path, body) = bodies[0];
                statement = Statement(records, path) ?? throw new InvalidOperationException("root always holds a replica set");
            }

            body.Add(statement);
        }

        foreach (var follower in Followers)
        {
            for (var i = random.Next(0, 3); i > 0; i--)
            {
                var (kind, path) = Pick(records.Where(r => r.Kind is "layer" or "group").ToList());
                Pick(bodies.Where(b => Within(b.Path, path)).ToList()).Body.Add(new GenEdge(false, kind, path, "host", follower));
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
            1 => LoadGrants(),
            _ => Update(Pick(["root", .. ExistingPolicies()])),
        };
    }

    private GenFile Update(string branch)
    {
        var scope = branch == "root" ? "" : branch;
        var policy = GrantModel.PolicyId(scope);
        var existing = Existing();
        var items = new List<GenItem>();
        var gone = new HashSet<string>(StringComparer.Ordinal);
        // The replica sets' own records (their followers layer and replicated-data group) stay: later loads into a set use them.
        var own = existing.Where(r => r.Kind is "variable" or "group" or "layer" && model.Records[GrantModel.Id(r.Kind, r.Path)] == policy
                                      && !r.Path.StartsWith("conjur/", StringComparison.Ordinal) && Within(scope, r.Path)).ToList();
        if (own.Count > 0 && random.NextDouble() < 0.5)
        {
            var (kind, path) = Pick(own);
            items.Add(new GenDelete(kind, path));
            gone.Add(GrantModel.Id(kind, path));
        }

        // Revokes and denies remove only the branch's own rows: aim at those most of the time, at any row otherwise
        // whose role (revoke) or resource (deny) the branch encloses.
        var ownOnly = random.NextDouble() < 0.6;
        foreach (var (role, member) in Sample(model.Memberships
                     .Where(m => (!ownOnly || m.Value == policy) && !gone.Contains(m.Key.Role) && !gone.Contains(m.Key.Member)
                                 && Within(scope, PathOf(m.Key.Role)))
                     .Select(m => m.Key).ToList(), random.Next(0, 3)))
        {
            items.Add(new GenEdge(true, KindOf(role), PathOf(role), KindOf(member), PathOf(member)));
        }

        foreach (var (privilege, resource, role) in Sample(model.Permissions
                     .Where(p => (!ownOnly || p.Value == policy) && !gone.Contains(p.Key.Resource) && !gone.Contains(p.Key.Role)
                                 && Within(scope, PathOf(p.Key.Resource)))
                     .Select(p => p.Key).ToList(), random.Next(0, 3)))
        {
            items.Add(new GenPermission(true, KindOf(role), PathOf(role), [privilege], KindOf(resource), [PathOf(resource)]));
        }

        // A revoke or deny and a grant or permit of the same row may meet in one file: the statement stands (Conjur's order).
        var pool = existing.Where(r => !gone.Contains(GrantModel.Id(r.Kind, r.Path))).ToList();
        items.AddRange(Fresh(scope, random.Next(0, 3), pool));
        for (var i = random.Next(0, 4); i > 0; i--)
        {
            if (Statement(pool, scope) is { } statement)
            {
                items.Add(statement);
            }
        }

        return new GenFile(branch, PolicyMode.Update, items);
    }

    /// <summary>
    /// A replace of an app branch: it re-declares some of the records under the branch (its own, which it keeps, and
    /// others', which stay as they are), keeps or drops its sub-policies, may add a new one, restates some of its own
    /// grants and permits and adds new ones. What it omits of its own rows goes, with what cascades from them.
    /// </summary>
    private GenFile Replace(string branch)
    {
        var policy = GrantModel.PolicyId(branch);
        var body = new List<GenItem>();
        var children = ExistingPolicies().Where(p => p.StartsWith(branch + "/", StringComparison.Ordinal) && !p[(branch.Length + 1)..].Contains('/'))
            .Where(_ => random.NextDouble() < 0.6)
            .ToDictionary(p => p, p => new List<GenItem>(), StringComparer.Ordinal);
        foreach (var (kind, path) in Existing().Where(r => r.Kind != "policy" && r.Path.StartsWith(branch + "/", StringComparison.Ordinal)))
        {
            var enclosing = EnclosingPolicy(path);
            var mine = model.Records[GrantModel.Id(kind, path)] == policy;
            if (random.NextDouble() >= (mine ? 0.7 : 0.4))
            {
                continue;
            }

            if (enclosing == branch)
            {
                body.Add(new GenRecord(kind, path[(branch.Length + 1)..]));
            }
            else if (children.TryGetValue(enclosing, out var childBody))
            {
                childBody.Add(new GenRecord(kind, path[(enclosing.Length + 1)..]));
            }
        }

        var scratch = new List<(string Kind, string Path)>();
        body.AddRange(Fresh(branch, random.Next(0, 3), scratch));
        foreach (var (child, childBody) in children)
        {
            body.Add(new GenPolicy(child[(branch.Length + 1)..], childBody));
        }

        if (random.NextDouble() < 0.3)
        {
            var name = $"s{_fresh++}";
            body.Add(new GenPolicy(name, [.. Fresh(GenFile.Join(branch, name), random.Next(0, 3), scratch)]));
        }

        // The records alive after the load: those of the file and those its omissions leave.
        var trial = model.Clone();
        new GenFile(branch, PolicyMode.Replace, body).ApplyTo(trial);
        var survivors = trial.Records.Keys.Select(id => (KindOf(id), PathOf(id))).OrderBy(r => r.Item1 + ":" + r.Item2, StringComparer.Ordinal).ToList();
        var alive = trial.Records.Keys.ToHashSet(StringComparer.Ordinal);
        var bodies = new List<(string Path, List<GenItem> Body)> { (branch, body) };
        bodies.AddRange(body.OfType<GenPolicy>().Select(p => (GenFile.Join(branch, p.Name), p.Body)));
        // Each restated row goes into a body that encloses its role (grant) or resource (permit): the file's or a sub-policy's.
        foreach (var ((role, member), defined) in model.Memberships.Where(m => m.Value == policy))
        {
            var fit = bodies.Where(b => Within(b.Path, PathOf(role))).ToList();
            if (alive.Contains(role) && alive.Contains(member) && fit.Count > 0 && random.NextDouble() < 0.6)
            {
                Pick(fit).Body.Add(new GenEdge(false, KindOf(role), PathOf(role), KindOf(member), PathOf(member)));
            }
        }

        foreach (var ((privilege, resource, role), defined) in model.Permissions.Where(p => p.Value == policy))
        {
            var fit = bodies.Where(b => Within(b.Path, PathOf(resource))).ToList();
            if (alive.Contains(role) && alive.Contains(resource) && fit.Count > 0 && random.NextDouble() < 0.6)
            {
                Pick(fit).Body.Add(new GenPermission(false, KindOf(role), PathOf(role), [privilege], KindOf(resource), [PathOf(resource)]));
            }
        }

        for (var i = random.Next(0, 5); i > 0; i--)
        {
            var (path, list) = Pick(bodies);
            if (Statement(survivors, path) is { } statement)
            {
                list.Add(statement);
            }
        }

        return new GenFile(branch, PolicyMode.Replace, body);
    }

    /// <summary>The nearest existing policy that encloses <paramref name="path"/>.</summary>
    private string EnclosingPolicy(string path)
    {
        for (var cut = path.LastIndexOf('/'); cut > 0; cut = path.LastIndexOf('/', cut - 1))
        {
            if (model.Records.ContainsKey(GrantModel.PolicyId(path[..cut])))
            {
                return path[..cut];
            }
        }

        return "";
    }

    /// <summary>
    /// A load of grants: follower hosts into a set's followers layer, loaded into the set's branch, or app groups and
    /// layers granted to a set's replicated-data, loaded into the app policy that encloses the granted role (the member
    /// is absolute), as Conjur users write them; now and then both at once from root, which encloses everything.
    /// </summary>
    private GenFile LoadGrants()
    {
        var existing = Existing();
        var sets = model.Records.Keys.Where(k => k.StartsWith("default:webservice:conjur/replication-sets/", StringComparison.Ordinal)).Select(PathOf).ToList();
        var groups = existing.Where(r => r.Kind is "group" or "layer" && r.Path.StartsWith("apps/", StringComparison.Ordinal)).ToList();
        var roll = random.NextDouble();
        var items = new List<GenItem>();
        if (roll < 0.5 || groups.Count == 0)
        {
            var set = Pick(sets);
            for (var i = random.Next(1, 3); i > 0; i--)
            {
                items.Add(new GenEdge(false, "layer", set + "/followers", "host", Pick(Followers)));
            }

            return new GenFile(set, PolicyMode.Load, items);
        }

        var branch = roll < 0.85 ? EnclosingPolicy(Pick(groups).Path) : "";
        var own = groups.Where(g => Within(branch, g.Path)).ToList();
        for (var i = random.Next(1, 3); i > 0; i--)
        {
            if (branch.Length == 0 && random.NextDouble() < 0.5)
            {
                items.Add(new GenEdge(false, "layer", Pick(sets) + "/followers", "host", Pick(Followers)));
            }
            else
            {
                var (kind, path) = Pick(own);
                items.Add(new GenEdge(false, kind, path, "group", Pick(sets) + "/replicated-data"));
            }
        }

        return new GenFile(branch.Length == 0 ? "root" : branch, PolicyMode.Load, items);
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

    /// <summary>
    /// A random grant or permit among the given records, about a record that <paramref name="scope"/> encloses (a
    /// grant's role, a permit's resource); its member or permitted role may be anywhere. Null when the scope holds
    /// nothing a statement can be about.
    /// </summary>
    private GenItem? Statement(List<(string Kind, string Path)> records, string scope)
    {
        var grantees = records.Where(r => r.Kind is "group" or "layer").ToList();
        var roles = grantees.Where(r => Within(scope, r.Path)).ToList();
        var members = records.Where(r => r.Kind is "group" or "layer" or "host").ToList();
        var variables = records.Where(r => r.Kind == "variable" && Within(scope, r.Path)).ToList();
        var sets = records.Where(r => r.Kind == "webservice" && Within(scope, r.Path)).ToList();
        var roll = random.NextDouble();
        GenItem Grant()
        {
            var role = Pick(roles);
            var member = Pick(members.Where(m => m != role).ToList());
            return new GenEdge(false, role.Kind, role.Path, member.Kind, member.Path);
        }

        GenItem Permit()
        {
            var role = Pick(grantees);
            var privileges = Privileges.Where(_ => random.NextDouble() < 0.5).ToArray();
            var targets = Sample(variables, random.Next(1, 3)).Select(v => v.Path).ToArray();
            return new GenPermission(false, role.Kind, role.Path, privileges.Length == 0 ? ["execute"] : privileges, "variable", targets);
        }

        var canGrant = roles.Count > 0 && members.Count > 1;
        var canPermit = grantees.Count > 0 && variables.Count > 0;
        if (roll < 0.45 && canGrant)
        {
            return Grant();
        }

        if (roll < 0.9 && canPermit)
        {
            return Permit();
        }

        if (sets.Count > 0)
        {
            var grantee = Pick(members);
            return new GenPermission(false, grantee.Kind, grantee.Path, ["replicate"], "webservice", [Pick(sets).Path]);
        }

        return canGrant ? Grant() : canPermit ? Permit() : null;
    }

    /// <summary>True if the policy at <paramref name="scope"/> ("" for root) encloses <paramref name="path"/> (or is it).</summary>
    private static bool Within(string scope, string path) =>
        scope.Length == 0 || path == scope || path.StartsWith(scope + "/", StringComparison.Ordinal);

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
