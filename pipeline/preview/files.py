"""Serving the preview's cache files, and nothing else.

A request path is checked twice: its parts, as decoded by the server (so ``%2e%2e`` is already
``..``), must be plain names; and the resolved file (symlinks followed) must lie inside the cache
folder. The build's own bookkeeping (``.cache/``) and other dot-files are never served.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath
from urllib.parse import unquote


class UnsafePath(ValueError):
    """A request path that tries to leave the cache folder."""


def resolve_cache_file(out_dir: Path, requested: str) -> Path | None:
    """The file under ``out_dir`` that ``requested`` names; None if there is none.

    Raises UnsafePath for traversal attempts, even those that would land inside again.
    """
    # Decode once more: a doubly encoded %252e%252e arrives here as %2e%2e.
    text = unquote(requested)
    if "\\" in text or "\0" in text or text.startswith("/"):
        raise UnsafePath(requested)
    parts = PurePosixPath(text).parts
    if any(part in ("..", ".") for part in text.split("/")):
        raise UnsafePath(requested)
    if any(part.startswith(".") for part in parts):
        return None  # .cache/ and dot-files are the build's, not outputs
    base = out_dir.resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise UnsafePath(requested)  # a symlink pointing out
    return target if target.is_file() else None


def media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "application/xml"):
        return f"{guessed}; charset=utf-8"
    return guessed
