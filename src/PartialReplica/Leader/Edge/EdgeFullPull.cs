using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Edge;

/// <summary>
/// The Edge API's full pull (F7): pages, count and one variable, each on a pooled connection of its own, read through
/// the one grant reader (<see cref="GrantedSecretsReader"/>). The edges check caller text before it comes here
/// (<see cref="CallerText"/>); should a statement still fail on the server, the connection's prepared statements are
/// reset before the pool hands it on (<see cref="PreparedStatementReset"/>).
/// </summary>
public static class EdgeFullPull
{
    /// <summary>One page of the follower's granted secrets, ordered by id, each with all its kept versions.</summary>
    public static Task<IReadOnlyList<GrantedSecret>> PageAsync(
        NpgsqlDataSource leader, string followerRoleId, GrantedPage page, CancellationToken cancellationToken) =>
        OnConnectionAsync(leader, connection => GrantedSecretsReader.ReadPageAsync(connection, followerRoleId, page, cancellationToken), cancellationToken);

    /// <summary>
    /// One page of the full pull with the position to start delta pulls from (<see cref="EdgeDeltaQuery"/>), taken on
    /// the same connection before the page is read: every change the page does not show yet is at or after it. A
    /// client keeps the position of its first page. Null position: the caller is not a registered follower.
    /// </summary>
    public static Task<GrantedSecretsPage> PageWithPositionAsync(
        NpgsqlDataSource leader, string followerRoleId, GrantedPage page, CancellationToken cancellationToken) =>
        OnConnectionAsync(leader, async connection =>
        {
            var position = await EdgeDeltaQuery.PositionOnAsync(connection, followerRoleId, cancellationToken);
            return new GrantedSecretsPage(await GrantedSecretsReader.ReadPageAsync(connection, followerRoleId, page, cancellationToken), position);
        }, cancellationToken);

    /// <summary>How many granted secrets the follower has (the length of the full list, whatever the page).</summary>
    public static Task<long> CountAsync(NpgsqlDataSource leader, string followerRoleId, CancellationToken cancellationToken) =>
        OnConnectionAsync(leader, connection => GrantedSecretsReader.CountSecretsAsync(connection, followerRoleId, cancellationToken), cancellationToken);

    /// <summary>
    /// One variable when it is granted to the follower and has a value; null otherwise. "Not granted" and
    /// "does not exist" are deliberately the same answer (S2).
    /// </summary>
    public static Task<GrantedSecret?> FindAsync(
        NpgsqlDataSource leader, string followerRoleId, string variableId, CancellationToken cancellationToken) =>
        OnConnectionAsync(leader, connection => GrantedSecretsReader.FindAsync(connection, followerRoleId, variableId, cancellationToken), cancellationToken);

    private static async Task<T> OnConnectionAsync<T>(NpgsqlDataSource leader, Func<NpgsqlConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            return await read(connection);
        }
        catch (PostgresException)
        {
            PreparedStatementReset.After(connection);
            throw;
        }
    }
}
