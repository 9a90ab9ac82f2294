"""The build, top to bottom: load, plan, render in parallel, write atomically, remember.

1. **Load** every notice (``pipeline.load``); bad files become located problems, good ones go on.
2. **Plan**: for each renderer and notice, a cache key made of the notice's content hash, the
   templates the renderer uses (followed through extends/include), the config sections it reads,
   its version and its ``cache_token`` (the publicity state on the build day). A notice whose key
   is in the manifest is skipped. Collection outputs (listings, feeds, playlists, digests) get one
   key over all notices.
3. **Render** the jobs in batches, in a process pool when there is enough work to pay for it.
   A batch that fails is retried notice by notice, so one bad notice never costs the others.
4. **Write** each artifact atomically (temporary file, then rename) under ``out/<renderer>/``;
   unchanged bytes are not rewritten, and outputs that a notice no longer has are removed.
5. **Remember** the keys and files in ``out/.cache/manifest.json`` for the next build.

The build writes nothing outside ``out/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipeline import registry
from pipeline.codehash import code_digest
from pipeline.config import Config
from pipeline.errors import Location, Problem, RenderError, ResourceError
from pipeline.lifetime import die_with_parent
from pipeline.load import LoadResult, load_notices
from pipeline.model import Notice
from pipeline.oversight.deliveries import DeliverySummary, summary_for_build
from pipeline.project import Project
from pipeline.renderers.base import (
    Artifact,
    BaseRenderer,
    RenderContext,
    Renderer,
    RenderOptions,
)
from pipeline.schedule import instant
from pipeline.templating import make_environment, templates_digest

MANIFEST_VERSION = 1
COLLECTION = "*"  # the manifest's key for a renderer's collection outputs
POOL_THRESHOLD = 2  # one job renders in-process; more share the cores (workers fork cheaply)


@dataclass(frozen=True)
class BuildOptions:
    today: date
    # The instant the outputs are made as of (``pipeline.schedule``); None: the end of today.
    # ``publish`` passes its own clock, so nothing is built into out/ before its time.
    now: datetime | None = None
    only: tuple[str, ...] | None = None
    out_dir: Path | None = None
    force: bool = False
    render: RenderOptions = field(default_factory=RenderOptions)
    workers: int | None = None  # None: one per core
    paths: tuple[Path, ...] | None = None  # notice files or folders; None: content/


@dataclass
class RendererReport:
    name: str
    rendered: int = 0
    skipped: int = 0
    collection: bool = False
    files_written: int = 0
    files_removed: int = 0
    seconds: float = 0.0
    out_dir: Path | None = None


@dataclass
class BuildReport:
    loaded: LoadResult
    renderers: dict[str, RendererReport] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # load and render errors
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    # (renderer, notice id or COLLECTION) -> why this build could not render or write it; its
    # last good outputs stay on disk, but publish must not send them as if they were current.
    failed: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    media_type: str
    meta: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "media_type": self.media_type,
                "meta": self.meta}


# -- the manifest --------------------------------------------------------------------------

class Manifest:
    """What the last build produced: per renderer, per notice id, the key and the files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, dict[str, Any]]] = {}
        try:
            data = json.loads(path.read_text("utf-8"))
            if data.get("version") == MANIFEST_VERSION:
                self.entries = data["renderers"]
        except (OSError, ValueError, KeyError):
            self.entries = {}

    def key(self, renderer: str, notice_id: str) -> str | None:
        entry = self.entries.get(renderer, {}).get(notice_id)
        return entry["key"] if entry else None

    def files(self, renderer: str, notice_id: str) -> list[dict[str, Any]]:
        entry = self.entries.get(renderer, {}).get(notice_id)
        return list(entry["files"]) if entry else []

    def set(self, renderer: str, notice_id: str, key: str, files: Iterable[FileRecord],
            source: str | None = None, notice: Notice | None = None) -> None:
        entry: dict[str, Any] = {"key": key, "source": source,
                                 "files": [f.as_json() for f in files]}
        if notice is not None:  # what publish checks a delivery's payload against
            entry["revision"] = notice.revision
            entry["content_hash"] = notice.content_hash
        self.entries.setdefault(renderer, {})[notice_id] = entry

    def entry(self, renderer: str, notice_id: str) -> dict[str, Any] | None:
        return self.entries.get(renderer, {}).get(notice_id)

    def drop(self, renderer: str, notice_id: str) -> None:
        self.entries.get(renderer, {}).pop(notice_id, None)

    def notice_ids(self, renderer: str) -> list[str]:
        return [k for k in self.entries.get(renderer, {}) if k != COLLECTION]

    def source(self, renderer: str, notice_id: str) -> str | None:
        return self.entries.get(renderer, {}).get(notice_id, {}).get("source")

    def save(self) -> None:
        write_atomic(self.path, json.dumps(
            {"version": MANIFEST_VERSION, "renderers": self.entries},
            ensure_ascii=False, separators=(",", ":")).encode())


