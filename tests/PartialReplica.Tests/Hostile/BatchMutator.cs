using System.Buffers.Binary;
using PartialReplica.Protocol;

namespace PartialReplica.Tests.Hostile;

/// <summary>
/// Seeded mutations of valid push batches in the binary form (a field the agent must refuse, set before encoding, and
/// changes to the encoded bytes): what a fuzzer with a valid token would send. Each mutation says what it did, so a
/// failure names it beside the seed.
/// </summary>
internal sealed class BatchMutator(Random random)
{
    private static readonly byte[] LoneSurrogate = [0xED, 0xA0, 0x80];
    private static readonly int[] Lengths = [-1, -2, 0, 1, 7, int.MaxValue, int.MinValue, 0x7FFF_FFF0, 1 << 20, 1 << 30];

    public (byte[] Body, string What) Binary(PushBatch batch)
    {
        var what = new List<string>();
        batch = Field(batch, what);
        using var writer = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, writer);
        var bytes = writer.WrittenSpan.ToArray();
        for (var n = random.Next(what.Count == 0 ? 1 : 0, 4); n > 0 && bytes.Length > 0; n--)
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

    /// <summary>A field the codec carries but the agent's check refuses, set before encoding (about one batch in three).</summary>
    private PushBatch Field(PushBatch batch, List<string> what)
    {
        var first = batch.Variables.Count > 0 ? batch.Variables[0] : null;
        switch (random.Next(12))
        {
            case 0:
                what.Add("NUL in gateway");
                return batch with { Gateway = "fuzz\0gateway" };
            case 1:
                what.Add("negative sweep end");
                return batch with { SweepEnd = -1 - random.Next(1000) };
            case 2:
                what.Add("NUL in sweep bound");
                return batch with { SweepBefore = Math.Max(1, batch.SweepBefore), SweepThrough = "default:variable:fuzz/\0" };
            case 3 when first is not null:
                what.Add("negative stamp");
                return batch with { Variables = [first with { Stamp = -first.Stamp }, .. batch.Variables.Skip(1)] };
            case 4 when first is { Versions.Count: > 0 }:
                what.Add("repeat a version");
                return batch with { Variables = [first with { Versions = [.. first.Versions, first.Versions[0]] }, .. batch.Variables.Skip(1)] };
            case 5 when first is not null:
                what.Add("overlong id");
                return batch with { Variables = [first with { Id = first.Id + new string('x', CallerText.MaxIdBytes) }, .. batch.Variables.Skip(1)] };
            default:
                return batch;
        }
    }
}
