using System.Buffers.Binary;
using PartialReplica.Protocol;

namespace PartialReplica.UnitTests.Push;

/// <summary>The binary push format: byte-exact round trips (R7) and clear refusals of malformed input.</summary>
public sealed class PushBatchCodecTests
{
    private static readonly DateTime Expiry = new(2031, 5, 6, 7, 8, 9, 123, DateTimeKind.Utc);

    private static PushBatch Sample() => new(
        "batch-1", "gateway-a", "conjur/followers/east-1",
        [
            new VariableState("default:variable:apps/a b/\"quoted\"/ünïcode/x", 42, [
                new SecretVersion(1, [], null),
                new SecretVersion(2, [0, 0, 1, 0], Expiry),
                new SecretVersion(3, Enumerable.Range(0, 65536).Select(i => (byte)(i * 7)).ToArray(), null),
            ]),
            new VariableState("default:variable:revoked", 43, []),
        ],
        SweepBefore: 41,
        SweepAfter: "default:variable:a",
        SweepThrough: "default:variable:ü",
        SweepEnd: 44);

    private static byte[] Encode(PushBatch batch)
    {
        using var writer = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, writer);
        return writer.WrittenSpan.ToArray();
    }

    [Fact]
    public void A_batch_round_trips_byte_exact()
    {
        var sample = Sample();
        var decoded = PushBatchCodec.Decode(Encode(sample));

        Assert.Equal((sample.BatchId, sample.Gateway, sample.Follower, sample.SweepBefore, sample.SweepAfter, sample.SweepThrough, sample.SweepEnd),
            (decoded.BatchId, decoded.Gateway, decoded.Follower, decoded.SweepBefore, decoded.SweepAfter, decoded.SweepThrough, decoded.SweepEnd));
        Assert.Equal(sample.Variables.Count, decoded.Variables.Count);
        foreach (var (expected, actual) in sample.Variables.Zip(decoded.Variables))
        {
            Assert.Equal((expected.Id, expected.Stamp, expected.Versions.Count), (actual.Id, actual.Stamp, actual.Versions.Count));
            foreach (var (version, read) in expected.Versions.Zip(actual.Versions))
            {
                Assert.Equal(version.Version, read.Version);
                Assert.Equal(version.Value, read.Value);
                Assert.Equal(version.ExpiresAt, read.ExpiresAt);
            }
        }

        Assert.Equal(DateTimeKind.Utc, decoded.Variables[0].Versions[1].ExpiresAt!.Value.Kind);
    }

    [Fact]
    public void No_sweep_stays_no_sweep()
    {
        var decoded = PushBatchCodec.Decode(Encode(new PushBatch("b", "g", "f", [])));
        Assert.Empty(decoded.Variables);
        Assert.Equal((0, 0), (decoded.SweepBefore, decoded.SweepEnd));
        Assert.Null(decoded.SweepAfter);
        Assert.Null(decoded.SweepThrough);
    }

    [Fact]
    public void Every_truncation_is_refused_with_a_clear_error()
    {
        var bytes = Encode(Sample());
        for (var length = 0; length < bytes.Length; length += length < 256 ? 1 : 997)
        {
            var error = Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode(bytes.AsSpan(0, length)));
            Assert.Contains("batch", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Malformed_batches_are_refused()
    {
        var bytes = Encode(Sample());

        var magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        Assert.Contains("magic", Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode(magic)).Message, StringComparison.Ordinal);

        // The previous form (PRB2, which carried a keep-only list) is refused by its magic, not misread.
        var previous = (byte[])bytes.Clone();
        "PRB2"u8.CopyTo(previous);
        Assert.Contains("PRB3", Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode(previous)).Message, StringComparison.Ordinal);

        Assert.Contains("after its last variable",
            Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode([.. bytes, 0])).Message, StringComparison.Ordinal);

        // The batch id's length claims more bytes than there are: refused before anything is allocated.
        var forged = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(forged.AsSpan(4), int.MaxValue);
        Assert.Contains("count", Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode(forged)).Message, StringComparison.Ordinal);

        var negative = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(negative.AsSpan(4), -5);
        Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode(negative));

        // The batch id "batch-1" made invalid UTF-8.
        var notUtf8 = (byte[])bytes.Clone();
        notUtf8[8] = 0xFF;
        Assert.Contains("UTF-8", Assert.Throws<PartialReplicaException>(() => PushBatchCodec.Decode(notUtf8)).Message, StringComparison.Ordinal);
    }
}