# -- the journal: what an interrupted build may have left half-done ---------------------------

class Journal:
    """``out/.cache/build.journal``: before a build rewrites the files of a notice (or of a
    collection), it appends ``renderer<TAB>id`` here; a build that finishes removes the file.

    The manifest is saved once, at the end. A build killed in between leaves files on disk that
    the saved manifest does not describe; the next build finds the journal, forgets those
    entries (so they are rendered and written again) and sweeps the temporary files the killed
    writers left behind. Workers append too: lines written with O_APPEND do not interleave.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / "build.journal"

    def note(self, renderer: str, entry_id: str) -> None:
        try:
            _make_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{renderer}\t{entry_id}\n".encode())
            finally:
                os.close(fd)
        except OSError as exc:  # nothing was rewritten yet: the entry stays as it was
            raise ResourceError.from_os_error(exc, self.path) from None

    def unfinished(self) -> set[tuple[str, str]]:
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return set()
        return {(parts[0], parts[1]) for line in text.splitlines()
                if len(parts := line.split("\t")) == 2}

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def recover_interrupted(out_dir: Path, manifest: Manifest, journal: Journal) -> int:
    """Undo what a killed build left: forget the entries it was rewriting and remove its
    temporary files. Returns how many entries will be rendered again."""
    unfinished = journal.unfinished()
    for renderer, entry_id in unfinished:
        manifest.drop(renderer, entry_id)
    if unfinished or journal.path.exists():
        for folder, _, names in os.walk(out_dir):
            for name in names:
                if name.startswith(".") and name.endswith(TMP_SUFFIX):
                    Path(folder, name).unlink(missing_ok=True)
    return len(unfinished)


# -- writing ---------------------------------------------------------------------------------

_made_dirs: set[str] = set()
TMP_SUFFIX = ".tmp"


def _make_dir(folder: Path) -> None:
    if str(folder) not in _made_dirs:  # mkdir costs a syscall per level; a build writes 20k
        folder.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(str(folder))


def write_atomic(path: Path, data: bytes) -> None:
    """Write so that a reader sees the old file or the new one, never half of one.

    A full disk or a folder we may not write to raises ResourceError naming the path; the
    temporary file is removed, and the old file stays as it was.
    """
    tmp = Path(f"{path.parent}/.{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        try:
            _make_dir(path.parent)
            tmp.write_bytes(data)
        except FileNotFoundError:  # the folder was removed since we made it (a long preview)
            _made_dirs.discard(str(path.parent))
            _make_dir(path.parent)
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ResourceError.from_os_error(exc, path) from None


def safe_output_path(base: Path, relative: str) -> Path:
    """``base / relative``, refusing paths that would leave ``base``."""
    root = os.path.abspath(base)
    target = os.path.normpath(os.path.join(root, relative))
    if not target.startswith(root + os.sep):
        raise RenderError(None, f"artifact path {relative!r} leaves the output folder")
    return Path(target)


def write_artifacts(out_dir: Path, artifacts: Iterable[Artifact], previous: dict[str, str],
                    journal: Journal | None = None, entry: tuple[str, str] | None = None
                    ) -> tuple[list[FileRecord], int]:
    """Write artifacts under ``out_dir/<renderer>/``; returns the records and files written.

    A file whose bytes the manifest already records is not rewritten (``previous`` is empty
    under ``--force``). Before the first write, ``entry`` is noted in the journal.
    """
    records, written = [], 0
    for artifact in artifacts:
        sha = artifact.sha256
        target = safe_output_path(out_dir / artifact.renderer, artifact.path)
        if previous.get(artifact.path) != sha or not target.exists():
            if journal is not None and entry is not None and not written:
                journal.note(*entry)
            write_atomic(target, artifact.data)
            written += 1
        records.append(FileRecord(artifact.path, sha, artifact.media_type, dict(artifact.meta)))
    return records, written


# -- rendering, in this process or a worker ----------------------------------------------------

@dataclass(frozen=True)
class ContextSpec:
    """What a worker process needs to rebuild the RenderContext (Jinja envs do not pickle)."""

    config: Config
    today: date
    template_dirs: tuple[Path, ...]
    options: RenderOptions
    now: datetime | None = None
    deliveries: DeliverySummary | None = None

    def context(self) -> RenderContext:
        return RenderContext(config=self.config, today=self.today,
                             templates=make_environment(self.template_dirs),
                             options=self.options, now=self.now, deliveries=self.deliveries)


@dataclass(frozen=True)
class Job:
    renderer: str
    notices: tuple[Notice, ...]
    collection: bool = False
    previous: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> path -> sha


@dataclass
class JobResult:
    renderer: str
    collection: bool
    files: dict[str, list[FileRecord]] = field(default_factory=dict)  # notice id -> records
    written: int = 0
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    seconds: float = 0.0


_worker_ctx: RenderContext | None = None
_worker_out: Path | None = None


def _init_worker(spec: ContextSpec, out_dir: Path, parent: int) -> None:
    # A worker must not outlive the build or publish that started it: an orphan would wait
    # for work forever, holding its copies of the parent's files.
    die_with_parent(parent)
    # One context per worker, so that its templates are compiled once, not once per job.
    global _worker_ctx, _worker_out
    _worker_ctx, _worker_out = spec.context(), out_dir


def _run_in_worker(job: Job) -> JobResult:
    assert _worker_ctx is not None and _worker_out is not None
    return run_job(job, _worker_ctx, _worker_out)


def run_job(job: Job, ctx: RenderContext, out_dir: Path) -> JobResult:
    started = time.perf_counter()
    renderer = registry.get_renderer(job.renderer)
    result = JobResult(job.renderer, job.collection)
    journal = Journal(out_dir / ".cache")
    if job.collection:
        try:
            artifacts = list(renderer.render_collection(job.notices, ctx))
            records, result.written = write_artifacts(
                out_dir, artifacts, job.previous.get(COLLECTION, {}), journal,
                (job.renderer, COLLECTION))
        except (RenderError, ResourceError) as exc:
            result.errors.append((getattr(exc, "notice_id", None), str(exc)))
        else:
            result.files[COLLECTION] = records
        result.seconds = time.perf_counter() - started
        return result
    grouped = _render_isolating_failures(renderer, job.notices, ctx, result.errors)
    for notice in job.notices:
        if notice.id in grouped or not any(e[0] == notice.id for e in result.errors):
            try:
                records, written = write_artifacts(
                    out_dir, grouped.get(notice.id, []), job.previous.get(notice.id, {}),
                    journal, (job.renderer, notice.id))
            except ResourceError as exc:
                result.errors.append((notice.id, str(exc)))
                continue
            result.files[notice.id] = records
            result.written += written
    result.seconds = time.perf_counter() - started
    return result


def _render_isolating_failures(renderer: Renderer, notices: Sequence[Notice],
                               ctx: RenderContext, errors: list[tuple[str | None, str]]
                               ) -> dict[str, list[Artifact]]:
    """Render a batch; a notice that fails is recorded and the rest are rendered again.

    A batch keeps its batching (one WeasyPrint document for many blocks) while it can: the
    notice named by the error is dropped and the remainder retried as one batch. Only an error
    that names no notice falls back to one notice at a time.
    """
    remaining = list(notices)
    while remaining:
        try:
            return _group(renderer.render(remaining, ctx))
        except RenderError as exc:
            ids = [n.id for n in remaining]
            if exc.notice_id in ids:
                errors.append((exc.notice_id, str(exc)))
                remaining = [n for n in remaining if n.id != exc.notice_id]
                continue
            grouped: dict[str, list[Artifact]] = {}
            for notice in remaining:
                try:
                    grouped.update(_group(renderer.render((notice,), ctx)))
                except RenderError as single:
                    errors.append((notice.id, str(single)))
            return grouped
    return {}


def _group(artifacts: Iterable[Artifact]) -> dict[str, list[Artifact]]:
    grouped: dict[str, list[Artifact]] = {}
    for artifact in artifacts:
        if artifact.notice_id is None:
            raise RenderError(None, f"{artifact.renderer}: render() must set notice_id")
        grouped.setdefault(artifact.notice_id, []).append(artifact)
    return grouped


# -- planning --------------------------------------------------------------------------------

def _sha(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:24]


@dataclass
class Plan:
    jobs: list[Job]
    keys: dict[tuple[str, str], str]  # (renderer, notice id or COLLECTION) -> key
    skipped: dict[str, int]


def plan(renderers: Sequence[Renderer], notices: Sequence[Notice], ctx: RenderContext,
         manifest: Manifest, *, force: bool, workers: int,
         collection_notices: Sequence[Notice]) -> Plan:
    env = ctx.templates
    keys: dict[tuple[str, str], str] = {}
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    options = (ctx.options.print_sizes, ctx.options.shrink)
    for renderer in renderers:
        name = renderer.name
        base = _sha(name, renderer.version, code_digest(type(renderer).__module__),
                    ctx.config.fingerprint(*renderer.config_sections), options)
        digests: dict[tuple[str, ...], str] = {}
        todo: list[Notice] = []
        for notice in notices:
            names = tuple(renderer.templates_for(notice))
            if names not in digests:
                digests[names] = templates_digest(env, names)
            key = _sha(base, digests[names], notice.content_hash,
                       renderer.cache_token(notice, ctx))
            keys[(name, notice.id)] = key
            if force or manifest.key(name, notice.id) != key:
                todo.append(notice)
        skipped[name] = len(notices) - len(todo)
        jobs.extend(_batches(renderer, todo, manifest, workers, force=force))
        # Renderers that keep BaseRenderer's empty render_collection have no collection.
        if type(renderer).render_collection is not BaseRenderer.render_collection:
            tokens = sorted((n.id, renderer.collection_token(n, ctx))
                            for n in collection_notices)
            key = _sha(base, templates_digest(env, renderer.collection_templates),
                       ctx.today if getattr(renderer, "collection_uses_today", False) else "",
                       hashlib.sha256(json.dumps(tokens).encode()).hexdigest(),
                       ctx.deliveries.digest() if ctx.deliveries is not None
                       and getattr(renderer, "collection_uses_deliveries", False) else "")
            keys[(name, COLLECTION)] = key
            if force or manifest.key(name, COLLECTION) != key:
                previous = {COLLECTION: {} if force else {
                    f["path"]: f["sha256"] for f in manifest.files(name, COLLECTION)}}
                jobs.append(Job(name, tuple(collection_notices), collection=True,
                                previous=previous))
    return Plan(jobs, keys, skipped)


def _batches(renderer: Renderer, todo: list[Notice], manifest: Manifest,
             workers: int, *, force: bool = False) -> list[Job]:
    if not todo:
        return []
    # Small batches balance the pool; renderers with a costly per-batch set-up (WeasyPrint
    # loads and subsets fonts once per document) ask for a floor with min_batch_size.
    limit = getattr(renderer, "batch_size", 64)
    floor = getattr(renderer, "min_batch_size", 1)
    size = max(1, min(limit, max(floor, math.ceil(len(todo) / (workers * 4)))))
    jobs = []
    for start in range(0, len(todo), size):
        chunk = tuple(todo[start:start + size])
        # Under --force every file is written again, whatever the manifest says it holds.
        previous = {n.id: {} if force else {
            f["path"]: f["sha256"] for f in manifest.files(renderer.name, n.id)} for n in chunk}
        jobs.append(Job(renderer.name, chunk, previous=previous))
    return jobs


# -- the build -------------------------------------------------------------------------------

ProgressCallback = Callable[[int, int], None]  # (jobs done, jobs total)


def build(project: Project, options: BuildOptions,
          progress: ProgressCallback | None = None) -> BuildReport:
    started = time.perf_counter()
    out_dir = (options.out_dir or project.out_dir).resolve()
    cache_dir = out_dir / ".cache"
    loaded = load_notices(options.paths or (project.content_dir,), project.config, project.root,
                          cache_file=cache_dir / "notices.pickle")
    report = BuildReport(loaded=loaded, problems=list(loaded.problems),
                         warnings=list(loaded.warnings))

    names = list(options.only or registry.renderer_names())
    renderers = [registry.get_renderer(name) for name in names]
    # The ledger's facts for the pages that show them (project pages), read-only.
    deliveries = summary_for_build(
        project.config.path(project.config.publish.ledger),
        options.now or instant(options.today, project.config.zone), project.config.zone,
    ) if any(getattr(r, "collection_uses_deliveries", False) for r in renderers) else None
    spec = ContextSpec(project.config, options.today, project.template_dirs, options.render,
                       now=options.now, deliveries=deliveries)
    ctx = spec.context()
    manifest = Manifest(cache_dir / "manifest.json")
    journal = Journal(cache_dir)
    recover_interrupted(out_dir, manifest, journal)
    for renderer in renderers:
        if not (out_dir / renderer.name).is_dir():  # removed by hand: its outputs are gone
            manifest.entries.pop(renderer.name, None)
    workers = options.workers or os.cpu_count() or 1

    # A notice whose file is invalid now keeps its last good outputs and its place in listings:
    # a typo must not take a page off the public record.
    kept = loaded.last_good
    collection_notices = sorted([*loaded.notices, *kept.values()], key=lambda n: n.id)
    the_plan = plan(renderers, loaded.notices, ctx, manifest, force=options.force,
                    workers=workers, collection_notices=collection_notices)
    for renderer in renderers:
        report.renderers[renderer.name] = RendererReport(
            renderer.name, skipped=the_plan.skipped[renderer.name],
            out_dir=out_dir / renderer.name)

    by_id = loaded.by_id()
    for result in _execute(the_plan.jobs, spec, ctx, out_dir, workers, progress):
        entry = report.renderers[result.renderer]
        entry.seconds += result.seconds
        entry.files_written += result.written
        for notice_id, message in result.errors:
            report.failed[(result.renderer,
                           COLLECTION if result.collection else notice_id or COLLECTION)] = message
            path = loaded.paths.get(notice_id or "")
            where = project.display(path) if path else (notice_id or result.renderer)
            report.problems.append(Problem(Location(where), f"{result.renderer}: {message}"))
        for notice_id, records in result.files.items():
            path = loaded.paths.get(notice_id)
            where = Location(project.display(path) if path else result.renderer)
            report.warnings.extend(
                Problem(where, f"{result.renderer}: {text}", severity="warning")
                for record in records for text in record.meta.get("warnings", ()))
            key = the_plan.keys[(result.renderer, notice_id)]
            old = {f["path"] for f in manifest.files(result.renderer, notice_id)}
            entry.files_removed += _remove(out_dir / result.renderer,
                                           old - {r.path for r in records})
            manifest.set(result.renderer, notice_id, key, records,
                         source=str(path) if path else None,
                         notice=by_id.get(notice_id))
            if notice_id == COLLECTION:
                entry.collection = True
            else:
                entry.rendered += 1

    # Outputs of notices whose source file is gone are removed; invalid files keep theirs.
    live = set(loaded.paths) | set(kept)
    for renderer in renderers:
        for notice_id in manifest.notice_ids(renderer.name):
            if notice_id not in live:
                old = {f["path"] for f in manifest.files(renderer.name, notice_id)}
                report.renderers[renderer.name].files_removed += _remove(
                    out_dir / renderer.name, old)
                manifest.drop(renderer.name, notice_id)
    manifest.save()
    journal.close()  # the manifest now describes every file on disk
    report.seconds = time.perf_counter() - started
    return report


def _execute(jobs: list[Job], spec: ContextSpec, ctx: RenderContext, out_dir: Path,
             workers: int, progress: ProgressCallback | None) -> Iterable[JobResult]:
    total = len(jobs)
    if progress:
        progress(0, total)
    if total < POOL_THRESHOLD or workers <= 1:
        for done, job in enumerate(jobs, start=1):
            yield run_job(job, ctx, out_dir)
            if progress:
                progress(done, total)
        return
    # The costliest first, so that the pool does not end waiting on one late big job: batches
    # of renderers with a heavy start (WeasyPrint's fonts), then collections, then the rest.
    def cost(job: Job) -> tuple[int, bool, int]:
        heavy = getattr(registry.renderer_class(job.renderer), "min_batch_size", 1)
        return (-heavy, not job.collection, -len(job.notices))

    ordered = sorted(jobs, key=cost)
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(spec, out_dir, os.getpid())) as pool:
        futures = [pool.submit(_run_in_worker, job) for job in ordered]
        for done, future in enumerate(as_completed(futures), start=1):
            yield future.result()
            if progress:
                progress(done, total)


def _remove(base: Path, relative_paths: Iterable[str]) -> int:
    removed = 0
    for relative in relative_paths:
        try:
            safe_output_path(base, relative).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def fingerprint(manifest: Manifest, renderer: str) -> str:
    """A hash of every file the manifest records for ``renderer``: what a collection channel
    (the site, the playlist) would carry now."""
    digest = hashlib.sha256()
    for entry_id, entry in sorted(manifest.entries.get(renderer, {}).items()):
        for record in entry["files"]:
            digest.update(f"{entry_id}\0{record['path']}\0{record['sha256']}\n".encode())
    return digest.hexdigest()


def read_artifacts(base: Path, renderer: str, notice_id: str, records: Iterable[dict[str, Any]],
                   *, verify: bool = False) -> list[Artifact]:
    """The artifacts the manifest ``records`` describe, read back from ``base/renderer``.
    With ``verify``, a file whose bytes are not what the manifest says raises RenderError."""
    artifacts = []
    for record in records:
        data = safe_output_path(base / renderer, record["path"]).read_bytes()
        if verify and hashlib.sha256(data).hexdigest() != record["sha256"]:
            raise RenderError(None, f"{renderer}/{record['path']} changed on disk since it was "
                                    "built; run `noticecast build` again")
        artifacts.append(Artifact(renderer=renderer, path=record["path"], data=data,
                                  media_type=record["media_type"],
                                  notice_id=None if notice_id == COLLECTION else notice_id,
                                  meta=record.get("meta") or {}))
    return artifacts


def artifacts_of(project: Project, renderer: str, notice_id: str,
                 out_dir: Path | None = None) -> list[Artifact]:
    """The built artifacts of one notice (or COLLECTION), read back from ``out/``.

    This is how ``publish`` hands channels finished outputs without rendering anything.
    """
    base = (out_dir or project.out_dir).resolve()
    manifest = Manifest(base / ".cache" / "manifest.json")
    return read_artifacts(base, renderer, notice_id, manifest.files(renderer, notice_id))
