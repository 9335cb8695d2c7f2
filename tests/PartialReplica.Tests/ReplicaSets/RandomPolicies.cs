using System.Text;
using PartialReplica.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>One statement or record of a generated policy; paths are absolute identifiers.</summary>
internal abstract record GenItem;

internal sealed record GenRecord(string Kind, string? Name) : GenItem;

internal sealed record GenPolicy(string Name, List<GenItem> Body) : GenItem;

internal sealed record GenEdge(bool Revoke, string RoleKind, string Role, string MemberKind, string Member) : GenItem;

internal sealed record GenPermission(bool Deny, string RoleKind, string Role, string[] Privileges, string ResourceKind, string[] Resources) : GenItem;

internal sealed record GenDelete(string Kind, string Path) : GenItem;

/// <summary>A generated policy file: where it loads, how, and its items.</summary>
internal sealed record GenFile(string Branch, PolicyMode Mode, List<GenItem> Items)
{
    /// <summary>
    /// The file as YAML. A statement's subject (a grant's or revoke's role, a permit's or deny's resource, a deleted
    /// record) lies inside the body that states it and is written relative to it, as Conjur requires; a member or
    /// permitted role elsewhere climbs with <c>../</c> from a shared top-level branch, or is absolute.
    /// </summary>
    public string Render()
    {
        var builder = new StringBuilder();
        Render(builder, Items, Branch == "root" ? "" : Branch, 0);
        return builder.ToString();
    }

    /// <summary>
    /// What the loader must do with this file, applied to the model by Conjur's rules: every row the file states is
    /// written with the loaded branch as its policy, whatever sub-policy body it stands in.
    /// </summary>
    public void ApplyTo(GrantModel model)
    {
        var branch = GrantModel.PolicyId(Branch == "root" ? "" : Branch);
        var declared = new List<(string Id, string Owner)>();
        var grants = new List<(string Role, string Member)>();
        var permits = new List<(string Privilege, string Resource, string Role)>();
        var revokes = new List<(string, string)>();
        var denies = new List<(string, string, string)>();
        var deletes = new List<string>();
        Collect(Items, Branch == "root" ? "" : Branch);

        if (Mode == PolicyMode.Replace)
        {
            var keep = declared.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
            // Policies last: what a dropped policy owns is then gone already, or goes with it because that policy wrote it.
            foreach (var id in model.Records.Where(r => r.Value == branch && !keep.Contains(r.Key)).Select(r => r.Key)
                         .OrderBy(id => id.Contains(":policy:", StringComparison.Ordinal)).ToList())
            {
                model.Delete(id);
            }

            var keepGrants = grants.ToHashSet();
            foreach (var key in model.Memberships.Where(m => m.Value == branch && !keepGrants.Contains(m.Key)).Select(m => m.Key).ToList())
            {
                model.Memberships.Remove(key);
            }

            var keepPermits = permits.ToHashSet();
            foreach (var key in model.Permissions.Where(p => p.Value == branch && !keepPermits.Contains(p.Key)).Select(p => p.Key).ToList())
            {
                model.Permissions.Remove(key);
            }
        }

        // As Conjur: deletions, revokes and denies first, then what the file states.
        if (Mode != PolicyMode.Load)
        {
            deletes.ForEach(model.Delete);
            revokes.ForEach(r => model.Revoke(r.Item1, r.Item2, branch));
            denies.ForEach(d => model.Deny(d.Item1, d.Item2, d.Item3, branch));
        }

        declared.ForEach(d => model.Declare(d.Id, d.Owner, branch, Mode != PolicyMode.Load));
        grants.ForEach(g => model.Grant(g.Role, g.Member, branch));
        permits.ForEach(p => model.Permit(p.Privilege, p.Resource, p.Role, branch));

        void Collect(List<GenItem> items, string path)
        {
            // Records are owned by their enclosing policy; at root by the root policy's owner, the admin user.
            var owner = path.Length == 0 ? GrantModel.Admin : GrantModel.PolicyId(path);
            foreach (var item in items)
            {
                switch (item)
                {
                    case GenRecord r:
                        declared.Add((GrantModel.Id(r.Kind, r.Name is null ? path : Join(path, r.Name)), owner));
                        break;
                    case GenPolicy p:
                        declared.Add((GrantModel.Id("policy", Join(path, p.Name)), owner));
                        Collect(p.Body, Join(path, p.Name));
                        break;
                    case GenEdge e when e.Revoke:
                        revokes.Add((GrantModel.Id(e.RoleKind, e.Role), GrantModel.Id(e.MemberKind, e.Member)));
                        break;
                    case GenEdge e:
                        grants.Add((GrantModel.Id(e.RoleKind, e.Role), GrantModel.Id(e.MemberKind, e.Member)));
                        break;
                    case GenPermission p:
                        foreach (var privilege in p.Privileges)
                        {
                            foreach (var resource in p.Resources)
                            {
                                var key = (privilege, GrantModel.Id(p.ResourceKind, resource), GrantModel.Id(p.RoleKind, p.Role));
                                (p.Deny ? denies : permits).Add(key);
                            }
                        }

                        break;
                    case GenDelete d:
                        deletes.Add(GrantModel.Id(d.Kind, d.Path));
                        break;
                }
            }
        }
    }

