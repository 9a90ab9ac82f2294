"""The preview's build and what its pages read: one immutable Snapshot per build.

Every rebuild runs ``pipeline.build.build`` into the preview's own cache folder, so the build's
incremental cache decides what re-renders (only the affected outputs) and nothing is written
anywhere else. The pages never see a half-finished build: a rebuild makes a new Snapshot and
swaps it in at the end.

The preview must keep working whatever the office does to its files, so nothing here raises:
a config that stops validating keeps the last good one (and shows the error), a renderer whose
module does not import is marked unavailable, and a renderer that crashes is isolated and shown.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pipeline import registry
from pipeline.build import BuildOptions, BuildReport, RendererReport, build
from pipeline.errors import InputError, Location, Problem
from pipeline.load import LoadResult
from pipeline.model import Notice, PublicityState
from pipeline.project import Project

CACHE_PARTS = (".noticecast", "preview")
SOURCE_CONTEXT = 2  # lines shown above and below an error


def preview_cache_dir(project: Project) -> Path:
    """Where the preview builds: inside the project's state folder, away from out/."""
    return project.root.joinpath(*CACHE_PARTS)


@dataclass(frozen=True)
class SourceLine:
    number: int
    text: str
    is_target: bool


@dataclass(frozen=True)
class ProblemView:
    """A located problem with the lines of the file around it."""

    problem: Problem
    lines: tuple[SourceLine, ...]

    @property
    def where(self) -> str:
        return str(self.problem.location)

    @property
    def message(self) -> str:
        return self.problem.message


@dataclass(frozen=True)
class NoticeEntry:
    """One notice file as the preview sees it: valid, or invalid with its problems."""

    id: str
    source: str  # the file, as shown (relative to the project)
    notice: Notice | None  # None while the file is invalid
    last_good: Notice | None  # the last valid version of an invalid file, for the index
    problems: tuple[ProblemView, ...] = ()
    render_problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.notice is not None

    @property
    def shown(self) -> Notice | None:
        """The version whose kind, area and title the index shows."""
        return self.notice or self.last_good


@dataclass(frozen=True)
class RendererStatus:
    name: str
    available: bool
    reason: str = ""  # why not, when unavailable or crashed


@dataclass
class Snapshot:
    generation: int
    today: date
    project: Project
    out_dir: Path
    loaded: LoadResult
    reports: dict[str, RendererReport]
    entries: dict[str, NoticeEntry]
    renderers: dict[str, RendererStatus]
    config_problems: list[ProblemView] = field(default_factory=list)
    pending: tuple[str, ...] = ()  # renderers still to be rebuilt in this round
    changed: tuple[str, ...] = ()  # notice ids whose source changed since the last snapshot
    built_at: datetime = field(default_factory=datetime.now)
    seconds: float = 0.0  # since this round of rebuilding started

    def entry(self, notice_id: str) -> NoticeEntry | None:
        return self.entries.get(notice_id)

    @property
    def available_renderers(self) -> list[str]:
        return [name for name, status in self.renderers.items() if status.available]

    def publicity(self, entry: NoticeEntry) -> PublicityState | None:
        notice = entry.shown
        return notice.publicity_state(self.today) if notice else None

    def channels(self, notice: Notice) -> tuple[str, ...]:
        return notice.channels or self.project.config.channels_for(notice.kind)


def problem_view(problem: Problem, root: Path) -> ProblemView:
    """Attach the offending lines of the file (read now) to a problem."""
    lines: list[SourceLine] = []
    line = problem.location.line
    path = Path(problem.location.path)
    if not path.is_absolute():
        path = root / path
    if line > 0:
        try:
            text = path.read_text("utf-8", errors="replace").splitlines()
        except OSError:
            text = []
        lo, hi = max(1, line - SOURCE_CONTEXT), min(len(text), line + SOURCE_CONTEXT)
        lines = [SourceLine(n, text[n - 1], n == line) for n in range(lo, hi + 1)]
    return ProblemView(problem, tuple(lines))


