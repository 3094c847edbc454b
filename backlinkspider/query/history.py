"""Weekly history of a target: new and lost backlinks and referring domains per week (Monday UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from backlinkspider.index.protocols import LinkIndex
from backlinkspider.records import Bucketing, Target, Week

DAY = 86400
# Weeks Monday to Sunday UTC: 1970-01-01 was a Thursday, so a week starts 3 days before each 7-day step.
WEEKS = Bucketing(width=7 * DAY, offset=3 * DAY)


def week_start(week: int) -> str:
    """The Monday (UTC) that starts bucket ``week`` of ``WEEKS``, as YYYY-MM-DD."""
    return datetime.fromtimestamp(week * WEEKS.width - WEEKS.offset, UTC).strftime("%Y-%m-%d")


def history(index: LinkIndex, target: Target) -> list[Week]:
    """Every week from the first to the last with activity (quiet weeks are zeros, so a chart's axis is
    time): a link is new in the week of its first_seen (lost or not), lost in the week it was lost (if
    it still is); a referring domain is new in the week of its first link, lost in the week its last
    live link was lost."""
    e = index.events(target, WEEKS)
    weeks = set(e.new_links) | set(e.lost_links) | set(e.new_domains) | set(e.lost_domains)
    if not weeks:
        return []
    return [
        {
            "week": week_start(w),
            "new_backlinks": e.new_links.get(w, 0),
            "lost_backlinks": e.lost_links.get(w, 0),
            "new_referring_domains": e.new_domains.get(w, 0),
            "lost_referring_domains": e.lost_domains.get(w, 0),
        }
        for w in range(min(weeks), max(weeks) + 1)
    ]
