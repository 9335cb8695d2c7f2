using System.Text.RegularExpressions;
using PartialReplica.Conjur;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PartialReplica.Policies;

/// <summary>
/// Reads Conjur policy YAML into a <see cref="PolicyDocument"/>. Uses YamlDotNet's representation model,
/// which resolves anchors and aliases and keeps each node's line and column for error messages.
/// Existence of referenced records is checked by the loader (it needs the database).
/// </summary>
public static partial class PolicyParser
{
    /// <summary>Parses <paramref name="text"/> (named <paramref name="file"/> in errors) for loading into <paramref name="branch"/>.</summary>
    public static PolicyDocument Parse(string text, string file, string account, string branch)
    {
        ArgumentNullException.ThrowIfNull(text);
        var scope = PolicyScope.ForBranch(account, branch);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var inner = e.InnerException is YamlException i ? i.Message : e.Message;
            throw PolicyErrors.At(new SourceMark(file, e.Start.Line, e.Start.Column), "malformed YAML: " + inner);
        }

        var builder = new Builder(file);
        if (stream.Documents.Count > 1)
        {
            throw PolicyErrors.At(builder.Mark(stream.Documents[1].RootNode), "a policy file holds one YAML document");
        }

        if (stream.Documents.Count == 1)
        {
            builder.Body(stream.Documents[0].RootNode, scope);
        }

