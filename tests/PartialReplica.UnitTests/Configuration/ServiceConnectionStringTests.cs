using Npgsql;
using PartialReplica.Configuration;

namespace PartialReplica.UnitTests.Configuration;

/// <summary>What a long-running service (gateway, agent) adds to the connection string it is given.</summary>
public sealed class ServiceConnectionStringTests
{
    [Fact]
    public void Jit_goes_off_and_repeated_statements_are_prepared_unless_the_string_says_otherwise()
    {
        var plain = new NpgsqlConnectionStringBuilder(ConnectionStrings.ForService("postgresql://u:p@127.0.0.1:5433/conjur", "leader"));
        Assert.Equal("-c jit=off", plain.Options);
        Assert.Equal(64, plain.MaxAutoPrepare);
        Assert.Equal("conjur", plain.Database);
        Assert.Equal(5433, plain.Port);

        var chosen = new NpgsqlConnectionStringBuilder(ConnectionStrings.ForService(
            "Host=127.0.0.1;Database=conjur;Username=u;Options=-c jit=on;Max Auto Prepare=0", "leader"));
        Assert.Equal("-c jit=on", chosen.Options);
        Assert.Equal(0, chosen.MaxAutoPrepare);
    }
}