def renderer_statuses() -> dict[str, RendererStatus]:
    """Which registered renderers can be imported right now (others are being written)."""
    statuses = {}
    for name in registry.renderer_names():
        try:
            registry.renderer_class(name)
        except Exception as exc:  # ImportError, a syntax error in a half-written module...
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            statuses[name] = RendererStatus(name, False, reason)
        else:
            statuses[name] = RendererStatus(name, True)
    return statuses


class PreviewState:
    """Owns the preview's project, its cache folder and the current Snapshot.

    ``rebuild`` is called from a worker thread (the watcher) or at start-up; builds never run
    concurrently, and readers always get a complete Snapshot.
    """

    def __init__(self, project: Project, *, today: date | None = None,
                 out_dir: Path | None = None, workers: int | None = 1) -> None:
        self.project = project
        self.fixed_today = today
        self.out_dir = (out_dir or preview_cache_dir(project)).resolve()
        # In-process by default: the build runs in a thread of a server, where forking a
        # process pool is not safe. The start-up build may pass more workers.
        self.workers = workers
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._generation = 0
        self._config_problems: list[ProblemView] = []
        self._reports: dict[str, RendererReport] = {}
        # Set on shutdown: a rebuild in progress stops after the renderer it is running.
        self.stopping = threading.Event()
        self._render_problems: dict[str, list[Problem]] = {}
        self._round_changed: set[str] = set()

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self.rebuild()
        assert self._snapshot is not None
        return self._snapshot

    @property
    def generation(self) -> int:
        return self._generation

    def today(self) -> date:
        return self.project.today(self.fixed_today)

    # -- the config -------------------------------------------------------------------------

    def reload_config(self) -> None:
        """Re-read noticecast.yaml; an invalid one keeps the last good config and is shown."""
        try:
            project = Project.open(self.project.root, self.project.config_path)
        except InputError as exc:
            self._config_problems = [problem_view(p, self.project.root) for p in exc.problems]
            return
        except Exception as exc:  # unreadable, half-saved...
            self._config_problems = [problem_view(
                Problem(_config_location(self.project), f"cannot read the config: {exc}"),
                self.project.root)]
            return
        self.project = project
        self._config_problems = []

    def watched_files(self) -> list[Path]:
        """Single files whose changes matter besides content/ and templates/."""
        files = []
        if self.project.config_path is not None:
            files.append(self.project.config_path)
        subscribers = self.project.config.sms.subscribers
        if subscribers:
            files.append(self.project.config.path(subscribers))
        return files

    # -- building ---------------------------------------------------------------------------

    def rebuild(self, *, workers: int | None = None,
                on_stage: Callable[[Snapshot], None] | None = None) -> Snapshot:
        """Build every available renderer, one at a time, quickest to show first.

        A snapshot is published after each renderer (``on_stage`` is told), so that the page
        shows the new title and web page while the newspaper block is still being set. Each
        renderer builds on its own, so one that crashes cannot take the others down.
        """
        with self._lock:
            started = time.perf_counter()
            today = self.today()
            statuses = renderer_statuses()
            names = sorted((n for n, s in statuses.items() if s.available), key=_stage_order)
            for name in list(self._reports):
                if name not in names:
                    self._forget(name)
            loaded: LoadResult | None = None
            self._round_changed = set()
            for index, name in enumerate(names):
                if self.stopping.is_set():
                    break
                try:
                    report = self._run_build(today, (name,), workers or self.workers)
                except Exception as exc:
                    statuses[name] = RendererStatus(name, False, _crash(exc))
                    self._forget(name)
                else:
                    loaded = report.loaded
                    self._remember(name, report)
                if index < len(names) - 1 and on_stage is not None and loaded is not None:
                    on_stage(self._publish(today, loaded, statuses, started,
                                           pending=tuple(names[index + 1:])))
            if loaded is None:
                loaded = self._load_only()
            return self._publish(today, loaded, statuses, started, pending=())

    def _publish(self, today: date, loaded: LoadResult, statuses: dict[str, RendererStatus],
                 started: float, pending: tuple[str, ...]) -> Snapshot:
        self._generation += 1
        problems = [p for problems in self._render_problems.values() for p in problems]
        snapshot = Snapshot(
            generation=self._generation, today=today, project=self.project,
            out_dir=self.out_dir, loaded=loaded, reports=dict(self._reports),
            entries=_entries(loaded, problems, self.project.root), renderers=dict(statuses),
            config_problems=list(self._config_problems), pending=pending,
            seconds=time.perf_counter() - started)
        # Changes accumulate over the stages of one round, so its last event names them all.
        self._round_changed.update(_changed_ids(self._snapshot, snapshot))
        snapshot.changed = tuple(sorted(self._round_changed))
        self._snapshot = snapshot
        return snapshot

    def _remember(self, name: str, report: BuildReport) -> None:
        load_problems = set(report.loaded.problems)
        self._reports[name] = report.renderers[name]
        self._render_problems[name] = [p for p in report.problems if p not in load_problems]

    def _forget(self, name: str) -> None:
        self._reports.pop(name, None)
        self._render_problems.pop(name, None)

    def _run_build(self, today: date, names: tuple[str, ...],
                   workers: int | None) -> BuildReport:
        options = BuildOptions(today=today, only=names, out_dir=self.out_dir, workers=workers)
        return build(self.project, options)

    def _load_only(self) -> LoadResult:
        from pipeline.load import load_notices

        return load_notices((self.project.content_dir,), self.project.config, self.project.root)


