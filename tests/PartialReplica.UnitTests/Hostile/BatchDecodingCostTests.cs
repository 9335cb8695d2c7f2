using System.Buffers.Binary;
using PartialReplica.Protocol;

namespace PartialReplica.UnitTests.Hostile;

/// <summary>
/// Issue 23: decoding a pushed batch never allocates more than its body warrants. Every 4-byte window of a valid batch
/// is overwritten with a huge or negative count in turn (each length and count field among them); the decoder refuses
/// or decodes, and allocates at most a small multiple of the body, never what the forged count claims.
/// </summary>
public sealed class BatchDecodingCostTests
{
    private static readonly int[] Forged = [int.MaxValue, 1 << 30, 0x7FFF_FFF0, -1, int.MinValue];

    [Fact]
    public void A_forged_count_or_length_anywhere_costs_no_more_than_the_body()
    {
        var batch = new PushBatch("batch-1", "gateway-a", "conjur/followers/east-1",
            [
                new VariableState("default:variable:a", 42, [new SecretVersion(1, [1, 2, 3], null), new SecretVersion(2, [0, 0, 0, 0], DateTime.UnixEpoch)]),
                new VariableState("default:variable:ü", 43, []),
            ],
            SweepBefore: 41, SweepAfter: "default:variable:", SweepThrough: "default:variable:z", SweepEnd: 44);
        using var writer = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, writer);
        var valid = writer.WrittenSpan.ToArray();
        // Objects, strings twice their UTF-8 size, a thrown exception: a constant and a small multiple of the body.
        var bound = 32 * 1024 + (8L * valid.Length);

        var refused = 0;
        for (var at = 0; at + 4 <= valid.Length; at++)
        {
            foreach (var value in Forged)
            {
                var forged = (byte[])valid.Clone();
                BinaryPrimitives.WriteInt32LittleEndian(forged.AsSpan(at), value);
                var before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    PushBatchCodec.Decode(forged);
                }
                catch (PartialReplicaException)
                {
                    refused++;
                }

                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated <= bound, $"int32 {value} at byte {at}: {allocated} bytes allocated for a {valid.Length}-byte body");
            }
        }

        // Most windows break the batch; those that do not lie inside values, stamps and version numbers, which may hold anything.
        Assert.True(refused > (valid.Length - 3) * Forged.Length / 2, $"{refused} of {(valid.Length - 3) * Forged.Length} refused");
    }
}
