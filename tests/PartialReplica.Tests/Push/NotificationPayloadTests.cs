using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

[Collection(EndToEndCollection.Name)]
public sealed class NotificationPayloadTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Secret_writes_notify_with_an_empty_payload_and_the_value_is_nowhere_in_it()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var listener = new NpgsqlConnection(leader);
        await listener.OpenAsync();
        var payloads = new List<(string Channel, string Payload)>();
        listener.Notification += (_, e) => payloads.Add((e.Channel, e.Payload));
        await using (var listen = new NpgsqlCommand("LISTEN partial_replica_changes", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:notify/me', 'default:user:admin');
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:notify/me', convert_to('VERY-SECRET-VALUE', 'UTF8'));
            """);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await listener.WaitAsync(timeout.Token);

        var (channel, payload) = Assert.Single(payloads);
        Assert.Equal("partial_replica_changes", channel);
        Assert.Equal("", payload);
    }
}
