using System.Text.RegularExpressions;
using PartialReplica.Conjur;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PartialReplica.Policies;

/// <summary>
/// Reads Conjur policy YAML into a <see cref="PolicyDocument"/> with Conjur's resolver rules. The text is first
/// measured by <see cref="PolicyYamlGuard"/> (nesting, aliases, expansion); YamlDotNet's representation model then
/// shares each anchored node with its aliases, so a record reached through an alias is the record declared at its
/// anchor: it keeps the id its declaring policy gave it and is declared once (Conjur skips records it has seen).
/// Existence of referenced records is checked by the loader (it needs the database).
/// </summary>
internal static partial class PolicyParser
{
    /// <summary>Parses <paramref name="text"/> (named <paramref name="file"/> in errors) for loading into <paramref name="branch"/>.</summary>
    public static PolicyDocument Parse(string text, string file, string account, string branch)
    {
        ArgumentNullException.ThrowIfNull(text);
        var scope = PolicyScope.ForBranch(account, branch);
        PolicyYamlGuard.Check(text, file);
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

        var builder = new Builder(file, scope.PolicyId);
        if (stream.Documents.Count > 1)
        {
            throw PolicyErrors.At(builder.Mark(stream.Documents[1].RootNode), "a policy file holds one YAML document");
        }

        if (stream.Documents.Count == 1)
        {
            builder.Body(stream.Documents[0].RootNode, scope);
        }

        return new PolicyDocument(scope.PolicyId, builder.Records, builder.Memberships, builder.Permissions, builder.Deletions)
        {
            PublicKeys = builder.KeyValues,
        };
    }

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex PrivilegePattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    private static partial Regex CustomKindPattern();

    private sealed partial class Builder(string file, ConjurId branch)
    {
        // Nodes already taken as statements, and the id each record node resolved to where it was first met.
        private readonly HashSet<YamlNode> _visited = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<YamlNode, ConjurId> _resolved = new(ReferenceEqualityComparer.Instance);

        public List<PolicyRecord> Records { get; } = [];
        public List<PolicyMembership> Memberships { get; } = [];
        public List<PolicyPermission> Permissions { get; } = [];
        public List<PolicyDeletion> Deletions { get; } = [];
        public List<PolicyPublicKey> KeyValues { get; } = [];

        public SourceMark Mark(YamlNode node) => new(file, node.Start.Line, node.Start.Column);

        public void Body(YamlNode node, PolicyScope scope)
        {
            // `---` alone, or `body:` with nothing after it.
            if (node is YamlScalarNode { Tag.IsEmpty: true, Style: ScalarStyle.Plain } empty && IsNull(empty))
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
            if (!_visited.Add(node))
            {
                return;
            }

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

            if (PolicyKinds.RecordTags.TryGetValue(tag, out var kind) || PolicyKinds.IsCustomKindTag(tag))
            {
                Record(node, tag, kind, scope);
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
                    Deletions.Add(new PolicyDeletion(Reference(Required(fields, node, "record"), scope, Want.Any, IdPlace.Subject, "a !delete's record"), Mark(node)));
                    break;
                default:
                    throw PolicyErrors.At(Mark(node), $"unknown tag {tag}");
            }
        }

        private void Record(YamlNode node, string tag, string? kind, PolicyScope scope)
        {
            Dictionary<string, YamlNode> fields = [];
            string? id;
            if (node is YamlScalarNode scalar && kind is not null)
            {
                id = scalar.Value;
            }
            else
            {
                fields = Fields(node, tag, AllowedFields(tag, kind));
                id = fields.TryGetValue("id", out var idNode) ? Id(idNode) : null;
                kind ??= CustomKind(fields, node, tag);
            }

            if (kind == "policy" && string.IsNullOrEmpty(id))
            {
                throw PolicyErrors.At(Mark(node), "missing id for !policy");
            }

            var fullId = _resolved.TryGetValue(node, out var known) ? known : scope.Resolve(kind, id, Mark(node), IdPlace.Declaration);
            _resolved[node] = fullId;
            var ownedByBranchOwner = !fields.ContainsKey("owner") && scope.Path.Length == 0;
            var owner = fields.TryGetValue("owner", out var ownerNode)
                ? Reference(ownerNode, scope, Want.Role, IdPlace.RoleReference)
                : new PolicyReference(scope.PolicyId, Mark(node));

            var annotations = Annotations(fields, tag);
            var restrictedTo = fields.TryGetValue("restricted_to", out var restricted) ? Cidrs(restricted) : [];
            Records.Add(new PolicyRecord(fullId, owner, branch, annotations, restrictedTo, Mark(node))
            {
                IsRole = tag == "!role" || (tag != "!resource" && PolicyKinds.IsRoleKind(kind)),
                IsResource = tag != "!role",
                OwnedByBranchOwner = ownedByBranchOwner && tag != "!role",
            });

            if (kind == "host_factory")
            {
                HostFactoryLayers(node, fields, fullId, scope);
            }

            if (kind == "user")
            {
                PublicKeys(fields, fullId, owner, ownedByBranchOwner);
            }

            if (kind == "policy" && fields.TryGetValue("body", out var body))
            {
                Body(body, scope.Enter(fullId.Identifier));
            }
        }

        private static string[] AllowedFields(string tag, string? kind) => tag switch
        {
            "!resource" => ["id", "kind", "owner", "annotations"],
            "!role" => ["id", "kind"],
            _ => kind switch
            {
                "policy" => ["id", "owner", "annotations", "body"],
                "user" => ["id", "owner", "annotations", "uidnumber", "public_key", "public_keys", "restricted_to"],
                "host" => ["id", "owner", "annotations", "restricted_to"],
                "group" => ["id", "owner", "annotations", "gidnumber"],
                "variable" => ["id", "owner", "annotations", "kind", "mime_type"],
                "host_factory" => ["id", "owner", "annotations", "layer", "layers"],
                _ => ["id", "owner", "annotations"],
            },
        };

        private string CustomKind(Dictionary<string, YamlNode> fields, YamlNode node, string tag)
        {
            var kind = fields.TryGetValue("kind", out var kindNode) ? Scalar(kindNode, "kind") : null;
            if (kind is null || !CustomKindPattern().IsMatch(kind))
            {
                throw PolicyErrors.At(kindNode is null ? Mark(node) : Mark(kindNode), $"{tag} needs a kind: a word such as database or department");
            }

            return kind;
        }

        private Dictionary<string, string> Annotations(Dictionary<string, YamlNode> fields, string tag)
        {
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

            // Conjur keeps these attributes as annotations; an explicit annotation of the same name wins.
            if (tag == "!variable")
            {
                foreach (var (field, name) in new[] { ("kind", "conjur/kind"), ("mime_type", "conjur/mime_type") })
                {
                    if (fields.TryGetValue(field, out var value))
                    {
                        annotations.TryAdd(name, Scalar(value, field));
                    }
                }
            }

            foreach (var (field, name) in new[] { ("uidnumber", "conjur/uidnumber"), ("gidnumber", "conjur/gidnumber") })
            {
                if (fields.TryGetValue(field, out var value))
                {
                    annotations.TryAdd(name, Integer(value, field));
                }
            }

            return annotations;
        }
    }
}
