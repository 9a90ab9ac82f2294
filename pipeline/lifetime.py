"""Child processes die with their parent.

A render worker forked by ``build`` or ``publish`` that outlives its parent (killed with
SIGKILL, say) would wait for work forever and keep its copies of the parent's files open.
Linux's ``PR_SET_PDEATHSIG`` has the kernel kill it when the parent dies; elsewhere the worker
only checks, once, that its parent is still there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when ``parent`` (the pid that started it) dies;
    exit now if it has died already."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)
