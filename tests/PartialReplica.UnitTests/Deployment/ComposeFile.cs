using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace PartialReplica.UnitTests.Deployment;

/// <summary>The repository's docker-compose.yml, parsed (merge keys resolved, <c>${VAR:-default}</c> interpolated).</summary>
internal sealed partial class ComposeFile
{
    private ComposeFile(string root, YamlMappingNode document)
    {
        Root = root;
        Services = ((YamlMappingNode)document["services"]).Children
            .ToDictionary(s => ((YamlScalarNode)s.Key).Value!, s => new ComposeService(((YamlScalarNode)s.Key).Value!, (YamlMappingNode)s.Value), StringComparer.Ordinal);
    }

    /// <summary>The repository root (where docker-compose.yml and the Dockerfile are).</summary>
    public string Root { get; }

    public IReadOnlyDictionary<string, ComposeService> Services { get; }

    public static ComposeFile Load()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "docker-compose.yml")))
        {
            directory = directory.Parent;
        }

        Assert.True(directory is not null, "docker-compose.yml not found above " + AppContext.BaseDirectory);
        using var reader = new StringReader(File.ReadAllText(Path.Combine(directory.FullName, "docker-compose.yml")));
        var stream = new YamlStream();
        stream.Load(reader);
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        ResolveMerges(root);
        return new ComposeFile(directory.FullName, root);
    }

    /// <summary>
    /// YAML merge keys as compose reads them: keys written in the mapping win over merged ones (YamlDotNet's
    /// MergingParser reports those as duplicates).
    /// </summary>
    private static void ResolveMerges(YamlNode node)
    {
        if (node is YamlSequenceNode sequence)
        {
            foreach (var item in sequence)
            {
                ResolveMerges(item);
            }

            return;
        }

        if (node is not YamlMappingNode mapping)
        {
            return;
        }

        foreach (var child in mapping.Children.Values.ToList())
        {
            ResolveMerges(child);
        }

        var merge = new YamlScalarNode("<<");
        if (!mapping.Children.TryGetValue(merge, out var merged))
        {
            return;
        }

        mapping.Children.Remove(merge);
        var sources = merged is YamlSequenceNode many ? many.Cast<YamlMappingNode>() : [(YamlMappingNode)merged];
        foreach (var source in sources)
        {
            ResolveMerges(source);
            foreach (var (key, value) in source.Children)
            {
                if (!mapping.Children.ContainsKey(key))
                {
                    mapping.Children.Add(key, value);
                }
            }
        }
    }

    /// <summary>Compose's interpolation: <c>${V:-default}</c> gives the default, <c>${V:?error}</c> a placeholder the user must set.</summary>
    public static string Interpolate(string value) => Variable().Replace(value, m =>
        m.Groups["op"].Value switch
        {
            ":-" or "-" => m.Groups["arg"].Value,
            ":?" or "?" => "set-by-user",
            _ => "",
        });

    /// <summary>Variables the file takes from the user's environment.</summary>
    public static IEnumerable<string> VariablesIn(string value) => Variable().Matches(value).Select(m => m.Groups["name"].Value);

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?<op>:?[-?])(?<arg>[^}]*))?\}")]
    private static partial Regex Variable();
}

/// <summary>One service of the compose file.</summary>
internal sealed class ComposeService(string name, YamlMappingNode node)
{
    public string Name { get; } = name;

    public YamlMappingNode Node { get; } = node;

    public string? Image => Scalar("image");

    public bool IsBuilt => Node.Children.ContainsKey("build");

    public IReadOnlyList<string> Command => List("command").Select(ComposeFile.Interpolate).ToList();

    public IReadOnlyList<string> RawCommand => List("command");

    /// <summary>The healthcheck's test, joined.</summary>
    public string? HealthCheck => Node.Children.TryGetValue("healthcheck", out var check)
        ? string.Join(" ", ((YamlSequenceNode)((YamlMappingNode)check)["test"]).Select(n => ((YamlScalarNode)n).Value))
        : null;

    public IReadOnlyDictionary<string, string> Environment => Node.Children.TryGetValue("environment", out var env)
        ? ((YamlMappingNode)env).Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => ((YamlScalarNode)e.Value).Value ?? "", StringComparer.Ordinal)
        : new Dictionary<string, string>();

    public IReadOnlyList<string> Ports => List("ports");

    public IReadOnlyDictionary<string, string> DependsOn => Node.Children.TryGetValue("depends_on", out var deps)
        ? ((YamlMappingNode)deps).Children.ToDictionary(
            d => ((YamlScalarNode)d.Key).Value!, d => ((YamlScalarNode)((YamlMappingNode)d.Value)["condition"]).Value!, StringComparer.Ordinal)
        : new Dictionary<string, string>();

    /// <summary>The value after <paramref name="option"/> in the command, if any.</summary>
    public string? Option(string option)
    {
        var command = Command;
        var at = command.ToList().IndexOf(option);
        return at >= 0 && at + 1 < command.Count ? command[at + 1] : null;
    }

    public string? Scalar(string key) => Node.Children.TryGetValue(key, out var value) ? ((YamlScalarNode)value).Value : null;

    private List<string> List(string key) => Node.Children.TryGetValue(key, out var value)
        ? ((YamlSequenceNode)value).Select(n => ((YamlScalarNode)n).Value!).ToList()
        : [];
}