        return new PolicyDocument(scope.PolicyId, builder.Records, builder.Memberships, builder.Permissions, builder.Deletions);
    }

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex PrivilegePattern();

    private sealed class Builder(string file)
    {
        public List<PolicyRecord> Records { get; } = [];
        public List<PolicyMembership> Memberships { get; } = [];
        public List<PolicyPermission> Permissions { get; } = [];
        public List<PolicyDeletion> Deletions { get; } = [];

        public SourceMark Mark(YamlNode node) => new(file, node.Start.Line, node.Start.Column);

        public void Body(YamlNode node, PolicyScope scope)
        {
            if (node is YamlScalarNode { Tag.IsEmpty: true } empty && string.IsNullOrEmpty(empty.Value))
            {
                return;
            }

            if (node is not YamlSequenceNode sequence || !node.Tag.IsEmpty)
            {
                throw PolicyErrors.At(Mark(node), "a policy body is a list of records and statements");
            }

            foreach (var item in sequence.Children)
            {
                Statement(item, scope);
            }
        }

        private void Statement(YamlNode node, PolicyScope scope)
        {
            // A nested plain list (often an anchored one, `- &vars [...]`) contributes its items.
            if (node is YamlSequenceNode { Tag.IsEmpty: true } nested)
            {
                foreach (var item in nested.Children)
                {
                    Statement(item, scope);
                }

                return;
            }

            var tag = node.Tag.IsEmpty ? null : node.Tag.Value;
            if (tag is null)
            {
                throw PolicyErrors.At(Mark(node), "expected a tagged record or statement (!policy, !variable, !grant, ...)");
            }

            if (PolicyKinds.RecordTags.TryGetValue(tag, out var kind))
            {
                Record(node, kind, scope);
                return;
            }

            switch (tag)
            {
                case "!grant" or "!revoke":
                    Membership(node, scope, revoke: tag == "!revoke");
                    break;
                case "!permit" or "!deny":
                    Permission(node, scope, deny: tag == "!deny");
                    break;
                case "!delete":
                    var fields = Fields(node, tag, "record");
                    Deletions.Add(new PolicyDeletion(Reference(Required(fields, node, "record"), scope, anyKind: true), Mark(node)));
                    break;
                default:
                    throw PolicyErrors.At(Mark(node), $"unknown tag {tag}");
            }
        }

        private void Record(YamlNode node, string kind, PolicyScope scope)
        {
            string? id;
            Dictionary<string, YamlNode> fields;
            if (node is YamlScalarNode scalar)
            {
                id = scalar.Value;
                fields = [];
            }
            else
            {
                var allowed = kind switch
                {
                    "policy" => new[] { "id", "owner", "annotations", "body" },
                    "user" or "host" => ["id", "owner", "annotations", "restricted_to"],
                    "variable" => ["id", "owner", "annotations", "kind", "mime_type"],
                    "host_factory" => ["id", "owner", "annotations", "layers"],
                    _ => ["id", "owner", "annotations"],
                };
                fields = Fields(node, node.Tag.Value, allowed);
                id = fields.TryGetValue("id", out var idNode) ? Scalar(idNode, "id") : null;
            }

            if (kind == "policy" && string.IsNullOrEmpty(id))
            {
                throw PolicyErrors.At(Mark(node), "missing id for !policy");
            }

            var fullId = scope.Resolve(kind, id, Mark(node));
            var owner = fields.TryGetValue("owner", out var ownerNode)
                ? Reference(ownerNode, scope, anyKind: false)
                : new PolicyReference(scope.PolicyId, Mark(node));

            var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
            if (fields.TryGetValue("annotations", out var annotationsNode))
            {
                if (annotationsNode is not YamlMappingNode map)
                {
                    throw PolicyErrors.At(Mark(annotationsNode), "annotations must be a mapping of names to values");
                }

                foreach (var (key, value) in map.Children)
                {
                    annotations[Scalar(key, "annotation name")] = Scalar(value, "annotation value");
                }
            }

            // Conjur keeps a variable's kind and mime type as annotations.
            if (fields.TryGetValue("kind", out var variableKind))
            {
                annotations["conjur/kind"] = Scalar(variableKind, "kind");
            }

            if (fields.TryGetValue("mime_type", out var mimeType))
            {
                annotations["conjur/mime_type"] = Scalar(mimeType, "mime_type");
            }

            var restrictedTo = new List<string>();
            if (fields.TryGetValue("restricted_to", out var restricted))
            {
                foreach (var cidr in Items(restricted))
                {
                    var value = Scalar(cidr, "restricted_to");
                    if (!System.Net.IPNetwork.TryParse(value, out _) && !System.Net.IPAddress.TryParse(value, out _))
                    {
                        throw PolicyErrors.At(Mark(cidr), $"restricted_to: '{value}' is not an IP address or CIDR range");
                    }

                    restrictedTo.Add(value);
                }
            }

            Records.Add(new PolicyRecord(fullId, owner, scope.PolicyId, annotations, restrictedTo, Mark(node)));

            if (fields.TryGetValue("layers", out var layers))
            {
                // As Conjur: a host factory is a member of the layers its hosts join.
                foreach (var layer in Items(layers))
                {
                    var layerRef = Reference(layer, scope, anyKind: false);
                    Memberships.Add(new PolicyMembership(layerRef, new PolicyReference(fullId, Mark(node)), scope.PolicyId, false, Mark(layer)));
                }
            }

            if (kind == "policy" && fields.TryGetValue("body", out var body))
            {
                Body(body, scope.Enter(fullId.Identifier));
            }
        }

        private void Membership(YamlNode node, PolicyScope scope, bool revoke)
        {
            var fields = Fields(node, node.Tag.Value, "role", "roles", "member", "members");
            var roles = Plural(fields, node, "role", "roles").Select(r => Reference(r, scope, anyKind: false)).ToList();
            var members = Plural(fields, node, "member", "members").Select(m => Reference(m, scope, anyKind: false)).ToList();
            foreach (var role in roles)
            {
                foreach (var member in members)
                {
                    Memberships.Add(new PolicyMembership(role, member, scope.PolicyId, revoke, Mark(node)));
                }
            }
        }

        private void Permission(YamlNode node, PolicyScope scope, bool deny)
        {
            var fields = Fields(node, node.Tag.Value, "role", "roles", "privilege", "privileges", "resource", "resources");
            var roles = Plural(fields, node, "role", "roles").Select(r => Reference(r, scope, anyKind: false)).ToList();
            var resources = Plural(fields, node, "resource", "resources").Select(r => Reference(r, scope, anyKind: true)).ToList();
            var privilegeNodes = Plural(fields, node, "privilege", "privileges");
            var privileges = new List<string>();
            foreach (var p in privilegeNodes)
            {
                var privilege = p is YamlScalarNode { Tag.IsEmpty: true } s ? s.Value : null;
                if (privilege is null || !PrivilegePattern().IsMatch(privilege))
                {
                    throw PolicyErrors.At(Mark(p), "bad privilege list: each privilege is a plain word such as read, execute, update or replicate");
                }

                privileges.Add(privilege);
            }

            foreach (var role in roles)
            {
                foreach (var privilege in privileges.Distinct(StringComparer.Ordinal))
                {
                    foreach (var resource in resources)
                    {
                        Permissions.Add(new PolicyPermission(role, privilege, resource, scope.PolicyId, deny, Mark(node)));
                    }
                }
            }
        }

        private PolicyReference Reference(YamlNode node, PolicyScope scope, bool anyKind)
        {
            var tag = node.Tag.IsEmpty ? null : node.Tag.Value;
            if (tag is null || !PolicyKinds.RecordTags.TryGetValue(tag, out var kind))
            {
                throw PolicyErrors.At(Mark(node), tag is null
                    ? "expected a tagged reference such as !group admins"
                    : $"unknown tag {tag} in a reference");
            }

            if (!anyKind && !PolicyKinds.IsRoleKind(kind))
            {
                throw PolicyErrors.At(Mark(node), $"{tag} is not a role; only users, hosts, groups, layers, policies and host factories can be granted or permitted");
            }

            var id = node switch
            {
                YamlScalarNode scalar => scalar.Value,
                // An aliased record (`resources: *vars`) refers to it by id; its other attributes are its declaration.
                YamlMappingNode mapping => mapping.Children.TryGetValue(new YamlScalarNode("id"), out var idNode) ? Scalar(idNode, "id") : null,
                _ => throw PolicyErrors.At(Mark(node), "a reference is a tagged id such as !variable db/password"),
            };
            return new PolicyReference(scope.Resolve(kind, id, Mark(node)), Mark(node));
        }

        private List<YamlNode> Plural(Dictionary<string, YamlNode> fields, YamlNode node, string one, string many)
        {
            var hasOne = fields.TryGetValue(one, out var single);
            var hasMany = fields.TryGetValue(many, out var list);
            if (hasOne && hasMany)
            {
                throw PolicyErrors.At(Mark(node), $"give either {one} or {many}, not both");
            }

            if (!hasOne && !hasMany)
            {
                throw PolicyErrors.At(Mark(node), one == "privilege"
                    ? "bad privilege list: missing privilege(s)"
                    : $"{node.Tag.Value} needs {one} (or {many})");
            }

            var items = Items((single ?? list)!);
            if (items.Count == 0)
            {
                throw PolicyErrors.At(Mark((single ?? list)!), one == "privilege" ? "bad privilege list: it is empty" : $"{many} is empty");
            }

            return items;
        }

        private static List<YamlNode> Items(YamlNode node) =>
            node is YamlSequenceNode sequence ? [.. sequence.Children] : [node];

        private YamlNode Required(Dictionary<string, YamlNode> fields, YamlNode node, string name) =>
            fields.TryGetValue(name, out var value) ? value : throw PolicyErrors.At(Mark(node), $"{node.Tag.Value} needs {name}");

        private Dictionary<string, YamlNode> Fields(YamlNode node, string tag, params string[] allowed)
        {
            if (node is not YamlMappingNode mapping)
            {
                throw PolicyErrors.At(Mark(node), $"{tag} takes a mapping with {string.Join(", ", allowed)}");
            }

            var fields = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            foreach (var (keyNode, value) in mapping.Children)
            {
                var key = Scalar(keyNode, "key");
                if (!allowed.Contains(key, StringComparer.Ordinal))
                {
                    throw PolicyErrors.At(Mark(keyNode), $"{tag} has no attribute '{key}' (expected {string.Join(", ", allowed)})");
                }

                if (!fields.TryAdd(key, value))
                {
                    throw PolicyErrors.At(Mark(keyNode), $"'{key}' is given twice");
                }
            }

            return fields;
        }

        private string Scalar(YamlNode node, string what) =>
            node is YamlScalarNode scalar ? scalar.Value ?? "" : throw PolicyErrors.At(Mark(node), $"{what} must be a plain value");
    }
}
