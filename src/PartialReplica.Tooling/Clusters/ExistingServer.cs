using Npgsql;

namespace PartialReplica.Tooling.Clusters;

/// <summary>
/// A server someone else runs, named by a superuser connection string (tests honour
/// <c>PARTIALREPLICA_TEST_PG</c>). Leader and followers become databases on it.
/// </summary>
internal sealed class ExistingServer(string connectionString) : IPostgresServer
{
    private readonly NpgsqlConnectionStringBuilder _builder = new(connectionString);

    public string ConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder(_builder.ConnectionString) { Database = database }.ConnectionString;

    public Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken) =>
        ServerDatabases.CreateAsync(ConnectionString(), prefix, cancellationToken);

    public Task DropDatabaseAsync(string database, CancellationToken cancellationToken) =>
        ServerDatabases.DropAsync(ConnectionString(), database, cancellationToken);
}
