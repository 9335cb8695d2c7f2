
using PartialReplica.Leader.Gateways;
using PartialReplica.Status;

namespace PartialReplica.UnitTests.Status;

/// <summary>The status table's text: within the width, words whole, the common prefix shortened with a note.</summary>
public sealed class StatusTableTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 9, 30, 0, TimeSpan.Zero);

    private static readonly FollowerStatusRow[] Demo =
    [
        new("conjur/followers/east-1", ["east"], 103, 103, 0, 0, "streaming", null, LastPushAt: Now.AddSeconds(-7), RetainedWalBytes: 56, RecentErrors: []),
        new("conjur/followers/west-1", ["east", "west"], 2, 1, 1, 1500, "streaming",
            "follower database refused connections: Failed to connect to 127.0.0.1:45123 (Connection refused)",
            LastPushAt: Now.AddMinutes(-3), RetainedWalBytes: 3 * 1024 * 1024 + 512 * 1024, LastErrorSince: Now.AddSeconds(-42),
            Breaker: "paused, retrying in 8 s", RecentErrors: []),
    ];

    [Fact]
    public void Render_at_80_columns_is_a_table_with_notes_below_and_values_never_wrapped()
    {
        var text = StatusTable.Render(Demo, 80, Now);

        Assert.Equal(
            """
            follower replica  granted delivered pending   lag subscription last push     WAL
                     sets
            east-1   east         103       103       0  0 ms streaming      7 s ago    56 B
            west-1   east,          2         1       1 1.5 s streaming    3 min ago 3.5 MiB
                     west
            Follower names are shown without their conjur/followers/ prefix.
            west-1: last error (since 09:29:18Z, 42 s ago): follower database refused
                connections: Failed to connect to 127.0.0.1:45123 (Connection refused)
            west-1: breaker paused, retrying in 8 s

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            text);
    }

    [Theory]
    [InlineData(40)]
    [InlineData(60)]
    [InlineData(80)]
    [InlineData(100)]
    [InlineData(160)]
    public void Render_keeps_every_line_within_the_width_and_every_word_whole(int width)
    {
        FollowerStatusRow[] rows =
        [
            .. Demo,
            new("conjur/followers/us-east-datacenter-primary-replica-01", ["east", "shared-services", "west"], 12345, null, 12345, 93_000,
                "unknown", "agent http://127.0.0.1:1/ unreachable: Connection refused (127.0.0.1:1)", "slot was missing on the relay: recreated",
                Now.AddHours(-2)),
        ];

        var text = StatusTable.Render(rows, width, Now);
        var lines = text.Split('\n');

        Assert.All(lines, line => Assert.True(line.Length <= width, $"{line.Length} > {width}: {line}"));
        var words = text.Split([' ', '\n', ','], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        foreach (var whole in new[] { "us-east-datacenter-primary-replica-01", "shared-services", "streaming", "unknown", "http://127.0.0.1:1/", "12345", "recreated" })
        {
            Assert.Contains(whole, words);
        }

        Assert.DoesNotContain("conjur/followers/us-east", text, StringComparison.Ordinal);
        Assert.DoesNotContain("conjur/followers/west-1", text, StringComparison.Ordinal);
        Assert.Contains("prefix.", words);
    }

    [Fact]
    public void Render_of_the_document_shows_each_followers_gateway_and_the_live_gateways_with_what_they_serve()
    {
        FollowerStatusRow[] rows = [Demo[0] with { ServedBy = "gw-a" }, Demo[1] with { ServedBy = "gw-b" }];
        var status = new StatusDocument(rows,
        [
            new GatewayStatusRow("gw-a", "http://gw-a.example:8080", Now.AddHours(-1), 1200, 4800, 1),
            new GatewayStatusRow("gw-b", null, Now.AddMinutes(-5), 300, 5700, 1),
        ]);

        var wide = StatusTable.Render(status, 120, Now).Split('\n');
        Assert.EndsWith(" gateway", wide[0], StringComparison.Ordinal);
        Assert.Matches(@"^east-1 .* gw-a$", wide[1]);
        Assert.Matches(@"^west-1 .* gw-b$", wide[2]);
        Assert.Contains("gateway gw-a at http://gw-a.example:8080 (lease renewed 1 s ago): serves east-1", wide);
        Assert.Contains("gateway gw-b (lease renewed 0 s ago): serves west-1", wide);

        // At 80 columns the gateway column gives way first; the gateways' lines still say who serves whom.
        var narrow = StatusTable.Render(status, 80, Now).Split('\n');
        Assert.StartsWith("follower replica  granted", narrow[0], StringComparison.Ordinal);
        Assert.DoesNotContain("gateway", narrow[0], StringComparison.Ordinal);
        Assert.Contains("gateway gw-b (lease renewed 0 s ago): serves west-1", narrow);
        Assert.All(narrow, line => Assert.True(line.Length <= 80, line));
    }

    [Fact]
    public void Render_of_the_document_says_when_no_gateway_is_live_and_shows_none_for_unserved_followers()
    {
        var text = StatusTable.Render(new StatusDocument(Demo, []), 120, Now);

        Assert.Matches(@"(?m)^east-1 .* none$", text);
        Assert.Contains("No gateway is live: no follower receives pushes.", text, StringComparison.Ordinal);
    }
}
