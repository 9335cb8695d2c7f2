using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using PartialReplica.Conjur;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PartialReplica.Policies;

internal static partial class PolicyParser
{
    /// <summary>What a reference must be.</summary>
    private enum Want
    {
        Any,
        Role,
        Layer,
    }

    [GeneratedRegex(@"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")]
    private static partial Regex NullOrBooleanPattern();

    [GeneratedRegex(@"^(?:[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+)|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")]
    private static partial Regex NumberPattern();

    private sealed partial class Builder
    {
        private void Membership(YamlNode node, PolicyScope scope, bool revoke)
        {
            var fields = Fields(node, node.Tag.Value, "role", "roles", "member", "members");
            var roles = Plural(fields, node, "role", "roles").Select(r => Reference(r, scope, Want.Role, IdPlace.Subject, $"a {node.Tag.Value}'s role")).ToList();
            var members = Plural(fields, node, "member", "members").Select(m => Member(m, scope)).ToList();
            foreach (var role in roles)
            {
                foreach (var (member, admin) in members)
                {
                    Memberships.Add(new PolicyMembership(role, member, branch, revoke, Mark(node)) { Admin = admin && !revoke });
                }
            }
        }

        /// <summary>A member: a role reference, or <c>!member</c> (or an untagged mapping) with <c>role</c> and <c>admin</c>.</summary>
        private (PolicyReference Role, bool Admin) Member(YamlNode node, PolicyScope scope)
        {
            if (node is YamlMappingNode && (node.Tag.IsEmpty || node.Tag.Value == "!member"))
            {
                var fields = Fields(node, "!member", "role", "admin");
                var role = Reference(Required(fields, node, "role"), scope, Want.Role, IdPlace.RoleReference);
                return (role, fields.TryGetValue("admin", out var admin) && Boolean(admin, "admin"));
            }

            return (Reference(node, scope, Want.Role, IdPlace.RoleReference), false);
        }

