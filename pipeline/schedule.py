"""The one schedule rule: what is public at an instant.

Every output that reaches the public (the site's pages, listings, feeds, sitemap and search;
the ticker playlist; the SMS digests) and the publish plan ask this module, so that a notice
never appears anywhere before its ``published`` moment. A build is made *as of* an instant:
``publish`` builds as of its own ``now``; ``build --today D`` (a preview) as of the end of D.

The rules:

* a draft is never public;
* an approved or withdrawn notice is public from its ``published`` moment on (a withdrawn
  notice stays on the record, marked 撤回);
* the publicity period (公示期) runs from ``publicity.start`` to the end of ``publicity.end``
  in the office's time zone; the moment it is over is midnight after ``end``;
* an urgent notice is in force until its ``expires`` moment (default: ``site.urgent_days``
  after ``published``); after it, no channel shows it as current (no pinning, no screen, no
  digest), while its page stays on the record, marked 已失效.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from pipeline.model import Notice, PublicityState, Status

END_OF_DAY = time(23, 59, 59)


def instant(when: date | datetime, zone: tzinfo) -> datetime:
    """An aware moment: a datetime as it is (naive means the office's zone), a date as the
    end of that day (``--today D`` means "as of D 23:59:59")."""
    if isinstance(when, datetime):
        return when if when.tzinfo is not None else when.replace(tzinfo=zone)
    return datetime.combine(when, END_OF_DAY, tzinfo=zone)


def local_day(now: datetime, zone: tzinfo) -> date:
    """The office's calendar day at ``now`` (publicity periods are counted in it)."""
    return now.astimezone(zone).date()


def published_at(notice: Notice, zone: tzinfo) -> datetime:
    """``published`` as an aware moment (a time without offset is the office's local time)."""
    moment = notice.published
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def is_public(notice: Notice, now: datetime, zone: tzinfo) -> bool:
    """Whether the notice is on the public record at ``now``."""
    return notice.status is not Status.draft and published_at(notice, zone) <= now


def is_listed(notice: Notice, now: datetime, zone: tzinfo) -> bool:
    """Public and not withdrawn: shown in listings, feeds' current items and on screens."""
    return is_public(notice, now, zone) and not notice.is_withdrawn


def publicity_state(notice: Notice, now: datetime, zone: tzinfo) -> PublicityState:
    return notice.publicity_state(local_day(now, zone))


def end_of_publicity(notice: Notice, zone: tzinfo) -> datetime | None:
    """The moment the publicity period is over: the day after ``end``, at midnight."""
    if notice.publicity is None or notice.publicity.end >= date.max:
        return None
    return datetime.combine(notice.publicity.end + timedelta(days=1), time(0), tzinfo=zone)


def expires_at(notice: Notice, zone: tzinfo, urgent_days: int) -> datetime | None:
    """When an urgent notice stops being in force; None for every other kind."""
    if not notice.is_urgent:
        return None
    if notice.expires is not None:
        return notice.expires if notice.expires.tzinfo else notice.expires.replace(tzinfo=zone)
    return published_at(notice, zone) + timedelta(days=urgent_days)


def is_in_force(notice: Notice, now: datetime, zone: tzinfo, urgent_days: int) -> bool:
    """Listed (public, not withdrawn) and, if urgent, not expired at ``now``."""
    if not is_listed(notice, now, zone):
        return False
    until = expires_at(notice, zone, urgent_days)
    return until is None or now < until