    public static string Join(string path, string name) => path.Length == 0 ? name : path + "/" + name;

    private static void Render(StringBuilder builder, List<GenItem> items, string path, int indent)
    {
        var pad = new string(' ', indent);
        foreach (var item in items)
        {
            switch (item)
            {
                case GenRecord r:
                    builder.Append($"{pad}- !{r.Kind}{(r.Name is null ? "" : " " + r.Name)}\n");
                    break;
                case GenPolicy p:
                    builder.Append($"{pad}- !policy\n{pad}  id: {p.Name}\n{pad}  body:{(p.Body.Count == 0 ? " []" : "")}\n");
                    Render(builder, p.Body, Join(path, p.Name), indent + 2);
                    break;
                case GenEdge e:
                    builder.Append($"{pad}- !{(e.Revoke ? "revoke" : "grant")}\n");
                    builder.Append($"{pad}  role: {Subject(e.RoleKind, e.Role, path, true)}\n");
                    builder.Append($"{pad}  member: {Ref(e.MemberKind, e.Member, path)}\n");
                    break;
                case GenPermission p:
                    builder.Append($"{pad}- !{(p.Deny ? "deny" : "permit")}\n");
                    builder.Append($"{pad}  role: {Ref(p.RoleKind, p.Role, path)}\n");
                    builder.Append(p.Privileges.Length == 1
                        ? $"{pad}  privilege: {p.Privileges[0]}\n"
                        : $"{pad}  privileges: [{string.Join(", ", p.Privileges)}]\n");
                    builder.Append(p.Resources.Length == 1
                        ? $"{pad}  resource: {Subject(p.ResourceKind, p.Resources[0], path, true)}\n"
                        : $"{pad}  resources: [{string.Join(", ", p.Resources.Select(r => Subject(p.ResourceKind, r, path, false)))}]\n");
                    break;
                case GenDelete d:
                    builder.Append($"{pad}- !delete\n{pad}  record: {Subject(d.Kind, d.Path, path, true)}\n");
                    break;
            }
        }
    }

    /// <summary>A statement's subject: relative to the body, or the body's own id as an empty reference.</summary>
    private static string Subject(string kind, string target, string path, bool allowEmpty)
    {
        if (path.Length == 0)
        {
            return $"!{kind} {target}";
        }

        if (allowEmpty && target == path)
        {
            return $"!{kind}";
        }

        return target.StartsWith(path + "/", StringComparison.Ordinal)
            ? $"!{kind} {target[(path.Length + 1)..]}"
            : throw new InvalidOperationException($"generated a statement about {kind} {target} in the body of {path}, which does not enclose it");
    }

    /// <summary>
    /// A member or permitted role: relative inside the body, the body's own id as an empty reference, <c>../</c> up to
    /// the first branch the two share, absolute when they share none.
    /// </summary>
    private static string Ref(string kind, string target, string path)
    {
        if (path.Length == 0)
        {
            return $"!{kind} {target}";
        }

        if (target == path)
        {
            return $"!{kind}";
        }

        if (target.StartsWith(path + "/", StringComparison.Ordinal))
        {
            return $"!{kind} {target[(path.Length + 1)..]}";
        }

        var from = path.Split('/');
        var to = target.Split('/');
        var shared = 0;
        while (shared < from.Length && shared < to.Length - 1 && from[shared] == to[shared])
        {
            shared++;
        }

        return shared == 0
            ? $"!{kind} /{target}"
            : $"!{kind} {string.Concat(Enumerable.Repeat("../", from.Length - shared))}{string.Join('/', to[shared..])}";
    }
}
