"""The site channel: publish the built site (out/web/) into the web root, atomically.

A reader must never see half a site, so the new version is copied into a sibling staging
folder first and then swapped in with one rename. On Linux the swap is
``renameat2(RENAME_EXCHANGE)``, which exchanges the two folders in one step: the web root
path never stops existing. Elsewhere it falls back to two renames (old root aside, new root
in), which leaves a window of microseconds without a root. The version that was live before is
kept as ``<root>.previous``, so ``rollback()`` can put it back in one step (``noticecast site
rollback``; a second rollback goes forward again). ``versions()`` tells the two apart by a
digest of their files, the digest each delivery's receipt records (``noticecast site history``).

Delivery is idempotent: publishing the same build twice gives the same web root. ``withdraw``
does nothing: a withdrawn notice keeps its page (marked 已撤回) on the next build, which is the
public-record behaviour we want, and the next delivery publishes that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from channels.base import Delivery, DeliveryKind, Receipt, Scope, Target
from pipeline.build import safe_output_path, write_atomic
from pipeline.config import Config
from pipeline.errors import PermanentError, TransientError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # an old kernel or a file system without exchange: fall back
    raise OSError(code, os.strerror(code), str(first))


def _swap_in(new: Path, root: Path, previous: Path) -> None:
    """Make ``new`` the content of ``root``; what was at ``root`` ends up at ``previous``."""
    if previous.exists():
        shutil.rmtree(previous)
    if not root.exists():
        os.rename(new, root)
        return
    if _exchange(new, root):
        os.rename(new, previous)  # ``new`` now holds the old site
        return
    os.rename(root, previous)
    os.rename(new, root)


HOSTED = "files"  # attachments: the build copies them from content/files/, people upload too


def carry_hosted_files(root: Path, staging: Path) -> int:
    """Carry into the new version each file under ``files/`` of the live site that the build
    does not make (an attachment uploaded by hand must survive the swap). Hard links when the
    folders share a file system, so a large upload costs nothing to keep."""
    carried = 0
    live = root / HOSTED
    if not live.is_dir():
        return 0
    for path in live.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        target = staging / path.relative_to(root)
        if target.exists():
            continue  # the build's copy wins
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        carried += 1
    return carried


def tree_digest(folder: Path) -> str:
    """A hash over every file's path and bytes, to tell versions of a site apart."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SiteVersion:
    which: str  # "current" or "previous"
    path: Path
    tree: str  # tree_digest: the same as the receipt of the delivery that put it there
    files: int
    modified: datetime  # the newest file's time


@dataclass
class SiteChannel:
    name: ClassVar[str] = "site"
    delivery: ClassVar[DeliveryKind] = "idempotent"
    scope: ClassVar[Scope] = "collection"

    web_root: Path
    source_dir: Path
    keep_previous: bool = True

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> SiteChannel:
        configured = config.channels.site.web_root or config.site.web_root
        root = config.path(configured) if configured else sink
        return cls(web_root=Path(root).resolve(),
                   source_dir=(config.root / "out" / "web").resolve(),
                   keep_previous=config.site.keep_previous)

    @property
    def previous_root(self) -> Path:
        return self.web_root.with_name(f"{self.web_root.name}.previous")

    def targets(self, config: Config) -> list[Target]:
        return [Target(channel=self.name, key="web_root",
                       address={"web_root": str(self.web_root),
                                "source_dir": str(self.source_dir)},
                       label=str(self.web_root))]

    def deliver(self, delivery: Delivery) -> Receipt:
        root = Path(delivery.target.address.get("web_root") or self.web_root)
        source = Path(delivery.target.address.get("source_dir") or self.source_dir)
        staging = root.with_name(f".{root.name}.staging-{os.getpid()}")
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            if staging.exists():
                shutil.rmtree(staging)
            files = self._stage(delivery, source, staging)
            files += carry_hosted_files(root, staging)
            digest = tree_digest(staging)
            previous = root.with_name(f"{root.name}.previous")
            _swap_in(staging, root, previous)
            if not self.keep_previous and previous.exists():
                shutil.rmtree(previous)
        except PermissionError as exc:
            raise PermanentError(f"site: cannot write the web root {root}: {exc.strerror}"
                                 ) from None
        except OSError as exc:
            raise TransientError(f"site: publishing to {root} failed: {exc}") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return Receipt(channel=self.name, target_key=delivery.target.key, remote_id=str(root),
                       details={"files": files, "tree": digest,
                                "revision": delivery.revision, "event": delivery.event})

    def _stage(self, delivery: Delivery, source: Path, staging: Path) -> int:
        """Fill ``staging`` from the built site folder, or from the delivery's artifacts."""
        if source.is_dir():
            if not (source / "index.html").is_file():
                raise PermanentError(f"site: {source} has no index.html; run "
                                     "`noticecast build --only web` first")
            shutil.copytree(source, staging, ignore=shutil.ignore_patterns(".*"))
            return sum(1 for p in staging.rglob("*") if p.is_file())
        web = [a for a in delivery.artifacts if a.renderer == "web"]
        if not any(a.path == "index.html" for a in web):
            raise PermanentError(f"site: no built site at {source} and no home page among "
                                 "the delivered artifacts; run `noticecast build` first")
        staging.mkdir(parents=True)
        for artifact in web:
            write_atomic(safe_output_path(staging, artifact.path), artifact.data)
        return len(web)

    def rollback(self) -> Path:
        """Put the previous version back (one step); the current one becomes the previous."""
        root, previous = self.web_root, self.previous_root
        if not previous.is_dir():
            raise PermanentError(f"site: nothing to roll back to; {previous} does not exist")
        if not root.exists():
            os.rename(previous, root)
        elif not _exchange(previous, root):
            aside = root.with_name(f".{root.name}.rollback-{os.getpid()}")
            os.rename(root, aside)
            os.rename(previous, root)
            os.rename(aside, previous)
        return root

    def versions(self) -> list[SiteVersion]:
        """The live version and the one kept for a rollback, those that exist."""
        found = []
        for which, folder in (("current", self.web_root), ("previous", self.previous_root)):
            if folder.is_dir():
                files = [p for p in folder.rglob("*") if p.is_file()]
                newest = max((p.stat().st_mtime for p in files), default=folder.stat().st_mtime)
                found.append(SiteVersion(which, folder, tree_digest(folder), len(files),
                                         datetime.fromtimestamp(newest, UTC)))
        return found

    def withdraw(self, receipt: Receipt) -> None:
        """Nothing to take back: the next build and delivery carry the 已撤回 page."""
