"""The ledger fails safe: a project that has published never starts over by accident.

An empty ledger reads as "nothing was ever sent", and a publish would send everything again.
So the project keeps, outside the ledger file, a small record that it has published:
``.noticecast/history.json`` names the ledger's id (stored inside the ledger) and how many
deliveries it held after the last run. Before a publish (or a dry run, or ``status``) trusts
the ledger, ``check`` compares:

* history, but no ledger file, or an empty one: refused (restore it, or start over on purpose
  with ``noticecast ledger init --force``);
* a ledger whose id is not the one the history names: refused (another project's, or a new
  one put in its place);
* fewer deliveries than the history counted: refused (the ledger is append-only; rows went
  missing).

A project with no history yet (it never published) opens or creates its ledger freely.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import LedgerError, ResourceError
from pipeline.ledger import PAYLOAD_VERSION

__all__ = ["PAYLOAD_VERSION", "History", "check_file", "check_ledger", "record"]

HISTORY_NAME = "history.json"
WHAT_TO_DO = ("restore the ledger from its backup (`noticecast ledger check` lists the copies), "
              "or, to start over and send everything again, run `noticecast ledger init "
              "--force`")


@dataclass(frozen=True)
class History:
    ledger_id: str
    deliveries: int
    first_publish: str

    @classmethod
    def read(cls, state_dir: Path) -> History | None:
        path = state_dir / HISTORY_NAME
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(str(data["ledger_id"]), int(data["deliveries"]),
                       str(data.get("first_publish", "")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"{path}: the publish history cannot be read ({exc}); it records "
                              f"that this project has published. Restore it, or {WHAT_TO_DO}"
                              ) from None

    def write(self, state_dir: Path) -> None:
        path = state_dir / HISTORY_NAME
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"ledger_id": self.ledger_id,
                                       "deliveries": self.deliveries,
                                       "first_publish": self.first_publish}, indent=2) + "\n",
                           "utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ResourceError.from_os_error(exc, path) from None


def check_file(state_dir: Path, ledger_path: Path, shown: str) -> History | None:
    """Before opening: refuse a missing or empty ledger file when the project has history."""
    history = History.read(state_dir)
    if history is None:
        return None
    try:
        size = ledger_path.stat().st_size
    except FileNotFoundError:
        size = -1
    except OSError as exc:
        raise ResourceError.from_os_error(exc, shown) from None
    if size <= 0:
        what = "is missing" if size < 0 else "is empty (0 bytes)"
        raise LedgerError(
            f"{shown}: the ledger {what}, but this project has published before (first on "
            f"{history.first_publish[:10]}, {history.deliveries} deliveries); nothing was "
            f"sent. To avoid sending everything twice, {WHAT_TO_DO}")
    return history


def check_ledger(history: History | None, ledger_id: str | None, deliveries: int,
                 shown: str) -> None:
    """After opening: the ledger is the one the history names, and has lost nothing."""
    if history is None:
        return
    if ledger_id != history.ledger_id:
        raise LedgerError(
            f"{shown}: this is not the ledger this project published with (its id is "
            f"{ledger_id or 'missing'}, the history names {history.ledger_id}); nothing was "
            f"sent. {WHAT_TO_DO[0].upper()}{WHAT_TO_DO[1:]}")
    if deliveries < history.deliveries:
        raise LedgerError(
            f"{shown}: the ledger holds {deliveries} deliveries, but held {history.deliveries} "
            f"after the last publish; rows are missing and nothing was sent. "
            f"{WHAT_TO_DO[0].upper()}{WHAT_TO_DO[1:]}")


def record(state_dir: Path, previous: History | None, ledger_id: str | None,
           deliveries: int) -> None:
    """After a run that may have delivered: remember the ledger and its size."""
    if ledger_id is None or (deliveries == 0 and previous is None):
        return  # nothing published yet: no history to protect
    first = previous.first_publish if previous else datetime.now(UTC).isoformat(
        timespec="seconds")
    History(ledger_id, max(deliveries, previous.deliveries if previous else 0),
            first).write(state_dir)
