"""The delivery ledger: what went where, when, and what happened, in SQLite.

Two tables, both append-only (triggers refuse UPDATE and DELETE, so history cannot be
rewritten by accident):

``deliveries``
    one row per delivery key ``(notice_id, revision, event, channel, target)``, unique. The
    design's key is ``(notice_id, revision, channel, target)``; the event (publish, correction,
    withdrawal, expiry) is part of it because a withdrawal of revision 1 to a chat is a second,
    separate delivery to the same place. ``mode`` remembers whether the channel was idempotent
    or at-most-once when the row was made, so crash recovery needs no channel code.

``events``
    one row per state change of a delivery: the state, when (wall clock, UTC), as of which
    logical moment (``--today``/``--now``), who (the run or the operator), the attempt number,
    ``next_at`` for retries, the reason of a failure and the channel's receipt (JSON). The
    current state of a delivery is its latest event.

States::

    pending ──▶ sending ──▶ delivered
                   │  ├────▶ retry (next_at) ──▶ sending …
                   │  └────▶ failed (reason)
                   └──(crash)──▶ pending (idempotent channel: deliver again)
                             └──▶ in-doubt (at-most-once) ──resolve──▶ resolved | pending

``cancelled`` ends a pending or retrying delivery that a newer revision or a withdrawal made
pointless. ``resolved`` is an operator's word that an in-doubt delivery did arrive; it counts
as delivered.

The database runs in WAL mode with ``synchronous=FULL`` (``publish.durability: full``): the
``sending`` intent is on disk before a channel is called, which is what makes "never twice"
possible for SMS even across a power cut. ``durability: normal`` skips the fsync per write: a
killed or crashed noticecast still loses nothing (the OS holds the write), a crashed machine
may lose the last records.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import LedgerError
from pipeline.redact import redact

PENDING, SENDING, DELIVERED, RETRY, FAILED, IN_DOUBT, RESOLVED, CANCELLED = (
    "pending", "sending", "delivered", "retry", "failed", "in-doubt", "resolved", "cancelled")
STATES = (PENDING, SENDING, DELIVERED, RETRY, FAILED, IN_DOUBT, RESOLVED, CANCELLED)
RECEIVED = frozenset({DELIVERED, RESOLVED})  # the target has it
FINAL = frozenset({DELIVERED, RESOLVED, FAILED, CANCELLED})
SENDABLE = frozenset({PENDING, RETRY})  # a run may claim these (retry only once next_at passed)
EVENTS = ("publish", "correction", "withdrawal", "expiry")

# Each migration moves the schema one version up; PRAGMA user_version says where a file is.
MIGRATIONS: tuple[str, ...] = (
    # 1: the two append-only tables
    f"""
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        notice_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        event TEXT NOT NULL CHECK (event IN ({", ".join(repr(e) for e in EVENTS)})),
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        target_label TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL CHECK (mode IN ('idempotent', 'at-most-once')),
        created_at TEXT NOT NULL,
        UNIQUE (notice_id, revision, event, channel, target)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
        state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
        at TEXT NOT NULL,
        as_of TEXT NOT NULL,
        actor TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        next_at TEXT,
        reason TEXT,
        receipt TEXT,
        batch TEXT
    );
    CREATE INDEX events_by_delivery ON events (delivery_id, seq);
    CREATE INDEX deliveries_by_notice ON deliveries (notice_id, channel);
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
    CREATE TRIGGER deliveries_append_only_update BEFORE UPDATE ON deliveries
        BEGIN SELECT RAISE(ABORT, 'ledger deliveries are append-only'); END;
    CREATE TRIGGER deliveries_append_only_delete BEFORE DELETE ON deliveries
        BEGIN SELECT RAISE(ABORT, 'ledger deliveries are append-only'); END;
    """,
    # 2: the current state of each delivery, as a view over its latest event
    """
    CREATE VIEW current AS
        SELECT d.id, d.notice_id, d.revision, d.event, d.channel, d.target, d.target_label,
               d.mode, d.created_at, e.seq, e.state, e.at, e.as_of, e.actor, e.attempt,
               e.next_at, e.reason, e.receipt, e.batch
        FROM deliveries d
        JOIN events e ON e.seq = (SELECT MAX(seq) FROM events WHERE delivery_id = d.id);
    """,
    # 3: what comes back from SMS: the message id of every part an SMSC or gateway accepted,
    # the handset receipts for them, and the phones that replied with an opt-out word
    # (keyed like the subscribers: a hash, with a masked label for people)
    """
    CREATE TABLE sms_parts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        message_id TEXT NOT NULL,
        target TEXT NOT NULL,
        batch TEXT NOT NULL,
        part INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX sms_parts_by_message ON sms_parts (channel, message_id);
    CREATE INDEX sms_parts_by_batch ON sms_parts (batch, target);
    CREATE TABLE receipts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('handset-delivered', 'undeliverable', 'expired')),
        stat TEXT NOT NULL,
        error TEXT,
        at TEXT NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX receipts_by_message ON receipts (channel, message_id);
    CREATE TABLE suppressions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        target_label TEXT NOT NULL,
        word TEXT NOT NULL,
        channel TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX suppressions_by_target ON suppressions (target);
    CREATE TRIGGER sms_parts_append_only_update BEFORE UPDATE ON sms_parts
        BEGIN SELECT RAISE(ABORT, 'ledger sms_parts are append-only'); END;
    CREATE TRIGGER sms_parts_append_only_delete BEFORE DELETE ON sms_parts
        BEGIN SELECT RAISE(ABORT, 'ledger sms_parts are append-only'); END;
    CREATE TRIGGER receipts_append_only_update BEFORE UPDATE ON receipts
        BEGIN SELECT RAISE(ABORT, 'ledger receipts are append-only'); END;
    CREATE TRIGGER receipts_append_only_delete BEFORE DELETE ON receipts
        BEGIN SELECT RAISE(ABORT, 'ledger receipts are append-only'); END;
    CREATE TRIGGER suppressions_append_only_update BEFORE UPDATE ON suppressions
        BEGIN SELECT RAISE(ABORT, 'ledger suppressions are append-only'); END;
    CREATE TRIGGER suppressions_append_only_delete BEFORE DELETE ON suppressions
        BEGIN SELECT RAISE(ABORT, 'ledger suppressions are append-only'); END;
    """,
    # 5: when a board sheet went up and came down (``noticecast board posted|taken-down``):
    # the clerk's word, appended, never edited; the board period counts from posting.
    """
    CREATE TABLE postings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        notice_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        board TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('posted', 'taken-down')),
        at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        actor TEXT NOT NULL
    );
    CREATE INDEX postings_by_board ON postings (board, notice_id, revision, seq);
    CREATE TRIGGER postings_append_only_update BEFORE UPDATE ON postings
        BEGIN SELECT RAISE(ABORT, 'ledger postings are append-only'); END;
    CREATE TRIGGER postings_append_only_delete BEFORE DELETE ON postings
        BEGIN SELECT RAISE(ABORT, 'ledger postings are append-only'); END;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
