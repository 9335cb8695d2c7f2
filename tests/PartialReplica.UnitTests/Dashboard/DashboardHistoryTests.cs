using PartialReplica.Leader.Dispatch;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Dashboard;

/// <summary>
/// The dashboard's in-memory history on its own: 15 minutes of one-second samples, push rates over the time that
/// really passed, gaps where the leader did not answer or a follower was not there.
/// </summary>
public sealed class DashboardHistoryTests
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Pushes_since_the_last_sample_become_a_rate_per_second_of_the_time_that_passed()
    {
        var history = new DashboardHistory();
        history.Add(Start, Backlog((East, 0, 0)));
        for (var i = 0; i < 6; i++)
        {
            history.RecordPush(Pushed(East));
        }

        history.RecordPush(Pushed(West));
        // Two seconds late (a slow leader): 6 pushes over 2 s is 3 a second, not 6.
        history.Add(Start.AddSeconds(2), Backlog((East, 4, 120)));
        history.Add(Start.AddSeconds(3), Backlog((East, 0, 0)));

        var document = history.Snapshot();
        Assert.Equal(1000, document.IntervalMs);
        Assert.Equal(900, document.WindowSeconds);
        Assert.Equal([Start.ToUnixTimeMilliseconds(), Start.AddSeconds(2).ToUnixTimeMilliseconds(), Start.AddSeconds(3).ToUnixTimeMilliseconds()], document.At);
        Assert.Equal([East, West], document.Followers.Select(f => f.Name));
        var east = document.Followers[0];
        Assert.Equal([0, 3, 0], east.PushesPerSecond);
        Assert.Equal([0, 120, 0], east.LagMs);
        Assert.Equal([0, 4, 0], east.Pending);
        // West pushed without a backlog row (not yet registered on the leader): a rate, and no lag.
        var west = document.Followers[1];
        Assert.Equal([null, 0.5, null], west.PushesPerSecond);
        Assert.Equal([null, null, null], west.LagMs);
    }

    [Fact]
    public void A_second_the_leader_did_not_answer_is_a_gap_in_lag_but_keeps_its_pushes()
    {
        var history = new DashboardHistory();
        history.Add(Start, Backlog((East, 1, 50)));
        history.RecordPush(Pushed(East));
        history.Add(Start.AddSeconds(1), backlog: null);
        history.Add(Start.AddSeconds(2), Backlog((East, 0, 0)));

        var east = Assert.Single(history.Snapshot().Followers);
        Assert.Equal([50, null, 0], east.LagMs);
        Assert.Equal([1, null, 0], east.Pending);
        Assert.Equal([0, 1, 0], east.PushesPerSecond);
    }

    [Fact]
    public void Only_the_last_fifteen_minutes_are_kept()
    {
        var history = new DashboardHistory();
        const int seconds = 900 + 25;
        for (var i = 0; i < seconds; i++)
        {
            history.Add(Start.AddSeconds(i), Backlog((East, i, i)));
        }

        var document = history.Snapshot();
        Assert.Equal(900, document.At.Count);
        Assert.Equal(Start.AddSeconds(25).ToUnixTimeMilliseconds(), document.At[0]);
        Assert.Equal(Start.AddSeconds(seconds - 1).ToUnixTimeMilliseconds(), document.At[^1]);
        Assert.Equal(Enumerable.Range(25, 900).Select(i => (long?)i), Assert.Single(document.Followers).LagMs);
    }

    [Fact]
    public void A_follower_gone_from_the_leader_leaves_the_history_once_its_samples_age_out()
    {
        var history = new DashboardHistory();
        history.Add(Start, Backlog((East, 0, 0), (West, 0, 0)));
        for (var i = 1; i < 900; i++)
        {
            history.Add(Start.AddSeconds(i), Backlog((East, 0, 0)));
        }

        Assert.Equal([East, West], history.Snapshot().Followers.Select(f => f.Name));
        history.Add(Start.AddSeconds(900), Backlog((East, 0, 0)));
        Assert.Equal([East], history.Snapshot().Followers.Select(f => f.Name));
    }

    private static PushEvent Pushed(string follower) => new(follower, Variables: 1, Upserts: 1, Deletes: 0, Milliseconds: 2, Reconcile: false);

    private static Dictionary<string, (long Pending, long LagMs)> Backlog(params (string Follower, long Pending, long LagMs)[] rows) =>
        rows.ToDictionary(r => r.Follower, r => (r.Pending, r.LagMs), StringComparer.Ordinal);
}
