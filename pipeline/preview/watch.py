"""watchfiles on content/, templates/ and the config: a change rebuilds and tells the pages.

Folders are watched recursively (editors that save by rename are fine there). The config and
the subscriber list are single files that editors replace by rename, which a file watch would
lose, so they are checked by their stat signature each time the watcher wakes (at least every
half second). Builds run in a worker thread, one at a time; changes made during a build are
picked up by the next round.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
from watchfiles import Change, DefaultFilter, awatch

from pipeline.preview.events import Broadcaster
from pipeline.preview.state import PreviewState, Snapshot
from pipeline.templating import default_templates_dir

log = logging.getLogger("noticecast.preview")
WAKE_MS = 500


class SourceFilter(DefaultFilter):
    """Notice files and templates; never the preview's own cache or editor droppings."""

    def __init__(self, ignored: tuple[Path, ...]) -> None:
        super().__init__()
        self.ignored = tuple(str(p) for p in ignored)

    def __call__(self, change: Change, path: str) -> bool:
        name = os.path.basename(path)
        if name.startswith(".") or name.endswith("~") or path.startswith(self.ignored):
            return False
        return super().__call__(change, path)


def watch_roots(state: PreviewState) -> list[Path]:
    project = state.project
    roots = [project.content_dir, project.root / "templates", default_templates_dir()]
    unique: list[Path] = []
    for root in roots:
        resolved = root.resolve()
        if resolved.is_dir() and resolved not in unique:
            unique.append(resolved)
    return unique


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class FileSignatures:
    """Detects changes of single files by stat, robust to save-by-rename."""

    def __init__(self, files: Callable[[], list[Path]]) -> None:
        self.files = files
        self.seen = self._now()

    def _now(self) -> dict[Path, tuple[int, int, int] | None]:
        return {path: _signature(path) for path in self.files()}

    def changed(self) -> list[Path]:
        now = self._now()
        changed = [p for p in set(now) | set(self.seen) if now.get(p) != self.seen.get(p)]
        self.seen = now
        return changed


async def rebuild_and_announce(state: PreviewState, broadcaster: Broadcaster,
                               reload_config: bool = False) -> Snapshot:
    broadcaster.publish("building", {"generation": state.generation})
    loop = asyncio.get_running_loop()

    def announce(snapshot: Snapshot) -> None:
        # Called in the build thread after each renderer; the loop does the publishing.
        loop.call_soon_threadsafe(broadcaster.publish, "built", built_event(snapshot))

    def work() -> Snapshot:
        if reload_config:
            state.reload_config()
        return state.rebuild(on_stage=announce)

    snapshot = await anyio.to_thread.run_sync(work)
    broadcaster.publish("built", built_event(snapshot))
    return snapshot


def built_event(snapshot: Snapshot) -> dict[str, object]:
    return {"generation": snapshot.generation, "changed": list(snapshot.changed),
            "pending": list(snapshot.pending), "seconds": round(snapshot.seconds, 3)}


async def watch_forever(state: PreviewState, broadcaster: Broadcaster,
                        stop: asyncio.Event) -> None:
    """Rebuild on every relevant change until ``stop`` is set; never raises."""
    singles = FileSignatures(state.watched_files)
    source_filter = SourceFilter((state.out_dir,))
    while not stop.is_set():
        roots = watch_roots(state)  # again after a hiccup: a folder may have come back
        try:
            async for changes in awatch(*roots, watch_filter=source_filter, stop_event=stop,
                                        yield_on_timeout=True, rust_timeout=WAKE_MS,
                                        debounce=800, step=50, recursive=True):
                config_changed = bool(singles.changed())
                if not changes and not config_changed:
                    continue
                names = sorted({os.path.basename(p) for _, p in changes})
                log.info("changed: %s", ", ".join(names) or "config")
                snapshot = await rebuild_and_announce(state, broadcaster,
                                                      reload_config=config_changed)
                log.info("rebuilt in %.2f s; %d notice(s) changed", snapshot.seconds,
                         len(snapshot.changed))
        except Exception:  # the desk outlives a watcher hiccup; log it and watch again
            log.exception("watcher failed; restarting it")
            await asyncio.sleep(1.0)
