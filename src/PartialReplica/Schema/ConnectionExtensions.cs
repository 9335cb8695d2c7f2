using Npgsql;

namespace PartialReplica.Schema;

/// <summary>Short forms for the statements the core runs with positional parameters.</summary>
internal static class ConnectionExtensions
{
    /// <summary>Runs a statement; values travel as parameters <c>$1</c>, <c>$2</c>, ...</summary>
    public static async Task<int> ExecuteAsync(
        this NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs a query and returns the first column of the first row, or default when there is none.</summary>
    public static async Task<T?> ScalarAsync<T>(
        this NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default : (T)value;
    }

    /// <summary>A command with positional parameters.</summary>
    public static NpgsqlCommand Command(NpgsqlConnection connection, string sql, params object?[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters.Select(Parameter).ToArray());
        return command;
    }

    /// <summary>One statement of an <see cref="NpgsqlBatch"/> (one round trip for several), with positional parameters.</summary>
    public static NpgsqlBatchCommand BatchCommand(string sql, params object?[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters.Select(Parameter).ToArray());
        return command;
    }

    private static NpgsqlParameter Parameter(object? value) =>
        value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value };
}
