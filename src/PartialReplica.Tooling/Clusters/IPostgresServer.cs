namespace PartialReplica.Tooling.Clusters;

/// <summary>A PostgreSQL server the product or its tests can create databases on.</summary>
public interface IPostgresServer
{
    /// <summary>A superuser connection string to the given database.</summary>
    string ConnectionString(string database = "postgres");

    /// <summary>Creates a fresh database whose name starts with <paramref name="prefix"/>; returns its name.</summary>
    Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Drops a database created here, ending its sessions and any subscriptions in it first.</summary>
    Task DropDatabaseAsync(string database, CancellationToken cancellationToken);
}
