using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Protocol;

namespace PartialReplica.Tests.Hostile;

/// <summary>
/// Seeded mutations of valid push batches, in the binary form and in JSON: what a fuzzer with a valid token would send.
/// Each mutation says what it did, so a failure names it beside the seed.
/// </summary>
internal sealed class BatchMutator(Random random)
{
    private static readonly byte[] LoneSurrogate = [0xED, 0xA0, 0x80];
    private static readonly int[] Lengths = [-1, -2, 0, 1, 7, int.MaxValue, int.MinValue, 0x7FFF_FFF0, 1 << 20, 1 << 30];

    public (byte[] Body, string What) Binary(PushBatch batch)
    {
        using var writer = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, writer);
        var bytes = writer.WrittenSpan.ToArray();
        var what = new List<string>();
        for (var n = random.Next(1, 4); n > 0 && bytes.Length > 0; n--)
        {
            switch (random.Next(7))
            {
                case 0:
                    var bit = random.Next(bytes.Length * 8);
                    bytes[bit / 8] ^= (byte)(1 << (bit % 8));
                    what.Add($"flip bit {bit}");
                    break;
                case 1:
                    var cut = random.Next(bytes.Length);
                    bytes = bytes[..cut];
                    what.Add($"truncate to {cut}");
                    break;
                case 2 when bytes.Length >= 4:
                    var at = random.Next(bytes.Length - 3);
                    var length = random.Next(2) == 0 ? Lengths[random.Next(Lengths.Length)] : random.Next(-5, bytes.Length * 2);
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), length);
                    what.Add($"int32 {length} at {at}");
                    break;
                case 3:
                    var nul = random.Next(bytes.Length);
                    bytes[nul] = 0;
                    what.Add($"NUL at {nul}");
                    break;
                case 4:
                    var insert = random.Next(bytes.Length + 1);
                    var extra = new byte[random.Next(1, 9)];
                    random.NextBytes(extra);
                    bytes = [.. bytes[..insert], .. extra, .. bytes[insert..]];
                    what.Add($"insert {extra.Length} bytes at {insert}");
                    break;
                case 5:
                    var from = random.Next(bytes.Length);
                    var count = random.Next(1, Math.Min(32, bytes.Length - from) + 1);
                    bytes = [.. bytes[..(from + count)], .. bytes[from..(from + count)], .. bytes[(from + count)..]];
                    what.Add($"repeat {count} bytes at {from}");
                    break;
                default:
                    // A lone surrogate encoded as UTF-8 (ED A0 80) over some bytes: not UTF-8.
                    var place = random.Next(Math.Max(1, bytes.Length - 2));
                    LoneSurrogate.AsSpan(0, Math.Min(3, bytes.Length - place)).CopyTo(bytes.AsSpan(place));
                    what.Add($"ED A0 80 at {place}");
                    break;
            }
        }

        return (bytes, "binary: " + string.Join(", ", what));
    }

    public (byte[] Body, string What) Json(PushBatch batch)
    {
        var root = JsonSerializer.SerializeToNode(batch, HttpBatchSender.Json)!.AsObject();
        var what = new List<string>();
        for (var n = random.Next(1, 3); n > 0; n--)
        {
            var nodes = Descendants(root).ToList();
            var (parent, key, index) = nodes[random.Next(nodes.Count)];
            switch (random.Next(9))
            {
                case 0 when key is not null:
                    parent.AsObject().Remove(key);
                    what.Add($"delete {key}");
                    break;
                case 1:
                    Set(parent, key, index, null);
                    what.Add($"null at {key ?? index.ToString()}");
                    break;
                case 2:
                    Set(parent, key, index, JsonValue.Create("a\0b"));
                    what.Add($"NUL string at {key ?? index.ToString()}");
                    break;
                case 3:
                    Set(parent, key, index, JsonValue.Create(random.Next(2) == 0 ? 99999999999m * 99999999999m : -1));
                    what.Add($"number at {key ?? index.ToString()}");
                    break;
                case 4:
                    Set(parent, key, index, new JsonArray(JsonValue.Create("x"), null));
                    what.Add($"array at {key ?? index.ToString()}");
                    break;
                case 5:
                    Set(parent, key, index, JsonValue.Create("2030-01-01T00:00:00"));
                    what.Add($"local date at {key ?? index.ToString()}");
                    break;
                case 6 when FirstVersions(root) is { Count: > 0 } versions:
                    versions.Add(versions[0]!.DeepClone());
                    what.Add("repeat a version");
                    break;
                case 7:
                    Set(parent, key, index, JsonValue.Create("not base64 ***"));
                    what.Add($"bad base64 at {key ?? index.ToString()}");
                    break;
            }
        }

        var text = root.ToJsonString();
        switch (random.Next(5))
        {
            case 0:
                // A duplicated key, and a lone surrogate escape.
                text = "{\"batchId\":\"dup\"," + text[1..].Replace("\"gateway\":\"", "\"gateway\":\"\\ud800", StringComparison.Ordinal);
                what.Add("duplicate batchId, lone surrogate in gateway");
                break;
            case 1:
                var cut = random.Next(text.Length);
                text = text[..cut];
                what.Add($"text cut at {cut}");
                break;
            case 2:
                var at = random.Next(text.Length);
                text = text[..at] + (char)random.Next(0x20, 0x7F) + text[(at + 1)..];
                what.Add($"character at {at}");
                break;
        }

        return (Encoding.UTF8.GetBytes(text), "json: " + string.Join(", ", what));
    }

    private static IEnumerable<(JsonNode Parent, string? Key, int Index)> Descendants(JsonNode node)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, child) in obj.ToList())
            {
                yield return (obj, key, -1);
                if (child is not null)
                {
                    foreach (var inner in Descendants(child))
                    {
                        yield return inner;
                    }
                }
            }
        }
        else if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                yield return (array, null, i);
                if (array[i] is { } child)
                {
                    foreach (var inner in Descendants(child))
                    {
                        yield return inner;
                    }
                }
            }
        }
    }

    private static JsonArray? FirstVersions(JsonObject root) =>
        root["variables"] is JsonArray { Count: > 0 } variables && variables[0] is JsonObject first ? first["versions"] as JsonArray : null;

    private static void Set(JsonNode parent, string? key, int index, JsonNode? value)
    {
        if (key is not null)
        {
            parent.AsObject()[key] = value;
        }
        else
        {
            parent.AsArray()[index] = value;
        }
    }
}
