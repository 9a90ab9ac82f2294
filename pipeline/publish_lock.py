"""The publish lock: one publisher at a time per project.

An advisory ``fcntl.flock`` on ``.noticecast/publish.lock``. The kernel drops it when the last
descriptor of it is closed, however the process ends (even SIGKILL). Two things keep a dead
publisher from blocking the next one:

* the lock's descriptor is closed in every child forked while it is held (render workers), so
  a worker is never a second holder; and workers die with their parent (``pipeline.lifetime``);
* the file holds the holder's pid and start time while it runs, and is emptied when the run
  ends. A run that finds the lock free but the file still naming a holder knows that run died
  without finishing, takes the lock over and says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import LockHeldError, ResourceError

_held: set[int] = set()  # descriptors of locks this process holds


def _close_in_child() -> None:
    # A forked child shares the lock's open file description; its copy of the descriptor
    # would keep the lock alive after the parent dies. The child never needs it.
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


@dataclass
class LockInfo:
    """What taking the lock found: ``taken_over`` names a run that died holding it."""

    taken_over: str | None = None


@contextmanager
def publish_lock(path: Path, *, wait: bool = False, shown: str | None = None
                 ) -> Iterator[LockInfo]:
    """Hold the lock for the ``with`` block; raise LockHeldError at once if it is taken
    (or, with ``wait``, block until it is free)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ResourceError.from_os_error(exc, shown or path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockHeldError(
                f"{shown or path}: another `noticecast publish` is running ({holder}); wait "
                "for it to finish, or use `publish --wait` to queue behind it") from None
        _held.add(fd)
        left = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        info = LockInfo(taken_over=left or None)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
                  .encode(), 0)
        try:
            yield info
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        _held.discard(fd)
        os.close(fd)
