
using PartialReplica.Leader.Dispatch;

namespace PartialReplica.UnitTests.Push;

/// <summary>How a busy WakeupGate spaces its polls, computed without a leader.</summary>
public sealed class WakeupModeTests
{
    [Fact]
    public void A_busy_gate_polls_less_often_while_it_finds_only_changes_no_follower_holds_and_at_once_again_when_one_does()
    {
        var options = new DispatchOptions { HotPollInterval = TimeSpan.FromMilliseconds(20), QuietPollInterval = TimeSpan.FromMilliseconds(100) };
        var waits = new List<double>();
        var wait = options.HotPollInterval;
        foreach (var concerned in new[] { false, false, false, false, true, false })
        {
            wait = WakeupGate.NextPollInterval(wait, concerned, options);
            waits.Add(wait.TotalMilliseconds);
        }

        Assert.Equal([40, 80, 100, 100, 20, 40], waits);

        // A quiet interval shorter than the hot one never makes a busy gate poll faster than the hot one.
        var misconfigured = options with { QuietPollInterval = TimeSpan.FromMilliseconds(5) };
        Assert.Equal(options.HotPollInterval, WakeupGate.NextPollInterval(options.HotPollInterval, concerned: false, misconfigured));
    }
}
