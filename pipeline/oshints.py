"""What to do about an operating-system error, said for the person who runs noticecast.

Disk full, permission denied and a read-only folder are things a user or the disk causes, so
they are expected errors: one line with the path and what to do, never a traceback.
"""

from __future__ import annotations

import errno

_HINTS = {
    errno.ENOSPC: "the disk is full; free some space and run it again",
    errno.EDQUOT: "the disk quota is used up; free some space and run it again",
    errno.EACCES: "permission denied; run it as a user who may write there, or change the "
                  "folder's permissions",
    errno.EPERM: "permission denied; run it as a user who may write there, or change the "
                 "folder's permissions",
    errno.EROFS: "the file system is read-only; choose a folder on a writable disk",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter name",
    errno.ENOENT: "no such file or folder; check the path",
}


def what_to_do(exc: OSError) -> str:
    """'the disk is full; free some space ...' for ENOSPC, and so on; the OS's words else."""
    hint = _HINTS.get(exc.errno or 0)
    return hint or f"{exc.strerror or exc}; check the path and try again"


def path_of(exc: OSError, default: object) -> str:
    """The path an OSError is about, or ``default``."""
    return exc.filename if isinstance(exc.filename, str) else str(default)
