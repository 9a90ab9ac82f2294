"""Looking after the ledger file: ``noticecast ledger check`` and ``ledger init --force``.

``check`` reads without writing: is the file there, is it a sound SQLite database
(``PRAGMA integrity_check``), is it the ledger the project's history names, does it hold every
delivery the history counted, and where are the backups publish made before each upgrade.
``init --force`` starts over on purpose: the old file is kept beside the new one, renamed, and
the history is reset, so the next publish may send everything again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline import ledger_history
from pipeline.errors import LedgerError, ResourceError
from pipeline.ledger import SCHEMA_VERSION, Ledger

SIDE_FILES = ("-wal", "-shm")


@dataclass
class CheckReport:
    findings: list[str] = field(default_factory=list)  # what is wrong, one line each
    facts: list[str] = field(default_factory=list)  # what is fine
    backups: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def backups_of(ledger: Path) -> list[Path]:
    return sorted(ledger.parent.glob(f"{ledger.name}.v*.bak"))


def check(ledger: Path, state_dir: Path, shown: str) -> CheckReport:
    report = CheckReport(backups=backups_of(ledger))
    try:
        history = ledger_history.History.read(state_dir)
    except LedgerError as exc:
        report.findings.append(str(exc))
        history = None
    if not ledger.is_file() or ledger.stat().st_size == 0:
        state = "missing" if not ledger.is_file() else "empty (0 bytes)"
        if history is not None:
            report.findings.append(f"{shown}: {state}, but the project has published "
                                   f"{history.deliveries} deliveries since "
                                   f"{history.first_publish[:10]}")
        else:
            report.facts.append(f"{shown}: {state}; nothing has been published yet")
        return report
    try:
        db = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = [row[0] for row in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        report.findings.append(f"{shown}: not a readable SQLite database ({exc})")
        return report
    if result != ["ok"]:
        report.findings.extend(f"{shown}: {line}" for line in result[:20])
        return report
    try:
        with Ledger(ledger, readonly=True) as opened:
            version, ledger_id = opened.version, (
                opened.ledger_id if opened.version >= 4 else None)
            count = opened.delivery_count() if version >= 1 else 0
    except LedgerError as exc:
        report.findings.append(str(exc))
        return report
    report.facts.append(f"{shown}: sound; schema version {version} (this noticecast: "
                        f"{SCHEMA_VERSION}); {count} deliveries")
    if history is not None:
        try:
            ledger_history.check_ledger(history, ledger_id, count, shown)
        except LedgerError as exc:
            report.findings.append(str(exc))
        else:
            report.facts.append(f"the history names this ledger ({history.ledger_id}); "
                                f"{history.deliveries} deliveries after the last publish")
    return report


def init(ledger: Path, state_dir: Path, *, force: bool) -> Path | None:
    """Start a new, empty ledger. Refused without ``force`` when there is history to lose;
    the old file is renamed (kept), and its path returned."""
    has_history = (state_dir / ledger_history.HISTORY_NAME).exists()
    has_file = ledger.is_file() and ledger.stat().st_size > 0
    if (has_history or has_file) and not force:
        raise LedgerError(f"{ledger}: this project has a ledger or has published before; "
                          "starting over means the next publish may send everything again. "
                          "Run `noticecast ledger init --force` if that is what you want")
    kept = None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        if ledger.exists():
            kept = ledger.with_name(f"{ledger.name}.discarded-{stamp}")
            ledger.rename(kept)
        for suffix in SIDE_FILES:
            side = ledger.with_name(ledger.name + suffix)
            if side.exists():
                side.rename(ledger.with_name(f"{ledger.name}.discarded-{stamp}{suffix}"))
        (state_dir / ledger_history.HISTORY_NAME).unlink(missing_ok=True)
    except OSError as exc:
        raise ResourceError.from_os_error(exc) from None
    Ledger(ledger).close()
    return kept