SMS_TABLES_VERSION = 3  # the migration that made sms_parts, receipts and suppressions


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def run_actor() -> str:
    """Who writes the events of this process: user, host and pid (no secrets)."""
    return f"publish {_user()}@{socket.gethostname()} pid {os.getpid()}"


def operator_actor() -> str:
    return f"operator {_user()}@{socket.gethostname()}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True, order=True)
class Key:
    """A delivery key. Printed as ``notice:revision:event:channel:target`` (target last, as it
    is the only part that may hold a colon)."""

    notice_id: str
    revision: int
    event: str
    channel: str
    target: str

    def __str__(self) -> str:
        return f"{self.notice_id}:{self.revision}:{self.event}:{self.channel}:{self.target}"

    @classmethod
    def parse(cls, text: str) -> Key:
        parts = text.split(":", 4)
        if len(parts) != 5 or not parts[1].isdigit() or parts[2] not in EVENTS:
            raise LedgerError(
                f"{text!r} is not a delivery key; write NOTICE:REVISION:EVENT:CHANNEL:TARGET "
                "as `noticecast status` shows it, e.g. sf-2018-0012:1:publish:sms:3f9a1c")
        return cls(parts[0], int(parts[1]), parts[2], parts[3], parts[4])


@dataclass(frozen=True)
class Row:
    """A delivery and its current state (its latest event)."""

    id: int
    key: Key
    target_label: str
    mode: str
    seq: int
    state: str
    at: datetime
    as_of: datetime
    actor: str
    attempt: int
    next_at: datetime | None
    reason: str | None
    receipt: dict[str, Any] | None
    batch: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": str(self.key), "id": self.id, "notice_id": self.key.notice_id,
            "revision": self.key.revision, "event": self.key.event,
            "channel": self.key.channel, "target": self.key.target,
            "target_label": self.target_label, "mode": self.mode, "state": self.state,
            "at": _iso(self.at), "as_of": _iso(self.as_of), "actor": self.actor,
            "attempt": self.attempt, "next_at": _iso(self.next_at), "reason": self.reason,
            "receipt": self.receipt, "batch": self.batch,
        }


