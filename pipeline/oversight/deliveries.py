"""What the ledger knows about each notice, read without writing: who carried it, and when.

The build gives the site's project pages a ``DeliverySummary`` made here (through a read-only
connection; the build never creates or migrates the ledger), and its ``digest`` is part of the
collection's cache key, so a page is made again exactly when a new channel carried a notice.
Only per-notice deliveries that reached their target count, each at the moment of its first
arrival, up to the end of the day before the build (``summary_for_build``): a site swap or a
state that comes and goes does not change the pages, and a re-run on the same day sends
nothing new.

``read_deliveries`` (for the compliance report and the alerts) reads every per-notice delivery
with its current state, and the board postings.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from pathlib import Path

from pipeline import board_postings
from pipeline.errors import LedgerError
from pipeline.ledger import IN_DOUBT, RECEIVED, Ledger

# How channels are called on the project page and in reports.
CHANNEL_LABELS = {
    "site": "网站", "telegram": "Telegram", "wechat": "微信公众号", "newspaper": "报纸",
    "ticker": "电子屏", "sms": "短信", "board": "公示栏",
}


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


@dataclass(frozen=True)
class Carried:
    """One delivery of one notice: where it went, its state now, and when it first arrived."""

    notice_id: str
    revision: int
    event: str
    channel: str
    target: str
    target_label: str
    state: str
    since: datetime  # the logical moment of its latest event
    arrived: datetime | None  # the logical moment it first reached the target
    reason: str | None = None
    targets: int = 1  # how many targets this line stands for (the build folds them)

    @property
    def received(self) -> bool:
        return self.state in RECEIVED


@dataclass(frozen=True)
class Posting:
    """One sheet on one board: when it went up and, if it has, when it came down."""

    notice_id: str
    revision: int
    board: str
    posted: datetime
    taken_down: datetime | None


@dataclass(frozen=True)
class DeliverySummary:
    """Per notice, the channels that carried it; picklable, so render workers get it too."""

    carried: tuple[Carried, ...] = ()
    postings: tuple[Posting, ...] = ()
    _by_notice: dict[str, list[Carried]] = field(default_factory=dict, compare=False,
                                                 repr=False)

    def of(self, notice_id: str) -> list[Carried]:
        if not self._by_notice and self.carried:
            for item in self.carried:
                self._by_notice.setdefault(item.notice_id, []).append(item)
        return self._by_notice.get(notice_id, [])

    def postings_of(self, notice_id: str) -> list[Posting]:
        return [p for p in self.postings if p.notice_id == notice_id]

    def digest(self) -> str:
        rows = [(c.notice_id, c.revision, c.event, c.channel, c.target, c.state,
                 c.arrived.isoformat() if c.arrived else None, c.targets) for c in self.carried]
        rows += [(p.notice_id, p.revision, p.board, p.posted.isoformat(),
                  p.taken_down.isoformat() if p.taken_down else None) for p in self.postings]
        return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:24]


EMPTY = DeliverySummary()


def summary_for_build(ledger_path: Path, as_of: datetime, zone: tzinfo) -> DeliverySummary:
    """What reached people up to the end of the day before ``as_of`` (the build's instant),
    for the site's pages; empty when there is no ledger yet or it cannot be read (the pages
    then say nothing was delivered; `publish` reports the ledger).

    The pages are a record closed daily, like the ledgers they stand for: a publish delivers
    the site it built, so a page that showed that same run's deliveries would differ at the
    next run and the site would go out again each time. Up to yesterday, every run of a day
    builds the same pages, and a re-run sends nothing."""
    if not ledger_path.is_file():
        return EMPTY
    try:
        with Ledger(ledger_path, readonly=True) as ledger:
            summary = _read(ledger, received_only=True)
    except LedgerError:
        return EMPTY
    cut = datetime.combine(as_of.astimezone(zone).date(), time(0), tzinfo=zone)
    # One line per notice and channel (an SMS digest reaches thousands of phones; the page
    # says how many, and when the first had it): small enough to hand to every worker.
    folded: dict[tuple[str, str], tuple[Carried, set[str], datetime]] = {}
    for item in summary.carried:
        if item.arrived is None or item.arrived >= cut:
            continue
        key = (item.notice_id, item.channel)
        first, targets, earliest = folded.get(key, (item, set(), item.arrived))
        targets.add(item.target)
        folded[key] = (first, targets, min(earliest, item.arrived))
    carried = tuple(
        Carried(first.notice_id, first.revision, first.event, first.channel, first.target,
                first.target_label, first.state, earliest, earliest, None, len(targets))
        for first, targets, earliest in folded.values())
    postings = tuple(
        Posting(p.notice_id, p.revision, p.board, p.posted,
                p.taken_down if p.taken_down is not None and p.taken_down < cut else None)
        for p in summary.postings if p.posted < cut)
    return DeliverySummary(carried, postings)


def read_deliveries(ledger_path: Path) -> DeliverySummary:
    """Every per-notice delivery with its current state, and every board posting."""
    if not ledger_path.is_file():
        return EMPTY
    with Ledger(ledger_path, readonly=True) as ledger:
        return _read(ledger, received_only=False)


def _read(ledger: Ledger, *, received_only: bool) -> DeliverySummary:
    try:
        rows = ledger.db.execute(
            "SELECT d.notice_id, d.revision, d.event, d.channel, d.target, d.target_label, "
            "c.state, c.as_of, c.reason, (SELECT MIN(e.as_of) FROM events e WHERE "
            "e.delivery_id = d.id AND e.state IN ('delivered', 'resolved')) "
            "FROM deliveries d JOIN current c ON c.id = d.id "
            "WHERE d.notice_id NOT LIKE '*%' ORDER BY d.notice_id, d.revision, d.event, "
            "d.channel, d.target").fetchall()
    except sqlite3.Error:  # an empty file or an older schema
        rows = []
    carried = []
    for (notice_id, revision, event, channel, target, label, state, as_of, reason,
         arrived) in rows:
        if received_only and arrived is None:
            continue
        carried.append(Carried(notice_id, revision, event, channel, target, label,
                               state if not received_only else "delivered",
                               _moment(as_of) if not received_only else _moment(arrived),
                               _moment(arrived) if arrived else None, reason))
    return DeliverySummary(tuple(carried), tuple(_postings(board_postings.history(ledger))))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _postings(records: Iterable[board_postings.PostingRecord]) -> list[Posting]:
    """Posted/taken-down rows paired into sheets, in the order they went up."""
    open_sheets: dict[tuple[str, int, str], int] = {}
    sheets: list[Posting] = []
    for row in records:
        key = (row.notice_id, row.revision, row.board)
        if row.action == board_postings.POSTED:
            open_sheets[key] = len(sheets)
            sheets.append(Posting(row.notice_id, row.revision, row.board, row.at, None))
        elif key in open_sheets:
            index = open_sheets.pop(key)
            sheet = sheets[index]
            sheets[index] = Posting(sheet.notice_id, sheet.revision, sheet.board, sheet.posted,
                                    row.at)
    return sheets


def open_problems(summary: DeliverySummary, notice_id: str) -> list[Carried]:
    """Deliveries of a notice that failed or are in doubt, still unresolved."""
    return [c for c in summary.of(notice_id) if c.state in ("failed", IN_DOUBT)]
