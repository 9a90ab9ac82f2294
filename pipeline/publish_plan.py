"""Planning a publish run: which delivery keys are due now, grouped into channel calls.

Pure: notices, the ledger's current rows, the channels' targets and the clock in; a ``Plan``
out. Nothing here talks to a channel or writes the ledger, which is what lets
``publish --dry-run`` and ``noticecast next`` use the very same rules as a real run.

For each due notice (approved, or withdrawn, and ``published <= now``), each of its channels
and each target of that channel, the events wanted are:

* approved, revision 1 (or a later revision nobody on this channel had seen): ``publish``
  (digest channels only while the notice is current: SMS does not text old news);
* approved, revision >= 2: ``correction`` to the targets that received an earlier revision,
  nothing to the others (a correction reaches exactly the earlier recipients);
* withdrawn: ``withdrawal`` to the targets that received any revision (SMS only when
  ``sms.notify_withdrawal``); a notice withdrawn before anyone got it goes nowhere;
* collection channels (site, ticker) also get ``expiry`` once the publicity period has ended,
  if they received the notice while it was still running.

A key with no ledger row, or ``pending``, or ``retry`` whose ``next_at`` has come, is due.
Keys of a notice-scoped channel are one call each; keys of a collection channel for a target
are one call (one swap of the site covers every notice); keys of a digest channel (SMS) for a
subscriber are one call (one text lists every notice for that person).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from channels.base import Receipt, Target
from pipeline.ledger import PENDING, RECEIVED, RETRY, SENDABLE, Key, Row
from pipeline.model import Notice, Status
from pipeline.schedule import end_of_publicity, published_at

Accepts = Callable[[Notice, Target], bool]


def _everyone(notice: Notice, target: Target) -> bool:
    return True


@dataclass(frozen=True)
class ChannelInfo:
    """What planning needs to know about a channel (not the channel object itself)."""

    name: str
    scope: str  # notice | collection | digest
    mode: str  # idempotent | at-most-once
    targets: tuple[Target, ...]
    accepts: Accepts = _everyone  # digest channels: whether a subscriber wants a notice
    # Whether a first publication is still worth sending (SMS: not a notice whose period ended
    # long ago, on the day a ledger starts). Corrections and withdrawals always go out.
    newsworthy: Callable[[Notice], bool] = lambda notice: True
    tells_withdrawal: bool = True  # SMS: config.sms.notify_withdrawal


@dataclass(frozen=True, slots=True)
class Item:
    """One due delivery key and what its delivery needs."""

    key: Key
    notice: Notice
    target: Target
    mode: str
    previous: Receipt | None = None
    row: Row | None = None  # its ledger state now; None when it was never tried
    earlier: tuple[Receipt, ...] = ()  # every receipt a correction or withdrawal marks

    @property
    def is_retry(self) -> bool:
        return self.row is not None and self.row.state == RETRY


@dataclass
class Batch:
    """One channel call, covering one or more keys."""

    channel: str
    scope: str
    target: Target
    items: list[Item] = field(default_factory=list)
    # A collection target whose content changed since it was last delivered (an edit without a
    # new revision, a notice whose hour came): the key recording that this content went out.
    snapshot: Key | None = None

    @property
    def keys(self) -> list[Key]:
        return [item.key for item in self.items] + ([self.snapshot] if self.snapshot else [])

    @property
    def event(self) -> str:
        events = {item.key.event for item in self.items}
        return events.pop() if len(events) == 1 else "publish"


@dataclass
class Plan:
    now: datetime
    batches: list[Batch] = field(default_factory=list)
    waiting: list[Row] = field(default_factory=list)  # retries whose time has not come
    cancel: list[tuple[Row, str]] = field(default_factory=list)  # pointless now, and why
    upcoming: list[datetime] = field(default_factory=list)  # moments something becomes due

    @property
    def items(self) -> list[Item]:
        return [item for batch in self.batches for item in batch.items]

    def next_due(self) -> datetime | None:
        """Now, if anything is due; else the earliest moment something will be."""
        if self.batches:
            return self.now
        later = [m for m in self.upcoming if m > self.now]
        later += [r.next_at for r in self.waiting if r.next_at is not None]
        return min(later) if later else None


def make_plan(notices: Sequence[Notice], channels: Sequence[ChannelInfo],
              channels_of: Callable[[Notice], Sequence[str]], rows: Iterable[Row],
              now: datetime, zone: ZoneInfo) -> Plan:
    plan = Plan(now=now)
    by_name = {info.name: info for info in channels}
    current = {row.key: row for row in rows}
    history: dict[tuple[str, str, str], list[Row]] = {}
    channel_seen: set[tuple[str, str]] = set()  # (notice, channel) pairs that reached anyone
    for row in current.values():
        history.setdefault((row.key.notice_id, row.key.channel, row.key.target), []).append(row)
        if row.state in RECEIVED:
            channel_seen.add((row.key.notice_id, row.key.channel))

    groups: dict[tuple[str, str], Batch] = {}
    ordered = sorted(notices, key=lambda n: (not n.is_urgent, published_at(n, zone), n.id))
    for notice in ordered:
        names = [n for n in channels_of(notice) if n in by_name]
        if notice.status is Status.draft:
            continue
        ends = end_of_publicity(notice, zone)
        published = published_at(notice, zone)
        if published > now:
            plan.upcoming.append(published)
            continue
        if ends is not None and ends > now and notice.status is Status.approved and any(
                by_name[n].scope == "collection" for n in names):
            plan.upcoming.append(ends)
        for name in names:
            info = by_name[name]
            seen_here = (notice.id, name) in channel_seen
            for target in info.targets:
                if not info.accepts(notice, target):
                    continue
                past = history.get((notice.id, name, target.key), [])
                for event, previous, earlier in _wanted(notice, info, past, seen_here, now,
                                                        ends):
                    key = Key(notice.id, notice.revision, event, name, target.key)
                    row = current.get(key)
                    due_retry = row is not None and row.state == RETRY and (
                        row.next_at is None or row.next_at <= now)
                    if row is not None and row.state != PENDING and not due_retry:
                        if row.state == RETRY:
                            plan.waiting.append(row)
                        continue
                    item = Item(key, notice, target, info.mode, previous, row, earlier)
                    _add(plan, groups, info, target, item)
    plan.cancel = _superseded(notices, current.values(), by_name)
    return plan


def _wanted(notice: Notice, info: ChannelInfo, past: list[Row], seen_here: bool,
            now: datetime, ends: datetime | None
            ) -> list[tuple[str, Receipt | None, tuple[Receipt, ...]]]:
    received = sorted((r for r in past if r.state in RECEIVED
                       and r.key.event in ("publish", "correction")), key=lambda r: r.seq)
    if notice.status is Status.withdrawn:
        if not received or (info.scope == "digest" and not info.tells_withdrawal):
            return []
        return [("withdrawal", _receipt(received[-1]), _receipts(received))]
    wanted: list[tuple[str, Receipt | None, tuple[Receipt, ...]]] = []
    earlier = [r for r in received if r.key.revision < notice.revision]
    if notice.revision >= 2 and earlier:
        wanted.append(("correction", _receipt(earlier[-1]), _receipts(earlier)))
    elif not (notice.revision >= 2 and seen_here and not received) and (
            received or info.newsworthy(notice)):
        # A first publication; or a correction of a notice this channel never carried, which
        # is then simply published. Targets that missed revision 1 do not get the correction.
        wanted.append(("publish", None, ()))
    if info.scope == "collection" and ends is not None and now >= ends and any(
            r.as_of < ends for r in received):
        wanted.append(("expiry", None, ()))
    return wanted


def _receipts(rows: list[Row]) -> tuple[Receipt, ...]:
    return tuple(r for r in map(_receipt, rows) if r is not None)


def _receipt(row: Row) -> Receipt | None:
    try:
        return Receipt.from_dict(row.receipt) if row.receipt else None
    except (KeyError, TypeError, ValueError):
        return None


def _add(plan: Plan, groups: dict[tuple[str, str], Batch], info: ChannelInfo, target: Target,
         item: Item) -> None:
    if info.scope == "notice":
        plan.batches.append(Batch(info.name, info.scope, target, [item]))
        return
    batch = groups.get((info.name, target.key))
    if batch is None:
        batch = groups[(info.name, target.key)] = Batch(info.name, info.scope, target)
        plan.batches.append(batch)
    batch.items.append(item)


def _superseded(notices: Sequence[Notice], rows: Iterable[Row],
                channels: dict[str, ChannelInfo]) -> list[tuple[Row, str]]:
    """Pending or retrying deliveries a newer revision or a withdrawal made pointless."""
    by_id = {n.id: n for n in notices}
    cancel = []
    for row in rows:
        notice = by_id.get(row.key.notice_id)
        if notice is None or row.state not in SENDABLE or row.key.channel not in channels:
            continue
        if row.key.revision < notice.revision:
            cancel.append((row, f"superseded by revision {notice.revision}"))
        elif notice.status is Status.withdrawn and row.key.event != "withdrawal":
            cancel.append((row, "the notice was withdrawn"))
    return cancel
