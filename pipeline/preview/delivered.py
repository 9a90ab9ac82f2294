"""What the delivery ledger says was delivered, read without ever changing it.

The preview must not create the ledger or take its lock, so it opens the SQLite file read-only
(``mode=ro``) and only when the file exists. The ledger's schema belongs to ``pipeline.ledger``;
when that module offers a read API we use it, otherwise we look for the table that has
``notice_id`` and ``channel`` columns and read the latest row per delivery key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Config

# Column names the ledger may use for each thing we show; the first one present wins.
STATE_COLUMNS = ("state", "status", "outcome")
TIME_COLUMNS = ("updated_at", "at", "ts", "created_at", "time", "recorded_at")
OPTIONAL_COLUMNS = ("revision", "target")


@dataclass(frozen=True)
class DeliveryRow:
    notice_id: str
    revision: int | None
    channel: str
    target: str
    state: str
    at: str
    event: str = ""


@dataclass(frozen=True)
class LedgerView:
    path: Path
    exists: bool
    rows: dict[str, list[DeliveryRow]]  # notice id -> latest state per delivery key
    error: str = ""

    def of(self, notice_id: str) -> list[DeliveryRow]:
        return self.rows.get(notice_id, [])


def read_ledger(config: Config) -> LedgerView:
    path = config.path(config.publish.ledger)
    if not path.is_file():
        return LedgerView(path, False, {})
    try:
        rows = _read_with_api(path)
        if rows is None:
            rows = _read(path)
    except Exception as exc:  # a ledger from a newer version, a locked or damaged file...
        return LedgerView(path, True, {}, f"cannot read the ledger: {exc}")
    grouped: dict[str, list[DeliveryRow]] = {}
    for row in rows:
        grouped.setdefault(row.notice_id, []).append(row)
    return LedgerView(path, True, grouped)


def _read_with_api(path: Path) -> list[DeliveryRow] | None:
    """Through pipeline.ledger's read-only API, when that module is there."""
    try:
        from pipeline.ledger import open_readonly
    except ImportError:
        return None
    ledger = open_readonly(path)
    if ledger is None:
        return []
    try:
        return [DeliveryRow(
            notice_id=row.key.notice_id, revision=row.key.revision, channel=row.key.channel,
            target=row.target_label or row.key.target, state=row.state,
            at=row.at.strftime("%Y-%m-%d %H:%M") if row.at else "", event=row.key.event)
            for row in ledger.current()]
    finally:
        ledger.close()


def _read(path: Path) -> list[DeliveryRow]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=1.0)
    try:
        connection.execute("PRAGMA query_only = ON")
        table, columns = _delivery_table(connection)
        if table is None:
            return []
        return _latest_rows(connection, table, columns)
    finally:
        connection.close()


def _delivery_table(connection: sqlite3.Connection) -> tuple[str | None, list[str]]:
    tables = [r[0] for r in connection.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
    best: tuple[str | None, list[str]] = (None, [])
    for table in tables:
        columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{_quote(table)}")')]
        usable = {"notice_id", "channel"} <= set(columns) and _first(columns, STATE_COLUMNS)
        # Prefer a view of current states over an event history when both exist.
        if usable and (best[0] is None or table == "current"):
            best = (table, columns)
    return best


def _latest_rows(connection: sqlite3.Connection, table: str, columns: list[str]
                 ) -> list[DeliveryRow]:
    state = _first(columns, STATE_COLUMNS)
    when = _first(columns, TIME_COLUMNS)
    chosen = ["notice_id", "channel", state, *(c for c in OPTIONAL_COLUMNS if c in columns)]
    if when:
        chosen.append(when)
    # Without a time column the natural order of an append-only table is the order of events.
    order = f" ORDER BY {_ident(when)}" if when else ""
    query = f'SELECT {", ".join(_ident(c) for c in chosen)} FROM "{_quote(table)}"{order}'
    latest: dict[tuple[Any, ...], DeliveryRow] = {}
    for values in connection.execute(query):
        record = dict(zip(chosen, values, strict=True))
        row = DeliveryRow(
            notice_id=str(record["notice_id"]),
            revision=_int(record.get("revision")),
            channel=str(record["channel"]),
            target=str(record.get("target") or ""),
            state=str(record[state]),
            at=str(record.get(when) or "") if when else "",
        )
        # History rows are appended; the last row of a key is its current state.
        latest[(row.notice_id, row.revision, row.channel, row.target)] = row
    return list(latest.values())


def _first(columns: Iterable[str], names: Iterable[str]) -> str | None:
    present = set(columns)
    return next((n for n in names if n in present), None)


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _ident(name: str) -> str:
    return f'"{_quote(name)}"'


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