        private void Permission(YamlNode node, PolicyScope scope, bool deny)
        {
            var fields = Fields(node, node.Tag.Value, "role", "roles", "privilege", "privileges", "resource", "resources");
            var roles = Plural(fields, node, "role", "roles").Select(r => Reference(r, scope, Want.Role, IdPlace.RoleReference)).ToList();
            var resources = Plural(fields, node, "resource", "resources").Select(r => Reference(r, scope, Want.Any, IdPlace.Subject, $"a {node.Tag.Value}'s resource")).ToList();
            var privileges = new List<string>();
            foreach (var p in Plural(fields, node, "privilege", "privileges"))
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
                        Permissions.Add(new PolicyPermission(role, privilege, resource, branch, deny, Mark(node)));
                    }
                }
            }
        }

        /// <summary>As Conjur: a host factory is a member of the layers its hosts join, and it must name at least one.</summary>
        private void HostFactoryLayers(YamlNode node, Dictionary<string, YamlNode> fields, ConjurId factory, PolicyScope scope)
        {
            if (fields.ContainsKey("layer") && fields.ContainsKey("layers"))
            {
                throw PolicyErrors.At(Mark(node), "give either layer or layers, not both");
            }

            var layers = fields.TryGetValue("layer", out var one) ? Items(one) : fields.TryGetValue("layers", out var many) ? Items(many) : [];
            if (layers.Count == 0)
            {
                throw PolicyErrors.At(Mark(node), $"Host factory '{factory.Identifier}' does not include any layers");
            }

            foreach (var layer in layers)
            {
                var layerRef = Reference(layer, scope, Want.Layer, IdPlace.Subject, "a host factory's layer");
                Memberships.Add(new PolicyMembership(layerRef, new PolicyReference(factory, Mark(node)), branch, false, Mark(layer)));
            }
        }

        /// <summary>
        /// As Conjur's loader: each public key of a user is a resource <c>public_key:user/&lt;user id&gt;/&lt;key name&gt;</c>,
        /// owned by the user's owner; the key name is the third field of the <c>authorized_keys</c> line. The key's value
        /// is kept for the loader to store as the resource's secret.
        /// </summary>
        private void PublicKeys(Dictionary<string, YamlNode> fields, ConjurId user, PolicyReference owner, bool ownedByBranchOwner)
        {
            if (fields.ContainsKey("public_key") && fields.ContainsKey("public_keys"))
            {
                throw PolicyErrors.At(Mark(fields["public_keys"]), "give either public_key or public_keys, not both");
            }

            var keys = fields.TryGetValue("public_key", out var one) ? Items(one) : fields.TryGetValue("public_keys", out var many) ? Items(many) : [];
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var keyNode in keys)
            {
                var value = Scalar(keyNode, "public key");
                var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length != 3)
                {
                    throw PolicyErrors.At(Mark(keyNode), "Invalid public key format: expected '<algorithm> <key> <name>'");
                }

                var id = new ConjurId(user.Account, "public_key", $"user/{user.Identifier}/{parts[2]}");
                KeyValues.Add(new PolicyPublicKey(id, value.Trim(), Mark(keyNode)));
                if (seen.Add(id.ToString()))
                {
                    Records.Add(new PolicyRecord(id, owner, branch, new Dictionary<string, string>(), [], Mark(keyNode))
                    {
                        IsRole = false,
                        OwnedByBranchOwner = ownedByBranchOwner,
                    });
                }
            }
        }

        /// <summary>Conjur's CIDR rule: IPv4 only, and no bits set to the right of the mask.</summary>
        private List<string> Cidrs(YamlNode node)
        {
            var result = new List<string>();
            foreach (var item in Items(node))
            {
                var value = Scalar(item, "restricted_to");
                var slash = value.IndexOf('/', StringComparison.Ordinal);
                var addressText = slash < 0 ? value : value[..slash];
                if (!IPAddress.TryParse(addressText, out var address) || addressText.Count(c => c == '.') != 3
                    || !IPNetwork.TryParse(slash < 0 ? value + "/32" : value, out var network))
                {
                    throw PolicyErrors.At(Mark(item), address?.AddressFamily == AddressFamily.InterNetworkV6
                        ? $"Invalid IP address or CIDR range '{value}': Address must be IPv4"
                        : $"Invalid IP address or CIDR range '{value}'");
                }

                if (!network.BaseAddress.Equals(address))
                {
                    throw PolicyErrors.At(Mark(item),
                        $"Invalid IP address or CIDR range '{value}': Value has bits set to right of mask. Did you mean '{network.BaseAddress}/{network.PrefixLength}'?");
                }

                result.Add(value);
            }

            return result;
        }

        private PolicyReference Reference(YamlNode node, PolicyScope scope, Want want, IdPlace place, string? subject = null)
        {
            var tag = node.Tag.IsEmpty ? null : node.Tag.Value;
            string? kind;
            if (tag is null && want == Want.Layer && node is YamlScalarNode)
            {
                // Conjur reads an untagged entry of `layers:` as a layer.
                kind = "layer";
            }
            else if (tag is not null && PolicyKinds.IsCustomKindTag(tag) && node is YamlMappingNode custom)
            {
                kind = CustomKind(Fields(custom, tag, AllowedFields(tag, null)), node, tag);
            }
            else if (tag is null || !PolicyKinds.RecordTags.TryGetValue(tag, out kind))
            {
                throw PolicyErrors.At(Mark(node), tag is null
                    ? "expected a tagged reference such as !group admins"
                    : $"unknown tag {tag} in a reference");
            }

            var isRole = tag == "!role" || (tag != "!resource" && PolicyKinds.IsRoleKind(kind));
            if (want == Want.Role && !isRole)
            {
                throw PolicyErrors.At(Mark(node), $"{tag} is not a role; only users, hosts, groups, layers, policies, host factories and !role records can be granted or permitted");
            }

            if (want == Want.Layer && kind != "layer")
            {
                throw PolicyErrors.At(Mark(node), $"Expected a Layer for field 'layers', got {tag}");
            }

            if (_resolved.TryGetValue(node, out var known))
            {
                return new PolicyReference(known, Mark(node));
            }

            var id = node switch
            {
                YamlScalarNode scalar => scalar.Value,
                // An aliased record (`resources: *vars`) refers to it by id; its other attributes are its declaration.
                YamlMappingNode mapping => mapping.Children.TryGetValue(new YamlScalarNode("id"), out var idNode) ? Id(idNode) : null,
                _ => throw PolicyErrors.At(Mark(node), "a reference is a tagged id such as !variable db/password"),
            };
            var resolved = scope.Resolve(kind, id, Mark(node), place, subject);
            _resolved[node] = resolved;
            return new PolicyReference(resolved, Mark(node));
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

        /// <summary>An id is a string: Conjur refuses a plain number, boolean or null (<c>id: 123</c>; quote it instead).</summary>
        private string? Id(YamlNode node)
        {
            if (node is not YamlScalarNode scalar)
            {
                throw PolicyErrors.At(Mark(node), $"Expected a string for field 'id', got a {(node is YamlSequenceNode ? "list" : "mapping")}");
            }

            if (scalar is { Tag.IsEmpty: true, Style: ScalarStyle.Plain })
            {
                var value = scalar.Value ?? "";
                if (value.Length == 0 || IsNull(scalar))
                {
                    return null;
                }

                var type = NumberPattern().IsMatch(value) ? "number" : NullOrBooleanPattern().IsMatch(value) ? "boolean" : null;
                if (type is not null)
                {
                    throw PolicyErrors.At(Mark(node), $"Expected a string for field 'id', got a {type} ({value}); quote it to use it as an id");
                }
            }

            return scalar.Value;
        }

        private string Integer(YamlNode node, string what)
        {
            var value = Scalar(node, what);
            return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                ? number.ToString(CultureInfo.InvariantCulture)
                : throw PolicyErrors.At(Mark(node), $"Expected an integer for field '{what}', got '{value}'");
        }

        private bool Boolean(YamlNode node, string what) => Scalar(node, what) switch
        {
            "true" => true,
            "false" => false,
            var other => throw PolicyErrors.At(Mark(node), $"Expected a boolean for field '{what}', got '{other}'"),
        };

        private static bool IsNull(YamlScalarNode node) => node.Value is null or "" or "~" or "null" or "Null" or "NULL";
    }
}
