using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Supervision;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// The dashboard's history (SPEC F11): every second, each follower's lag (age of its oldest undelivered change,
/// read from the leader) and how many pushes this gateway's dispatcher had acknowledged since the last sample,
/// kept in memory for the last <see cref="Window"/>. Nothing here survives a restart, and nothing here is a value.
/// </summary>
internal sealed class DashboardHistory
{
    /// <summary>How often a sample is taken.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How far back samples are kept.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    private static readonly int Capacity = (int)(Window / Interval);

    private readonly ConcurrentDictionary<string, long> _pushesSinceSample = new(StringComparer.Ordinal);
    private readonly Sample?[] _ring = new Sample?[Capacity];
    private readonly Lock _lock = new();
    private int _next;

    /// <summary>Counts one acknowledged push (called from the dispatcher's worker threads).</summary>
    public void RecordPush(PushEvent pushed) => _pushesSinceSample.AddOrUpdate(pushed.Follower, 1, static (_, n) => n + 1);

    /// <summary>
    /// Takes the sample for <paramref name="at"/>: the pushes counted since the last one and each follower's
    /// <paramref name="backlog"/> (null when the leader did not answer: the lag chart shows a gap).
    /// </summary>
    public void Add(DateTimeOffset at, IReadOnlyDictionary<string, (long Pending, long LagMs)>? backlog)
    {
        var pushes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var follower in _pushesSinceSample.Keys)
        {
            if (_pushesSinceSample.TryRemove(follower, out var n))
            {
                pushes[follower] = n;
            }
        }

        lock (_lock)
        {
            var previous = _ring[(_next + Capacity - 1) % Capacity];
            // Pushes per second over the time actually elapsed: a late tick does not inflate the rate.
            var seconds = previous is null ? Interval.TotalSeconds : Math.Max((at - previous.At).TotalSeconds, 0.001);
            var followers = new Dictionary<string, FollowerSample>(StringComparer.Ordinal);
            foreach (var name in (backlog?.Keys ?? []).Union(pushes.Keys, StringComparer.Ordinal))
            {
                (long Pending, long LagMs)? state = backlog is not null && backlog.TryGetValue(name, out var b) ? b : null;
                followers[name] = new FollowerSample(state?.LagMs, state?.Pending, Math.Round(pushes.GetValueOrDefault(name) / seconds, 2));
            }

            _ring[_next] = new Sample(at, followers);
            _next = (_next + 1) % Capacity;
        }
    }

    /// <summary>The samples of the window, oldest first, one series per follower seen in it.</summary>
    public DashboardHistoryDocument Snapshot()
    {
        List<Sample> samples;
        lock (_lock)
        {
            samples = [.. Enumerable.Range(0, Capacity).Select(i => _ring[(_next + i) % Capacity]).OfType<Sample>()];
        }

        var names = samples.SelectMany(s => s.Followers.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return new DashboardHistoryDocument(
            (long)Interval.TotalMilliseconds,
            (long)Window.TotalSeconds,
            [.. samples.Select(s => s.At.ToUnixTimeMilliseconds())],
            [.. names.Select(name => new FollowerHistory(
                name,
                [.. samples.Select(s => s.Followers.GetValueOrDefault(name)?.LagMs)],
                [.. samples.Select(s => s.Followers.GetValueOrDefault(name)?.Pending)],
                [.. samples.Select(s => s.Followers.TryGetValue(name, out var f) ? f.PushesPerSecond : (double?)null)]))]);
    }

    private sealed record Sample(DateTimeOffset At, IReadOnlyDictionary<string, FollowerSample> Followers);

    private sealed record FollowerSample(long? LagMs, long? Pending, double PushesPerSecond);
}

/// <summary>
/// <c>GET /status/history</c>: <c>{"intervalMs","windowSeconds","at":[unix ms…],"followers":[{"name","lagMs":[…],
/// "pending":[…],"pushesPerSecond":[…]}]}</c>, every series aligned with <c>at</c>, <c>null</c> where a follower had no
/// sample (not registered yet, or the leader did not answer).
/// </summary>
internal sealed record DashboardHistoryDocument(long IntervalMs, long WindowSeconds, IReadOnlyList<long> At, IReadOnlyList<FollowerHistory> Followers);

/// <summary>One follower's series in <see cref="DashboardHistoryDocument"/>; pushes are this gateway's only.</summary>
internal sealed record FollowerHistory(string Name, IReadOnlyList<long?> LagMs, IReadOnlyList<long?> Pending, IReadOnlyList<double?> PushesPerSecond);

/// <summary>Samples the leader's backlog into <see cref="DashboardHistory"/> every second, under the loop supervisor (R8).</summary>
internal sealed class DashboardHistorySampler(
    DashboardHistory history, NpgsqlDataSource leader, TimeProvider timeProvider, LoopSupervisor supervisor, ILogger<DashboardHistorySampler> logger)
    : BackgroundService
{
    /// <summary>The supervised loop's name, as <c>/health/ready</c> reports it.</summary>
    public const string Loop = "dashboard.history";

    private bool _failing;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        supervisor.RunPeriodicAsync(Loop, DashboardHistory.Interval, tickAtStart: true, SampleAsync, stoppingToken, timeProvider);

    private async Task SampleAsync(CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, (long Pending, long LagMs)>? backlog = null;
        try
        {
            backlog = await Backlog.ReadAsync(leader, cancellationToken);
            if (_failing)
            {
                _failing = false;
                LogMessages.HistorySamplingRecovered(logger);
            }
        }
        catch (NpgsqlException e)
        {
            // Logged once per outage, not every second; the charts show the gap.
            if (!_failing)
            {
                _failing = true;
                LogMessages.HistorySamplingFailed(logger, e);
            }
        }

        history.Add(timeProvider.GetUtcNow(), backlog);
    }
}
