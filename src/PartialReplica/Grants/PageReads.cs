namespace PartialReplica.Grants;

/// <summary>
/// How one pass over a follower's granted set (a full reconcile, one Edge request) reads its pages' versions: by range
/// when the leader's <c>secrets</c> ids order by bytes (<see cref="GrantedSecretsReader.PlanPageReadsAsync"/>), else by
/// one primary-key probe per variable.
/// </summary>
/// <remarks>
/// A range read is bounded: it reads at most <see cref="RowsPerId"/> rows per page id it has not reached, and goes on
/// only while its rows reach at least one page id in <see cref="MostRowsPerReachedId"/>; the page's ids it did not
/// reach are probed. So a follower granted most variables reads its pages as ranges, and one granted a sparse slice
/// reads at most two rows per id more than by probes. After a range stopped short, the pass probes its next pages (1,
/// 2, 4, … up to <see cref="MostProbePagesBetweenRanges"/> after ranges that keep stopping short) before it tries a
/// range again, so a sparse follower pays that extra read rarely, and a dense stretch of ids is found again.
/// </remarks>
public sealed class PageReads
{
    /// <summary>Rows a range read may read per page id it has not reached yet.</summary>
    internal const int RowsPerId = 2;

    /// <summary>A range read goes on while it reaches at least one page id in this many rows read.</summary>
    internal const int MostRowsPerReachedId = 4;

    private const int MostProbePagesBetweenRanges = 64;

    private int _probePagesLeft;
    private int _probePagesAfterShortRange = 1;

    /// <param name="rangeAllowed">Whether ids order by bytes on the leader: only then may a page be read by range.</param>
    public PageReads(bool rangeAllowed) => RangeAllowed = rangeAllowed;

    /// <summary>Whether ranges may be read at all.</summary>
    public bool RangeAllowed { get; }

    /// <summary>Pages of this pass that began with a range read.</summary>
    public int RangePages { get; private set; }

    /// <summary>Of those, the ones whose range stopped short, the rest of the page probed.</summary>
    public int ShortRanges { get; private set; }

    /// <summary>Whether the next page starts with a range read; a page read by probes counts down the pause.</summary>
    internal bool NextPageByRange()
    {
        if (!RangeAllowed)
        {
            return false;
        }

        if (_probePagesLeft > 0)
        {
            _probePagesLeft--;
            return false;
        }

        RangePages++;
        return true;
    }

    /// <summary>Records how a page's range read ended: through the page's last id, or short (the rest probed).</summary>
    internal void RangeEnded(bool reachedPageEnd)
    {
        if (reachedPageEnd)
        {
            _probePagesAfterShortRange = 1;
            return;
        }

        ShortRanges++;
        _probePagesLeft = _probePagesAfterShortRange;
        _probePagesAfterShortRange = Math.Min(_probePagesAfterShortRange * 2, MostProbePagesBetweenRanges);
    }
}
