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
from contextlib import contextmanager, suppress
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
    # 4: the payload of each delivery and the ledger's identity.
    # * ``events.payload`` (on ``sending`` events): what the call carried, as JSON (the notice's
    #   content hash and revision, and each file's path, sha256 and media type); the bytes are
    #   kept once each in ``blobs``, so that a retry sends exactly what the first try sent.
    # * ``notice_changes``: edits a notice had after it was sent without a new revision (a
    #   ``minor_edit`` recorded, or a change still waiting for the office's decision).
    # * ``meta``: this ledger's id, which the project's history file names, so that an empty
    #   or replaced ledger is never taken for "nothing was ever sent".
    """
    ALTER TABLE events ADD COLUMN payload TEXT;
    CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE notice_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        notice_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        sent_hash TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('minor-edit', 'changed')),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        UNIQUE (notice_id, revision, content_hash, kind)
    );
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (name, value) VALUES ('ledger_id', lower(hex(randomblob(16))));
    CREATE TRIGGER blobs_append_only_update BEFORE UPDATE ON blobs
        BEGIN SELECT RAISE(ABORT, 'ledger blobs are append-only'); END;
    CREATE TRIGGER blobs_append_only_delete BEFORE DELETE ON blobs
        BEGIN SELECT RAISE(ABORT, 'ledger blobs are append-only'); END;
    CREATE TRIGGER notice_changes_append_only_update BEFORE UPDATE ON notice_changes
        BEGIN SELECT RAISE(ABORT, 'ledger notice_changes are append-only'); END;
    CREATE TRIGGER notice_changes_append_only_delete BEFORE DELETE ON notice_changes
        BEGIN SELECT RAISE(ABORT, 'ledger notice_changes are append-only'); END;
    CREATE TRIGGER meta_append_only_update BEFORE UPDATE ON meta
        BEGIN SELECT RAISE(ABORT, 'ledger meta is append-only'); END;
    CREATE TRIGGER meta_append_only_delete BEFORE DELETE ON meta
        BEGIN SELECT RAISE(ABORT, 'ledger meta is append-only'); END;
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
PAYLOAD_VERSION = 4  # the migration that added payloads, notice changes and the ledger id
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


@dataclass(frozen=True, order=True, slots=True)
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


@dataclass
class Payload:
    """What one channel call carries, fixed when the call is planned.

    ``files``: renderer, path, sha256, media type and meta of each artifact; ``stored`` marks
    those whose bytes are kept in the ledger (notice and digest deliveries; a site swap is on
    disk and described by its ``fingerprint`` only). ``notices`` maps each notice the call
    carries to the content hash it was made from.
    """

    files: list[dict[str, Any]]
    notices: dict[str, str] = field(default_factory=dict)
    fingerprint: str | None = None
    blobs: dict[str, bytes] = field(default_factory=dict)

    def describe(self) -> str:
        return json.dumps({"files": self.files, "notices": self.notices,
                           "fingerprint": self.fingerprint},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> Payload:
        data = json.loads(text)
        return cls(files=list(data.get("files") or []), notices=dict(data.get("notices") or {}),
                   fingerprint=data.get("fingerprint"))


_ROW_COLUMNS = ("id, notice_id, revision, event, channel, target, target_label, mode, seq, "
                "state, at, as_of, actor, attempt, next_at, reason, receipt, batch")


def _row(record: sqlite3.Row | tuple[Any, ...]) -> Row:
    (id_, notice_id, revision, event, channel, target, label, mode, seq, state, at, as_of,
     actor, attempt, next_at, reason, receipt, batch) = record
    return Row(id_, Key(notice_id, revision, event, channel, target), label, mode, seq, state,
               _parse(at), _parse(as_of), actor, attempt, _parse(next_at), reason,
               json.loads(receipt) if receipt else None, batch)


class _Rows:
    """A query's rows, fetched at once, so that a damaged file fails inside ``execute``."""

    def __init__(self, rows: list[Any], lastrowid: int | None) -> None:
        self.rows = rows
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class _GuardedConnection:
    """A SQLite connection whose errors become one-line LedgerErrors saying what to do."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.raw = db
        self.path = path

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Rows:
        try:
            cursor = self.raw.execute(sql, args)
            return _Rows(cursor.fetchall(), cursor.lastrowid)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise  # our own mistake (an append-only trigger, a bad statement), not the file's
        except sqlite3.DatabaseError as exc:
            raise ledger_failure(self.path, exc) from None

    def close(self) -> None:
        self.raw.close()


def ledger_failure(path: Path, error: sqlite3.Error) -> LedgerError:
    """What a SQLite error means for the person running noticecast, in one line."""
    text = str(error)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return LedgerError(f"{path}: the ledger is busy ({text}); another noticecast process "
                           "is writing it: wait for it to finish and run the command again")
    if "full" in lowered or "disk i/o" in lowered or "readonly" in lowered \
            or "read-only" in lowered or "unable to open" in lowered:
        return LedgerError(f"{path}: the ledger cannot be written ({text}); free disk space or "
                           "fix the folder's permissions, then run the command again")
    return LedgerError(
        f"{path}: the ledger is damaged ({text}); nothing was sent. Run `noticecast ledger "
        "check` to see what is wrong, then restore the last good copy (publish keeps one "
        "before each upgrade: `noticecast ledger check` lists them)")


class Ledger:
    """An open ledger. Use as a context manager, or call ``close``."""

    def __init__(self, path: Path, *, readonly: bool = False, durability: str = "full") -> None:
        self.path = path
        self.readonly = readonly
        try:
            if readonly:
                uri = f"{path.resolve().as_uri()}?mode=ro"
                raw = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                raw = sqlite3.connect(path, timeout=30, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"{path}: the ledger cannot be opened ({exc}); check that the "
                              "path in publish.ledger is a file in a folder you may write"
                              ) from None
        self.db = _GuardedConnection(raw, path)
        try:
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL" if durability == "normal"
                                else "PRAGMA synchronous=FULL")
                self.migrate()
            self._check_version()
        except BaseException:
            self.db.close()
            raise

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
        """Bring the schema to SCHEMA_VERSION, one migration per transaction. A ledger that
        holds history is copied first (``<ledger>.v<N>-<time>.bak``), so a failed or unwanted
        upgrade can be undone."""
        with self._write():
            start = self.version
        if 0 < start < SCHEMA_VERSION:
            self.backup(self.path.with_name(
                f"{self.path.name}.v{start}-{utc_now():%Y%m%dT%H%M%S}.bak"))
        for number in range(start, SCHEMA_VERSION):
            with self._write():
                if self.version != number:  # another process migrated meanwhile
                    continue
                for statement in _statements(MIGRATIONS[number]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    def backup(self, target: Path) -> Path:
        """A consistent copy of the ledger (SQLite's online backup), e.g. before a migration."""
        try:
            copy = sqlite3.connect(target)
            try:
                self.db.raw.backup(copy)
            finally:
                copy.close()
        except sqlite3.Error as exc:
            raise ledger_failure(target, exc) from None
        return target

    @contextmanager
    def _write(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes SQLite's write lock at once, so a read-then-append is atomic.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with suppress(LedgerError):  # a failed COMMIT may have rolled back already
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
                actor: str, payload: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO events (delivery_id, state, at, as_of, actor, attempt, next_at, "
            "reason, receipt, batch, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (delivery_id, outcome.state, _iso(utc_now()), _iso(as_of), actor, outcome.attempt,
             _iso(outcome.next_at), _recorded(outcome.reason), _recorded_receipt(outcome.receipt),
             outcome.batch, payload))

    def _id(self, key: Key) -> int | None:
        record = self.db.execute(
            "SELECT id FROM deliveries WHERE notice_id = ? AND revision = ? AND event = ? "
            "AND channel = ? AND target = ?",
            (key.notice_id, key.revision, key.event, key.channel, key.target)).fetchone()
        return record[0] if record else None

    def _insert(self, key: Key, label: str, mode: str) -> int:
        self.db.execute(
            "INSERT INTO deliveries (notice_id, revision, event, channel, target, "
            "target_label, mode, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key.notice_id, key.revision, key.event, key.channel, key.target, label, mode,
             _iso(utc_now())))
        delivery_id = self._id(key)
        assert delivery_id is not None
        return delivery_id

    def claim(self, wanted: Sequence[tuple[Key, str, str]], *, as_of: datetime, actor: str,
              batch: str | None = None, payload: Payload | None = None) -> dict[Key, int]:
        """Write the intent to send: append ``sending`` to each (key, label, mode) that is new,
        pending or a due retry, in one transaction. Returns the claimed keys and their attempt
        numbers; a key that another run got to first (or that is final) is left out.

        ``payload`` is what the call will carry; it is written with the intent (its bytes once
        each), so that a retry can send exactly the same."""
        claimed: dict[Key, int] = {}
        described = payload.describe() if payload is not None else None
        with self._write():
            if payload is not None:
                for sha, data in payload.blobs.items():
                    self.db.execute("INSERT OR IGNORE INTO blobs (sha256, data) VALUES (?, ?)",
                                    (sha, data))
            for key, label, mode in wanted:
                delivery_id = self._id(key)
                if delivery_id is None:
                    delivery_id = self._insert(key, label, mode)
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
                             as_of=as_of, actor=actor, payload=described)
                claimed[key] = attempt + 1
        return claimed

    # -- payloads: what a delivery carried ----------------------------------------------------

    def payload(self, key: Key) -> Payload | None:
        """What the last attempt of ``key`` carried (its bytes read back), or None."""
        record = self.db.execute(
            "SELECT e.payload FROM events e JOIN deliveries d ON d.id = e.delivery_id "
            "WHERE d.notice_id = ? AND d.revision = ? AND d.event = ? AND d.channel = ? "
            "AND d.target = ? AND e.payload IS NOT NULL ORDER BY e.seq DESC LIMIT 1",
            (key.notice_id, key.revision, key.event, key.channel, key.target)).fetchone()
        if record is None:
            return None
        payload = Payload.parse(record[0])
        wanted = [f["sha256"] for f in payload.files if f.get("stored")]
        for sha in wanted:
            blob = self.db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
            if blob is None:
                raise LedgerError(f"{self.path}: the stored payload of {key} is missing; run "
                                  "`noticecast ledger check`")
            payload.blobs[sha] = bytes(blob[0])
        return payload

    def sent_versions(self) -> dict[tuple[str, int], tuple[str, datetime]]:
        """For each (notice, revision) that reached a person on an at-most-once channel: the
        content hash it was sent with last, and when."""
        found: dict[tuple[str, int], tuple[str, datetime]] = {}
        for notice_id, revision, payload, at in self.db.execute(
                "SELECT d.notice_id, d.revision, e.payload, e.at FROM events e "
                "JOIN deliveries d ON d.id = e.delivery_id WHERE e.payload IS NOT NULL "
                "AND d.mode = 'at-most-once' AND e.delivery_id IN (SELECT id FROM current "
                "WHERE state IN ('delivered', 'resolved') AND mode = 'at-most-once') "
                "ORDER BY e.seq"):
            content_hash = json.loads(payload).get("notices", {}).get(notice_id)
            if content_hash:
                found[(notice_id, revision)] = (content_hash, _parse(at) or utc_now())
        return found

    def last_fingerprint(self, channel: str, target: str) -> str | None:
        """The content fingerprint of the last delivery that reached a collection target."""
        for payload, state in self.db.execute(
                "SELECT e.payload, (SELECT x.state FROM events x WHERE x.delivery_id = "
                "e.delivery_id ORDER BY x.seq DESC LIMIT 1) FROM events e JOIN deliveries d "
                "ON d.id = e.delivery_id WHERE d.channel = ? AND d.target = ? AND e.payload "
                "IS NOT NULL ORDER BY e.seq DESC LIMIT 200", (channel, target)):
            if state in RECEIVED:
                return Payload.parse(payload).fingerprint
        return None

    def hold(self, wanted: Sequence[tuple[Key, str, str]], reason: str, *, as_of: datetime,
             actor: str) -> None:
        """Keep deliveries waiting, visibly: ``pending`` with the reason (a render failed, an
        output is stale). Nothing is sent; the next run looks again."""
        with self._write():
            for key, label, mode in wanted:
                row = self.get(key)
                if row is not None and row.state == PENDING and row.reason == reason:
                    continue  # said already; the history need not repeat it every run
                attempt = row.attempt if row is not None else 0
                delivery_id = row.id if row is not None else self._insert(key, label, mode)
                self._append(delivery_id, Outcome(PENDING, attempt=attempt, reason=reason),
                             as_of=as_of, actor=actor)

    def record_change(self, notice_id: str, revision: int, *, sent_hash: str,
                      content_hash: str, kind: str, actor: str) -> bool:
        """Note an edit made after sending without a new revision; False if already noted."""
        with self._write():
            if self.db.execute(
                    "SELECT 1 FROM notice_changes WHERE notice_id = ? AND revision = ? AND "
                    "content_hash = ? AND kind = ?",
                    (notice_id, revision, content_hash, kind)).fetchone():
                return False
            self.db.execute(
                "INSERT INTO notice_changes (notice_id, revision, sent_hash, content_hash, "
                "kind, at, actor) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (notice_id, revision, sent_hash, content_hash, kind, _iso(utc_now()), actor))
        return True

    def changes(self, notice_id: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT notice_id, revision, sent_hash, content_hash, kind, at, actor "
               "FROM notice_changes")
        args: list[Any] = []
        if notice_id:
            sql += " WHERE notice_id = ?"
            args.append(notice_id)
        return [dict(zip(("notice_id", "revision", "sent_hash", "content_hash", "kind", "at",
                          "actor"), row, strict=True))
                for row in self.db.execute(sql + " ORDER BY seq", args)]

    # -- identity ---------------------------------------------------------------------------

    @property
    def ledger_id(self) -> str | None:
        record = self.db.execute("SELECT value FROM meta WHERE name = 'ledger_id'").fetchone()
        return record[0] if record else None

    def delivery_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

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