@dataclass(frozen=True)
class Event:
    """One row of the history."""

    seq: int
    key: Key
    target_label: str
    state: str
    at: datetime
    as_of: datetime
    actor: str
    attempt: int
    next_at: datetime | None
    reason: str | None
    receipt: dict[str, Any] | None
    batch: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "key": str(self.key), "notice_id": self.key.notice_id,
            "revision": self.key.revision, "event": self.key.event,
            "channel": self.key.channel, "target": self.key.target,
            "target_label": self.target_label, "state": self.state, "at": _iso(self.at),
            "as_of": _iso(self.as_of), "actor": self.actor, "attempt": self.attempt,
            "next_at": _iso(self.next_at), "reason": self.reason, "receipt": self.receipt,
            "batch": self.batch,
        }


@dataclass(frozen=True)
class Outcome:
    """What to append for one delivery after a channel call (or instead of one)."""

    state: str
    attempt: int = 0
    next_at: datetime | None = None
    reason: str | None = None
    receipt: dict[str, Any] | None = None
    batch: str | None = None


_ROW_COLUMNS = ("id, notice_id, revision, event, channel, target, target_label, mode, seq, "
                "state, at, as_of, actor, attempt, next_at, reason, receipt, batch")


def _row(record: sqlite3.Row | tuple[Any, ...]) -> Row:
    (id_, notice_id, revision, event, channel, target, label, mode, seq, state, at, as_of,
     actor, attempt, next_at, reason, receipt, batch) = record
    return Row(id_, Key(notice_id, revision, event, channel, target), label, mode, seq, state,
               _parse(at), _parse(as_of), actor, attempt, _parse(next_at), reason,
               json.loads(receipt) if receipt else None, batch)


