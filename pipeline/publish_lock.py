"""The publish lock: one publisher at a time per project.

An advisory ``fcntl.flock`` on ``.noticecast/publish.lock``. The kernel drops it when the
process ends, however it ends (even SIGKILL), so a crash never leaves a stale lock behind. The
file holds the holder's pid and start time, only to make the "lock held" message useful.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import LockHeldError


@contextmanager
def publish_lock(path: Path, *, wait: bool = False, shown: str | None = None) -> Iterator[None]:
    """Hold the lock for the ``with`` block; raise LockHeldError at once if it is taken
    (or, with ``wait``, block until it is free)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockHeldError(
                f"{shown or path}: another `noticecast publish` is running ({holder}); wait "
                "for it to finish, or use `publish --wait` to queue behind it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
                  .encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
