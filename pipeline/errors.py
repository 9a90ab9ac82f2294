"""The one exception tree of noticecast.

Every error a user can cause is a subclass of ``NoticecastError`` and prints as one line that
says where it is and what to do. Anything else is a bug: the CLI saves its traceback to a crash
file and prints that file's path.

    NoticecastError
    ├── InputError                  bad input that the user can fix; carries located Problems
    │   ├── NoticeError             a notice YAML file
    │   ├── ConfigError             noticecast.yaml
    │   └── SubscriberError         the subscriber list
    ├── UnknownNameError            a renderer or channel name nobody registered
    ├── RenderError                 a renderer could not produce its artifact
    │   └── FitError                a fixed-size output (newspaper block) overflows
    ├── DeliveryError               a channel could not deliver
    │   ├── TransientError          worth retrying later (5xx, 429, throttling, refused)
    │   ├── InDoubtError            it may have arrived (a timeout after sending); an
    │   │                           at-most-once channel waits for an operator, never resends
    │   └── PermanentError          never retried (4xx, bad number, unknown chat)
    ├── LedgerError                 the delivery ledger refuses an operation
    │   └── LockHeldError           another publisher holds the lock
    └── ResourceError               the disk or the system refused: disk full, permission
                                    denied, a read-only folder (names the path)
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and column are 1-based, as editors show them."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{max(self.column, 1)}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, where it is, and how to fix it."""

    location: Location
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.location}: {prefix}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.location.path,
            "line": self.location.line,
            "column": self.location.column,
            "severity": self.severity,
            "message": self.message,
        }


class NoticecastError(Exception):
    """Base of every error noticecast raises on purpose."""

    exit_code = 1


class InputError(NoticecastError):
    """Input the user must fix; holds one or more located problems."""

    def __init__(self, problems: Iterable[Problem] | Problem) -> None:
        self.problems: tuple[Problem, ...] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: str | Path, line: int, column: int, message: str) -> InputError:
        return cls(Problem(Location(str(path), line, column), message))


class NoticeError(InputError):
    """A notice file is malformed or breaks a publication rule."""


class ConfigError(InputError):
    """noticecast.yaml is malformed."""


class SubscriberError(InputError):
    """The subscriber list is malformed."""


class UnknownNameError(NoticecastError):
    """A renderer or channel name that is not registered."""

    exit_code = 2


class RenderError(NoticecastError):
    """A renderer could not produce an artifact for a notice."""

    def __init__(self, notice_id: str | None, message: str) -> None:
        self.notice_id = notice_id
        super().__init__(f"{notice_id}: {message}" if notice_id else message)


class FitError(RenderError):
    """A fixed-size block does not hold its text."""


class DeliveryError(NoticecastError):
    """A channel could not deliver an artifact."""


class TransientError(DeliveryError):
    """Delivery failed for a reason that may pass; retry later.

    ``retry_after`` (seconds) is set when the far side said how long to wait.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class InDoubtError(DeliveryError):
    """The call may or may not have reached the far side (a timeout after the request went out).

    On an idempotent channel this is retried like a TransientError; on an at-most-once channel
    the delivery becomes *in doubt*, because a resend could reach a person twice.
    """


class PermanentError(DeliveryError):
    """Delivery failed for a reason that will not pass; never retry."""


class LedgerError(NoticecastError):
    """The delivery ledger refuses an operation."""


class LockHeldError(LedgerError):
    """Another publish run holds the ledger lock."""

    exit_code = 3


class ResourceError(NoticecastError):
    """The disk or the operating system refused a read or a write; says which path and what
    to do. Nothing noticecast wrote is left half-done (temporary files are removed)."""

    exit_code = 74  # EX_IOERR

    _ADVICE: ClassVar[dict[int, str]] = {
        errno.ENOSPC: "the disk is full; free some space and run the command again",
        errno.EDQUOT: "the disk quota is used up; free some space and run the command again",
        errno.EACCES: "permission denied; run as a user who may write there, or fix the "
                      "folder's permissions",
        errno.EPERM: "operation not permitted; fix the folder's permissions",
        errno.EROFS: "the folder is on a read-only file system; point the output elsewhere "
                     "or remount it writable",
        errno.EISDIR: "a folder stands where a file should be; move it away",
        errno.ENOTDIR: "a file stands where a folder should be; move it away",
        errno.ENAMETOOLONG: "the file name is too long; use a shorter id or path",
    }

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")

    @classmethod
    def from_os_error(cls, error: OSError, path: str | Path | None = None) -> ResourceError:
        where = path or error.filename or "?"
        advice = cls._ADVICE.get(error.errno or 0)
        reason = error.strerror or type(error).__name__
        return cls(where, f"{reason}: {advice}" if advice else f"cannot write: {reason}")