# The order in which outputs are refreshed: the cheap ones first, so that a save shows at once.
STAGE_ORDER = ("web", "sms", "card", "newspaper", "ticker", "board")


def _stage_order(name: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER), name)


def _crash(exc: BaseException) -> str:
    """A renderer's bug, in one line with where it happened."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}".splitlines()[0] + where


def _config_location(project: Project) -> Location:
    shown = project.display(project.config_path) if project.config_path else "noticecast.yaml"
    return Location(shown)


def _entries(loaded: LoadResult, problems: list[Problem], root: Path
             ) -> dict[str, NoticeEntry]:
    render_problems: dict[str, list[str]] = {}
    for problem in problems:
        render_problems.setdefault(problem.location.path, []).append(problem.message)
    entries: dict[str, NoticeEntry] = {}
    for notice in loaded.notices:
        shown = _shown(loaded.paths[notice.id], root)
        entries[notice.id] = NoticeEntry(
            id=notice.id, source=shown, notice=notice, last_good=None,
            render_problems=tuple(render_problems.get(shown, ())))
    for shown, problems in loaded.invalid.items():
        # A notice's id must equal its file name, so the stem names an invalid file's notice.
        notice_id = Path(shown).stem
        views = tuple(problem_view(p, root) for p in problems)
        existing = entries.get(notice_id)
        if existing is not None:  # a second file claiming a valid notice's id
            entries[notice_id] = NoticeEntry(
                id=notice_id, source=existing.source, notice=existing.notice, last_good=None,
                problems=existing.problems + views, render_problems=existing.render_problems)
            continue
        entries[notice_id] = NoticeEntry(
            id=notice_id, source=shown, notice=None,
            last_good=loaded.last_good.get(notice_id), problems=views)
    return dict(sorted(entries.items()))


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _changed_ids(previous: Snapshot | None, current: Snapshot) -> tuple[str, ...]:
    if previous is None:
        return tuple(current.entries)
    changed: list[str] = []
    for notice_id in set(previous.entries) | set(current.entries):
        old, new = previous.entries.get(notice_id), current.entries.get(notice_id)
        if old is None or new is None or _fingerprint(old) != _fingerprint(new):
            changed.append(notice_id)
    return tuple(sorted(changed))


def _fingerprint(entry: NoticeEntry) -> tuple[object, ...]:
    return (entry.notice.content_hash if entry.notice else None,
            tuple(p.where + p.message for p in entry.problems), entry.render_problems)


def all_problems(snapshot: Snapshot) -> Iterable[ProblemView]:
    yield from snapshot.config_problems
    for entry in snapshot.entries.values():
        yield from entry.problems
