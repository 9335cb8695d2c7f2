using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace PartialReplica.Protocol;

/// <summary>
/// The binary wire format of a push batch (<see cref="ContentType"/>), the only form the gateway sends and the agent
/// reads. Binary because JSON (values in base64) costs the agent a parse of every value; this form is a copy of
/// lengths and bytes.
/// </summary>
/// <remarks>
/// Little-endian. A string is an int32 byte count and UTF-8 bytes; an optional string, one byte 0/1 and the string
/// when 1. The batch: the magic <c>PRB3</c>; batch id, gateway and follower strings; the sweep's end and first
/// stamps (int64 each); the sweep range's bounds (optional strings); the variable count (int32), then per variable
/// its id, stamp (int64) and version count (int32), and per version its number (int32), value (int32 byte count and
/// bytes) and expiry (one byte 0/1, then int64 UTC ticks when 1). Nothing may follow.
/// </remarks>
public static class PushBatchCodec
{
    /// <summary>The media type of the binary form.</summary>
    public const string ContentType = "application/vnd.partial-replica.batch";

    private static ReadOnlySpan<byte> Magic => "PRB3"u8;

    /// <summary>Writes <paramref name="batch"/> in the binary form to <paramref name="writer"/>.</summary>
    public static void Encode(PushBatch batch, IBufferWriter<byte> writer)
    {
        writer.Write(Magic);
        WriteString(writer, batch.BatchId);
        WriteString(writer, batch.Gateway);
        WriteString(writer, batch.Follower);
        WriteInt64(writer, batch.SweepEnd);
        WriteInt64(writer, batch.SweepBefore);
        WriteOptionalString(writer, batch.SweepAfter);
        WriteOptionalString(writer, batch.SweepThrough);
        WriteInt32(writer, batch.Variables.Count);
        foreach (var variable in batch.Variables)
        {
            WriteString(writer, variable.Id);
            WriteInt64(writer, variable.Stamp);
            WriteInt32(writer, variable.Versions.Count);
            foreach (var version in variable.Versions)
            {
                WriteInt32(writer, version.Version);
                WriteInt32(writer, version.Value.Length);
                writer.Write(version.Value);
                if (version.ExpiresAt is { } expires)
                {
                    WriteByte(writer, 1);
                    WriteInt64(writer, expires.ToUniversalTime().Ticks);
                }
                else
                {
                    WriteByte(writer, 0);
                }
            }
        }
    }

    /// <summary>Reads a batch in the binary form; a malformed one is refused with a <see cref="PartialReplicaException"/>.</summary>
    public static PushBatch Decode(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        if (!reader.Take(Magic.Length).SequenceEqual(Magic))
        {
            throw new PartialReplicaException("The batch does not start with the binary push format's magic (PRB3).");
        }

        var batchId = reader.String();
        var gateway = reader.String();
        var follower = reader.String();
        var sweepEnd = reader.Int64();
        var sweepBefore = reader.Int64();
        var sweepAfter = reader.Flag() ? reader.String() : null;
        var sweepThrough = reader.Flag() ? reader.String() : null;
        var variableCount = reader.Count(smallestItem: sizeof(int) + sizeof(long) + sizeof(int));
        var variables = new List<VariableState>(variableCount);
        for (var i = 0; i < variableCount; i++)
        {
            var id = reader.String();
            var stamp = reader.Int64();
            var versionCount = reader.Count(smallestItem: sizeof(int) + sizeof(int) + 1);
            var versions = new SecretVersion[versionCount];
            for (var v = 0; v < versionCount; v++)
            {
                var number = reader.Int32();
                var value = reader.Take(reader.Count(smallestItem: 1)).ToArray();
                DateTime? expires = reader.Flag() ? new DateTime(reader.Ticks(), DateTimeKind.Utc) : null;
                versions[v] = new SecretVersion(number, value, expires);
            }

            variables.Add(new VariableState(id, stamp, versions));
        }

        if (!reader.AtEnd)
        {
            throw new PartialReplicaException("The batch has bytes after its last variable.");
        }

        return new PushBatch(batchId, gateway, follower, variables, sweepBefore, sweepAfter, sweepThrough, sweepEnd);
    }

    /// <summary>About how many bytes <see cref="Encode"/> writes for <paramref name="batch"/> (a buffer's first size).</summary>
    public static int EstimateSize(PushBatch batch)
    {
        var size = 64 + (3 * ((batch.SweepAfter?.Length ?? 0) + (batch.SweepThrough?.Length ?? 0)));
        foreach (var variable in batch.Variables)
        {
            size += 64;
            foreach (var version in variable.Versions)
            {
                size += 17 + version.Value.Length;
            }
        }

        return size;
    }

    private static void WriteOptionalString(IBufferWriter<byte> writer, string? value)
    {
        WriteByte(writer, value is null ? (byte)0 : (byte)1);
        if (value is not null)
        {
            WriteString(writer, value);
        }
    }

    private static void WriteString(IBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        WriteInt32(writer, length);
        Encoding.UTF8.GetBytes(value, writer.GetSpan(length));
        writer.Advance(length);
    }

    private static void WriteByte(IBufferWriter<byte> writer, byte value)
    {
        writer.GetSpan(1)[0] = value;
        writer.Advance(1);
    }

    private static void WriteInt32(IBufferWriter<byte> writer, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(sizeof(int)), value);
        writer.Advance(sizeof(int));
    }

    private static void WriteInt64(IBufferWriter<byte> writer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(writer.GetSpan(sizeof(long)), value);
        writer.Advance(sizeof(long));
    }

    /// <summary>Reads the form, refusing any length that runs past the end (so a forged count cannot make it allocate).</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool AtEnd => _rest.IsEmpty;

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count > _rest.Length)
            {
                throw new PartialReplicaException("The batch ends early: a length runs past its end.");
            }

            var taken = _rest[..count];
            _rest = _rest[count..];
            return taken;
        }

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int)));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long)));

        public long Ticks()
        {
            var ticks = Int64();
            return ticks is >= 0 and <= 3155378975999999999 // DateTime.MaxValue.Ticks
                ? ticks
                : throw new PartialReplicaException("The batch holds an expiry outside the range of dates.");
        }

        public bool Flag() => Take(1)[0] switch
        {
            0 => false,
            1 => true,
            _ => throw new PartialReplicaException("The batch holds a flag that is neither 0 nor 1."),
        };

        /// <summary>A count or length: never negative, never more items than bytes left.</summary>
        public int Count(int smallestItem)
        {
            var count = Int32();
            if (count < 0 || (long)count * smallestItem > _rest.Length)
            {
                throw new PartialReplicaException($"The batch holds a count ({count}) its remaining {_rest.Length} bytes cannot hold.");
            }

            return count;
        }

        public string String()
        {
            var bytes = Take(Count(smallestItem: 1));
            try
            {
                return Strict.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw new PartialReplicaException("The batch holds a string that is not UTF-8.");
            }
        }

        private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    }
}