class Ledger:
    """An open ledger. Use as a context manager, or call ``close``."""

    def __init__(self, path: Path, *, readonly: bool = False, durability: str = "full") -> None:
        self.path = path
        self.readonly = readonly
        if readonly:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL" if durability == "normal"
                            else "PRAGMA synchronous=FULL")
            self.migrate()
        self._check_version()

    @classmethod
    def open(cls, path: Path) -> Ledger:
        return cls(path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self) -> None:
        if self.version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: ledger schema version {self.version} is newer than this "
                f"noticecast understands ({SCHEMA_VERSION}); upgrade noticecast")

    def migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION, one migration per transaction."""
        with self._write():
            start = self.version
        for number in range(start, SCHEMA_VERSION):
            with self._write():
                if self.version != number:  # another process migrated meanwhile
                    continue
                for statement in _statements(MIGRATIONS[number]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def _write(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes SQLite's write lock at once, so a read-then-append is atomic.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reading -----------------------------------------------------------------------------

    def current(self, *, notice_id: str | None = None, channel: str | None = None,
                states: Iterable[str] | None = None) -> list[Row]:
        """The current state of every delivery, filtered, in key order."""
        where, args = [], []
        if notice_id:
            where.append("notice_id = ?")
            args.append(notice_id)
        if channel:
            where.append("channel = ?")
            args.append(channel)
        wanted = list(states or ())
        if wanted:
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        sql = f"SELECT {_ROW_COLUMNS} FROM current"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY notice_id, revision, event, channel, target"
        return [_row(r) for r in self.db.execute(sql, args)]

    def get(self, key: Key) -> Row | None:
        record = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM current WHERE notice_id = ? AND revision = ? "
            "AND event = ? AND channel = ? AND target = ?",
            (key.notice_id, key.revision, key.event, key.channel, key.target)).fetchone()
        return _row(record) if record else None

    def history(self, *, notice_id: str | None = None, channel: str | None = None,
                key: Key | None = None) -> list[Event]:
        where, args = [], []
        if notice_id:
            where.append("d.notice_id = ?")
            args.append(notice_id)
        if channel:
            where.append("d.channel = ?")
            args.append(channel)
        if key:
            where.append("d.notice_id = ? AND d.revision = ? AND d.event = ? AND d.channel = ? "
                         "AND d.target = ?")
            args.extend([key.notice_id, key.revision, key.event, key.channel, key.target])
        sql = ("SELECT e.seq, d.notice_id, d.revision, d.event, d.channel, d.target, "
               "d.target_label, e.state, e.at, e.as_of, e.actor, e.attempt, e.next_at, "
               "e.reason, e.receipt, e.batch FROM events e JOIN deliveries d "
               "ON d.id = e.delivery_id")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY e.seq"
        events = []
        for (seq, notice_id_, revision, event, channel_, target, label, state, at, as_of,
             actor, attempt, next_at, reason, receipt, batch) in self.db.execute(sql, args):
            events.append(Event(seq, Key(notice_id_, revision, event, channel_, target), label,
                                state, _parse(at), _parse(as_of), actor, attempt,
                                _parse(next_at), reason,
                                json.loads(receipt) if receipt else None, batch))
        return events

    # -- writing -----------------------------------------------------------------------------

    def _append(self, delivery_id: int, outcome: Outcome, *, as_of: datetime,
                actor: str) -> None:
        self.db.execute(
            "INSERT INTO events (delivery_id, state, at, as_of, actor, attempt, next_at, "
            "reason, receipt, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (delivery_id, outcome.state, _iso(utc_now()), _iso(as_of), actor, outcome.attempt,
             _iso(outcome.next_at), _recorded(outcome.reason), _recorded_receipt(outcome.receipt),
             outcome.batch))

    def _id(self, key: Key) -> int | None:
        record = self.db.execute(
            "SELECT id FROM deliveries WHERE notice_id = ? AND revision = ? AND event = ? "
            "AND channel = ? AND target = ?",
            (key.notice_id, key.revision, key.event, key.channel, key.target)).fetchone()
        return record[0] if record else None

    def claim(self, wanted: Sequence[tuple[Key, str, str]], *, as_of: datetime, actor: str,
              batch: str | None = None) -> dict[Key, int]:
        """Write the intent to send: append ``sending`` to each (key, label, mode) that is new,
        pending or a due retry, in one transaction. Returns the claimed keys and their attempt
        numbers; a key that another run got to first (or that is final) is left out."""
        claimed: dict[Key, int] = {}
        with self._write():
            for key, label, mode in wanted:
                delivery_id = self._id(key)
                if delivery_id is None:
                    self.db.execute(
                        "INSERT INTO deliveries (notice_id, revision, event, channel, target, "
                        "target_label, mode, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key.notice_id, key.revision, key.event, key.channel, key.target,
                         label, mode, _iso(utc_now())))
                    delivery_id = self._id(key)
                    assert delivery_id is not None
                    self._append(delivery_id, Outcome(PENDING), as_of=as_of, actor=actor)
                    attempt = 0
                else:
                    row = self.get(key)
                    assert row is not None
                    due_retry = row.state == RETRY and (row.next_at is None
                                                        or row.next_at <= as_of)
                    if row.state != PENDING and not due_retry:
                        continue
                    attempt = row.attempt
                self._append(delivery_id, Outcome(SENDING, attempt=attempt + 1, batch=batch),
                             as_of=as_of, actor=actor)
                claimed[key] = attempt + 1
        return claimed

    def record(self, outcomes: Iterable[tuple[Key, Outcome]], *, as_of: datetime,
               actor: str) -> None:
        """Append the outcome of a channel call (or any state change) for each key."""
        with self._write():
            for key, outcome in outcomes:
                delivery_id = self._id(key)
                if delivery_id is None:
                    raise LedgerError(f"no delivery {key} in the ledger")
                self._append(delivery_id, outcome, as_of=as_of, actor=actor)

    def recover(self, *, as_of: datetime, actor: str) -> list[Row]:
        """After a crash: ``sending`` becomes ``pending`` on idempotent channels (delivered
        again) and ``in-doubt`` on at-most-once ones (an operator decides). Call it only while
        holding the publish lock, or it would take a live run's intent for a crash."""
        changed = []
        with self._write():
            for row in self.current(states=[SENDING]):
                if row.mode == "idempotent":
                    outcome = Outcome(PENDING, attempt=row.attempt, batch=row.batch,
                                      reason="interrupted while sending; delivering again")
                else:
                    outcome = Outcome(
                        IN_DOUBT, attempt=row.attempt, batch=row.batch,
                        reason="interrupted while sending; it may or may not have arrived. "
                               "Check, then run `noticecast resolve KEY --delivered` or "
                               "`--resend`")
                self._append(row.id, outcome, as_of=as_of, actor=actor)
                changed.append(row)
        return changed

    def resolve(self, key: Key, *, delivered: bool, as_of: datetime, actor: str) -> Row:
        """An operator's decision on an in-doubt (or failed) delivery."""
        with self._write():
            row = self.get(key)
            if row is None:
                raise LedgerError(f"no delivery {key} in the ledger; see `noticecast status`")
            allowed = {IN_DOUBT, FAILED} if not delivered else {IN_DOUBT, FAILED, RETRY}
            if row.state not in allowed:
                raise LedgerError(
                    f"{key} is {row.state}; only in-doubt or failed deliveries can be resolved")
            if delivered:
                outcome = Outcome(RESOLVED, attempt=row.attempt, batch=row.batch,
                                  reason="the operator confirmed it arrived")
            else:
                outcome = Outcome(PENDING, attempt=0, batch=row.batch,
                                  reason="the operator asked to send it again")
            self._append(row.id, outcome, as_of=as_of, actor=actor)
        result = self.get(key)
        assert result is not None
        return result

    # -- what comes back from SMS: message ids, handset receipts, opt-outs -------------------

    def _has_sms_tables(self) -> bool:
        return self.version >= SMS_TABLES_VERSION

    def record_sms_parts(self, channel: str, target: str, batch: str,
                         parts: Iterable[tuple[int, int, str]]) -> None:
        """Remember the message id of each accepted part ``(part, parts, message_id)``, so a
        receipt that names it can be matched to the delivery (target and digest)."""
        with self._write():
            for part, total, message_id in parts:
                self.db.execute(
                    "INSERT INTO sms_parts (channel, message_id, target, batch, part, parts, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (channel, message_id, target, batch, part, total, _iso(utc_now())))

    def record_receipt(self, channel: str, message_id: str, state: str, stat: str,
                       error: str | None, source: str) -> None:
        """A handset receipt: ``handset-delivered``, ``undeliverable`` or ``expired``."""
        with self._write():
            self.db.execute(
                "INSERT INTO receipts (channel, message_id, state, stat, error, at, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (channel, message_id, state, stat, error, _iso(utc_now()), source))

    def handset_states(self) -> dict[tuple[str, str], HandsetState]:
        """Per SMS delivery ``(batch, target)``: how many parts were accepted and the latest
        receipt of each part, counted by state."""
        if not self._has_sms_tables():
            return {}
        states: dict[tuple[str, str], HandsetState] = {}
        for batch, target, parts, accepted in self.db.execute(
                "SELECT batch, target, MAX(parts), COUNT(DISTINCT part) FROM sms_parts "
                "GROUP BY batch, target"):
            states[(batch, target)] = HandsetState(parts=parts, accepted=accepted)
        for batch, target, state, count in self.db.execute(
                "SELECT p.batch, p.target, r.state, COUNT(*) FROM sms_parts p JOIN receipts r "
                "ON r.channel = p.channel AND r.message_id = p.message_id AND r.seq = "
                "(SELECT MAX(seq) FROM receipts WHERE channel = p.channel "
                "AND message_id = p.message_id) GROUP BY p.batch, p.target, r.state"):
            states[(batch, target)].receipts[state] = count
        return states

    def receipts(self) -> list[dict[str, Any]]:
        """Every receipt, oldest first, with the delivery it belongs to when known."""
        if not self._has_sms_tables():
            return []
        rows = self.db.execute(
            "SELECT r.seq, r.channel, r.message_id, r.state, r.stat, r.error, r.at, r.source, "
            "p.target, p.batch, p.part, p.parts FROM receipts r LEFT JOIN sms_parts p "
            "ON p.channel = r.channel AND p.message_id = r.message_id ORDER BY r.seq")
        names = ("seq", "channel", "message_id", "state", "stat", "error", "at", "source",
                 "target", "batch", "part", "parts")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def suppress(self, target: str, label: str, word: str, *, channel: str,
                 source: str) -> bool:
        """Put a phone (by its key) on the suppression list; False if it was on it already."""
        with self._write():
            if self.db.execute("SELECT 1 FROM suppressions WHERE target = ?",
                               (target,)).fetchone():
                return False
            self.db.execute(
                "INSERT INTO suppressions (target, target_label, word, channel, at, source) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (target, label, word, channel, _iso(utc_now()), source))
        return True

    def suppressions(self) -> list[Suppression]:
        """Who opted out, when and how (the first opt-out of each phone), oldest first."""
        if not self._has_sms_tables():
            return []
        return [Suppression(target, label, word, channel, _parse(at) or utc_now(), source)
                for target, label, word, channel, at, source in self.db.execute(
                    "SELECT target, target_label, word, channel, at, source FROM suppressions "
                    "WHERE seq IN (SELECT MIN(seq) FROM suppressions GROUP BY target) "
                    "ORDER BY seq")]


@dataclass
class HandsetState:
    """What the handsets said about one SMS delivery, in parts."""

    parts: int
    accepted: int
    receipts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """'handset-delivered 3/3', 'undeliverable 1/2, no receipt 1/2'."""
        shown = [f"{state} {count}/{self.parts}" for state, count in sorted(self.receipts.items())]
        waiting = self.accepted - sum(self.receipts.values())
        if waiting > 0:
            shown.append(f"no receipt yet {waiting}/{self.parts}")
        return ", ".join(shown)

    def as_dict(self) -> dict[str, Any]:
        return {"parts": self.parts, "accepted": self.accepted, "receipts": dict(self.receipts)}


@dataclass(frozen=True)
class Suppression:
    """A phone that asked for no more texts (by replying an opt-out word)."""

    target: str  # the subscriber key (a hash of the phone)
    target_label: str  # the masked phone
    word: str
    channel: str
    at: datetime
    source: str  # "smpp", "http callback", …

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "target_label": self.target_label, "word": self.word,
                "channel": self.channel, "at": _iso(self.at), "source": self.source}


def _statements(script: str) -> list[str]:
    """Split a migration into statements (triggers hold semicolons inside BEGIN … END)."""
    statements, buffer = [], ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _recorded(reason: str | None) -> str | None:
    """A reason as the ledger keeps it: whatever the far side echoed into an error, no secret
    and no phone number in full (``pipeline.redact``)."""
    return redact(reason) if reason else reason


def _recorded_receipt(receipt: dict[str, Any] | None) -> str | None:
    # Secrets only: a receipt's ids (an SMPP message id may be 11 digits) must stay exact.
    return redact(json.dumps(receipt, ensure_ascii=False), phones=False) if receipt else None


def open_readonly(path: Path) -> Ledger | None:
    """The ledger for reading, or None when no publish has run yet."""
    if not path.is_file():
        return None
    ledger = Ledger(path, readonly=True)
    if ledger.version < SCHEMA_VERSION:  # written by an older noticecast: migrate it first
        ledger.close()
        Ledger(path).close()
        ledger = Ledger(path, readonly=True)
    return ledger
