using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace PartialReplica.Policies;

/// <summary>
/// Walks a policy's YAML events once, before any tree is built, and refuses what would cost more than the text's size
/// warrants: nesting deeper than <see cref="PolicyLimits.MaxDepth"/> (the tree builder recurses per level), aliases to
/// unknown or enclosing anchors, and alias expansion past <see cref="PolicyLimits.MinExpandedNodes"/> or
/// <see cref="PolicyLimits.MaxExpansionFactor"/> times the document (a "billion laughs"). The walk itself never
/// expands an alias: each anchor's expanded size is a number, so a bomb is measured in time linear in its text.
/// </summary>
internal static class PolicyYamlGuard
{
    public static void Check(string text, string file)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, long>(StringComparer.Ordinal);
        var open = new Stack<(string? Anchor, long Size)>();
        long nodes = 0, expanded = 0;
        try
        {
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                switch (current)
                {
                    case AnchorAlias alias:
                        var name = alias.Value.Value;
                        if (open.Any(f => f.Anchor == name))
                        {
                            throw PolicyErrors.At(Mark(file, alias), $"alias *{name} refers to a node that contains it (a recursive structure)");
                        }

                        if (!anchors.TryGetValue(name, out var size))
                        {
                            throw PolicyErrors.At(Mark(file, alias), $"alias *{name} refers to no anchor &{name} before it");
                        }

                        nodes++;
                        expanded = Saturate(expanded + size);
                        var limit = Math.Max(PolicyLimits.MinExpandedNodes, PolicyLimits.MaxExpansionFactor * nodes);
                        if (expanded > limit)
                        {
                            throw PolicyErrors.At(Mark(file, alias),
                                $"YAML aliases expand this policy past {limit} nodes (the limit is {PolicyLimits.MaxExpansionFactor} times the document's own nodes, at least {PolicyLimits.MinExpandedNodes})");
                        }

                        AddToParent(open, size);
                        break;
                    case Scalar scalar:
                        nodes++;
                        expanded = Saturate(expanded + 1);
                        Register(anchors, scalar, 1);
                        AddToParent(open, 1);
                        break;
                    case NodeEvent start when start is SequenceStart or MappingStart:
                        if (open.Count >= PolicyLimits.MaxDepth)
                        {
                            throw PolicyErrors.At(Mark(file, start), $"the policy nests deeper than {PolicyLimits.MaxDepth} levels of YAML lists and mappings");
                        }

                        nodes++;
                        expanded = Saturate(expanded + 1);
                        open.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, 1));
                        break;
                    case SequenceEnd or MappingEnd:
                        var (anchor, total) = open.Pop();
                        if (anchor is not null)
                        {
                            anchors[anchor] = total;
                        }

                        AddToParent(open, total);
                        break;
                }
            }
        }
        catch (YamlException e)
        {
            var inner = e.InnerException is YamlException i ? i.Message : e.Message;
            throw PolicyErrors.At(new SourceMark(file, e.Start.Line, e.Start.Column), "malformed YAML: " + inner);
        }
    }

    private static void Register(Dictionary<string, long> anchors, NodeEvent node, long size)
    {
        if (!node.Anchor.IsEmpty)
        {
            anchors[node.Anchor.Value] = size;
        }
    }

    private static void AddToParent(Stack<(string? Anchor, long Size)> open, long size)
    {
        if (open.Count > 0)
        {
            var (anchor, total) = open.Pop();
            open.Push((anchor, Saturate(total + size)));
        }
    }

    private static long Saturate(long value) => value < 0 || value > long.MaxValue / 4 ? long.MaxValue / 4 : value;

    private static SourceMark Mark(string file, ParsingEvent e) => new(file, e.Start.Line, e.Start.Column);
}
