using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Npgsql;
using PartialReplica.Protocol;

namespace PartialReplica.Follower;

/// <summary>
/// Rows in PostgreSQL's binary COPY format, written straight into a buffer and sent as one raw copy.
/// Npgsql's typed importer binds every field through its converter machinery, a few microseconds a field;
/// this is a copy of lengths and bytes.
/// </summary>
internal sealed class BinaryCopyRows : IDisposable
{
    // PostgreSQL timestamps count microseconds from 2000-01-01 UTC.
    private static readonly long PostgresEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    // "PGCOPY\n\377\r\n\0"
    private static ReadOnlySpan<byte> Signature => [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00];

    private readonly PooledBufferWriter _buffer;
    private readonly short _columns;

    public BinaryCopyRows(short columns, int sizeHint)
    {
        _columns = columns;
        _buffer = new PooledBufferWriter(sizeHint);
        _buffer.Write(Signature);
        Int32(0); // flags
        Int32(0); // header extension length
    }

    public void StartRow() => Int16(_columns);

    public void Text(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        Int32(length);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
    }

    public void Integer(int value)
    {
        Int32(sizeof(int));
        Int32(value);
    }

    public void Bigint(long value)
    {
        Int32(sizeof(long));
        Int64(value);
    }

    public void Boolean(bool value)
    {
        Int32(1);
        _buffer.GetSpan(1)[0] = value ? (byte)1 : (byte)0;
        _buffer.Advance(1);
    }

    public void Bytea(ReadOnlySpan<byte> value)
    {
        Int32(value.Length);
        _buffer.Write(value);
    }

    public void TimestampTz(DateTime? value)
    {
        if (value is not { } at)
        {
            Int32(-1);
            return;
        }

        Int32(sizeof(long));
        Int64((at.ToUniversalTime().Ticks - PostgresEpochTicks) / TimeSpan.TicksPerMicrosecond);
    }

    /// <summary>Sends the rows with <paramref name="copyCommand"/> (<c>COPY ... FROM STDIN (FORMAT BINARY)</c>).</summary>
    public async Task CopyAsync(NpgsqlConnection connection, string copyCommand, CancellationToken cancellationToken)
    {
        Int16(-1); // trailer
        await using var stream = await connection.BeginRawBinaryCopyAsync(copyCommand, cancellationToken);
        await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken);
    }

    public void Dispose() => _buffer.Dispose();

    private void Int16(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(_buffer.GetSpan(sizeof(short)), value);
        _buffer.Advance(sizeof(short));
    }

    private void Int32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.GetSpan(sizeof(int)), value);
        _buffer.Advance(sizeof(int));
    }

    private void Int64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(sizeof(long)), value);
        _buffer.Advance(sizeof(long));
    }
}
