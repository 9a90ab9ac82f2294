"""When a board sheet went up and came down: the clerk's word, kept in the ledger.

``noticecast board posted ID --area A [--at TIME]`` and ``taken-down`` append a row to the
ledger's ``postings`` table (append-only, like every table of the ledger). A notice's board
period counts from posting, so the print pack keeps a sheet for as many days as its publicity
period has, from the day it went up; the compliance report reads the same rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.errors import LedgerError
from pipeline.ledger import Ledger, operator_actor
from pipeline.renderers.board_pack import Posting

POSTED, TAKEN_DOWN = "posted", "taken-down"


@dataclass(frozen=True)
class PostingRecord:
    seq: int
    notice_id: str
    revision: int
    board: str  # the board's area
    action: str  # posted | taken-down
    at: datetime
    recorded_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "notice_id": self.notice_id, "revision": self.revision,
                "board": self.board, "action": self.action, "at": self.at.isoformat(),
                "recorded_at": self.recorded_at.isoformat(), "actor": self.actor}


_COLUMNS = "seq, notice_id, revision, board, action, at, recorded_at, actor"


def _record(row: tuple[Any, ...]) -> PostingRecord:
    seq, notice_id, revision, board, action, at, recorded_at, actor = row
    return PostingRecord(seq, notice_id, revision, board, action, datetime.fromisoformat(at),
                         datetime.fromisoformat(recorded_at), actor)


def history(ledger: Ledger, *, notice_id: str | None = None, board: str | None = None
            ) -> list[PostingRecord]:
    """Every posting row, oldest first; empty for a ledger without the table yet."""
    where, args = [], []
    if notice_id:
        where.append("notice_id = ?")
        args.append(notice_id)
    if board:
        where.append("board = ?")
        args.append(board)
    sql = f"SELECT {_COLUMNS} FROM postings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    try:
        return [_record(r) for r in ledger.db.execute(sql + " ORDER BY seq", args)]
    except sqlite3.OperationalError:  # an older ledger, opened read-only before its migration
        return []


def record(ledger: Ledger, notice_id: str, revision: int, board: str, action: str,
           at: datetime, *, actor: str | None = None) -> PostingRecord:
    """Append one posting; a sheet must be up before it can come down, and not be put up
    twice without coming down in between."""
    if action not in (POSTED, TAKEN_DOWN):
        raise LedgerError(f"unknown posting action {action!r}")
    db = ledger.db
    db.execute("BEGIN IMMEDIATE")
    try:
        last = db.execute(
            f"SELECT {_COLUMNS} FROM postings WHERE notice_id = ? AND revision = ? AND board = ? "
            "ORDER BY seq DESC LIMIT 1", (notice_id, revision, board)).fetchone()
        previous = _record(last) if last else None
        where = f"{notice_id} (revision {revision}) on the board of {board}"
        if action == POSTED and previous is not None and previous.action == POSTED:
            shown = previous.at.astimezone(at.tzinfo).isoformat(timespec="minutes")
            raise LedgerError(f"{where} was recorded as posted at {shown} "
                              "already; record `taken-down` first if it was put up again")
        if action == TAKEN_DOWN and (previous is None or previous.action != POSTED):
            raise LedgerError(f"{where} is not recorded as posted; record `posted` first")
        if action == TAKEN_DOWN and previous is not None and at < previous.at:
            shown = previous.at.astimezone(at.tzinfo).isoformat(timespec="minutes")
            raise LedgerError(f"{where} was posted at {shown}, after "
                              f"{at.isoformat(timespec='minutes')}; give the time it came down "
                              "with --at")
        cursor = db.execute(
            "INSERT INTO postings (notice_id, revision, board, action, at, recorded_at, actor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (notice_id, revision, board, action, at.astimezone(UTC).isoformat(),
             datetime.now(UTC).isoformat(timespec="seconds"), actor or operator_actor()))
        seq = cursor.lastrowid
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    row = db.execute(f"SELECT {_COLUMNS} FROM postings WHERE seq = ?", (seq,)).fetchone()
    return _record(row)


def by_sheet(records: list[PostingRecord], board: str, zone: ZoneInfo
             ) -> dict[tuple[str, int], Posting]:
    """(notice, revision) -> the first day it went up and the day it last came down, on one
    board, in the office's time zone (what the print pack needs)."""
    found: dict[tuple[str, int], Posting] = {}
    for row in records:
        if row.board != board:
            continue
        key = (row.notice_id, row.revision)
        day = row.at.astimezone(zone).date()
        current = found.get(key, Posting())
        if row.action == POSTED:
            found[key] = Posting(current.posted or day, None)
        else:
            found[key] = Posting(current.posted, day)
    return found


def days_up(posted: datetime, taken_down: datetime | None, now: datetime) -> int:
    """Calendar days a sheet has been up, both ends counted."""
    end = (taken_down or now).date()
    return max(0, (end - posted.date()).days + 1) if end >= posted.date() else 0


def period_end(posted: date, days: int) -> date:
    return posted + timedelta(days=days - 1)
