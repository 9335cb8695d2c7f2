using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Status;

/// <summary>
/// The gateway and the agent on a machine where ASP.NET Core has never kept a data-protection key (a new user's
/// home): neither warns about its key ring. Nothing in them needs data protection, so it is kept in memory.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class QuietHostTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Gateway_and_agent_start_in_a_new_home_without_a_data_protection_warning()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        var home = Directory.CreateTempSubdirectory("partial-replica-home-");
        try
        {
            await using var gateway = ChildHost.Gateway(leader, "quiet").WithEnvironment("HOME", home.FullName);
            await gateway.StartAsync();
            var followerDb = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "quiet");
            await using var agent = ChildHost.Agent("conjur/followers/east-1", followerDb, gateway.Url, ChildHost.FreePort())
                .WithEnvironment("HOME", home.FullName);
            await agent.StartAsync();

            foreach (var host in new[] { gateway, agent })
            {
                Assert.DoesNotContain(host.Output, line => line.Contains("DataProtection", StringComparison.Ordinal)
                    || line.Contains("XML encryptor", StringComparison.Ordinal) || line.Contains("unencrypted form", StringComparison.Ordinal));
            }

            Assert.False(Directory.Exists(Path.Combine(home.FullName, ".aspnet")), "no key ring was written to the home folder");
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
