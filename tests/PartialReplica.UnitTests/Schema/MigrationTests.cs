using PartialReplica.Schema;

namespace PartialReplica.UnitTests.Schema;

/// <summary>The embedded migrations, read without a database.</summary>
public sealed class MigrationTests
{
    /// <summary>STYLE 14: before the first release, schema history is one baseline per role; later changes are new numbered files.</summary>
    [Fact]
    public void The_schema_starts_with_one_baseline_per_role()
    {
        Assert.Equal(
            [(1, "0001_baseline", (DatabaseRole?)null), (2, "0002_baseline", DatabaseRole.Leader), (3, "0003_baseline", DatabaseRole.Follower)],
            Migration.All.Take(3).Select(m => (m.Version, m.Name, m.Only)));
    }
}
