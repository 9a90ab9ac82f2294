"""YAML files -> Notices, with every problem located at file:line:col.

All files are read in one go and every problem is collected, so that an office sees the whole
list at once; one bad file never stops the others from loading. A parse cache (keyed by path,
size, modification time and the config's rules) lets a build of ten thousand unchanged files
skip YAML and validation entirely.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from pipeline import yamlsrc
from pipeline.codehash import code_digest
from pipeline.config import Config
from pipeline.errors import InputError, NoticeError, Problem
from pipeline.model import Notice

NOTICE_SUFFIXES = (".yaml", ".yml")
CACHE_VERSION = 3  # bump when loading rules change what a file means


@dataclass
class LoadResult:
    notices: list[Notice] = field(default_factory=list)  # valid ones, sorted by id
    problems: list[Problem] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)  # notice id -> its file
    invalid: dict[str, list[Problem]] = field(default_factory=dict)  # shown path -> problems
    warnings: list[Problem] = field(default_factory=list)
    # The last valid version of files that are invalid now, by notice id (from the cache).
    last_good: dict[str, Notice] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_id(self) -> dict[str, Notice]:
        return {n.id: n for n in self.notices}


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every notice file under ``paths`` (files are taken as given), sorted for stable output."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                found.update(
                    Path(dirpath) / name
                    for name in filenames
                    if name.endswith(NOTICE_SUFFIXES) and not name.startswith(".")
                )
        else:
            found.add(path)
    return sorted(found, key=str)  # comparing strings is 5x cheaper than Paths


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def parse_notice(path: Path, config: Config, shown: str) -> Notice:
    """One file -> a validated Notice, or NoticeError with located problems."""
    try:
        doc = yamlsrc.read(path, max_bytes=config.rules.max_file_bytes, display=shown)
    except InputError as exc:
        raise NoticeError(exc.problems) from None
    if not isinstance(doc.data, dict):
        raise NoticeError.at(shown, 1, 1, "a notice must be a YAML mapping of fields "
                                          "(see `noticecast new KIND ID`)")
    try:
        notice = Notice.model_validate(doc.data, context={"timezone": config.timezone})
    except ValidationError as exc:
        raise NoticeError(yamlsrc.validation_problems(doc, exc, Notice)) from None
    problems = rule_problems(notice, doc, config, path)
    if problems:
        raise NoticeError(problems)
    return notice


def rule_problems(
    notice: Notice, doc: yamlsrc.SourceDoc, config: Config, path: Path
) -> list[Problem]:
    """The publication rules that depend on the file name or on the office's config."""
    from pipeline.registry import channel_names

    problems: list[Problem] = []
    if notice.id != path.stem:
        problems.append(doc.problem(("id",), (
            f"id {notice.id!r} must equal the file name {path.stem!r}; rename the file or "
            "change the id")))
    known, wrong = config.area_known(notice.area)
    if not known:
        regions = "、".join(config.regions) or "(none)"
        problems.append(doc.problem(("area",), (
            f"area {notice.area!r}: {wrong!r} is not in the office's regions ({regions}); "
            "fix the name or add it under regions: in noticecast.yaml")))
    rules = config.rules
    if (notice.publicity is not None and notice.kind.is_fund_notice
            and notice.level in rules.min_publicity_levels
            and notice.publicity.days < rules.min_publicity_days):
        problems.append(doc.problem(("publicity", "end"), (
            f"publicity period is {notice.publicity.days} days, under the minimum of "
            f"{rules.min_publicity_days} for {notice.level.label} fund notices; move "
            "publicity.end later")))
    if notice.kind.is_fund_notice and notice.level in rules.min_publicity_levels \
            and notice.publicity is None:
        problems.append(doc.problem(("kind",), (
            f"a {notice.level.label} {notice.kind.label} notice needs a publicity: period "
            f"of at least {rules.min_publicity_days} days")))
    known_channels = set(channel_names())
    for index, name in enumerate(notice.channels or ()):
        if name not in known_channels:
            problems.append(doc.problem(("channels", index), (
                f"unknown channel {name!r}; use one of {', '.join(sorted(known_channels))}")))
    return problems


class ParseCache:
    """Validated notices from an earlier run, keyed by file identity and config rules."""

    def __init__(self, path: Path | None, config: Config) -> None:
        self.path = path
        # The code that parses is part of the key: an upgrade must not serve notices parsed by
        # the old rules.
        self.salt = (CACHE_VERSION, code_digest("pipeline.load"),
                     config.fingerprint("rules", "regions", "timezone"))
        self.entries: dict[str, tuple[int, int, Notice]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                salt, entries = pickle.loads(path.read_bytes())
                if salt == self.salt:
                    self.entries = entries
            except Exception:  # a damaged cache is only a slower build
                self.entries = {}

    def get(self, path: Path, stat: os.stat_result) -> Notice | None:
        entry = self.entries.get(str(path))
        if entry and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
            return entry[2]
        return None

    def last_good(self, path: Path) -> Notice | None:
        entry = self.entries.get(str(path))
        return entry[2] if entry else None

    def put(self, path: Path, stat: os.stat_result, notice: Notice) -> None:
        entry = (stat.st_size, stat.st_mtime_ns, notice)
        if self.entries.get(str(path)) != entry:
            notice.content_hash  # noqa: B018 - computed now so that it is pickled with it
            self.entries[str(path)] = entry
            self.dirty = True

    def forget(self, path: Path) -> None:
        if self.entries.pop(str(path), None) is not None:
            self.dirty = True

    def save(self, keep: Sequence[Path]) -> None:
        if self.path is None:
            return
        wanted = {str(p) for p in keep}
        if set(self.entries) - wanted:
            self.entries = {k: v for k, v in self.entries.items() if k in wanted}
            self.dirty = True
        if not self.dirty:
            return
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(pickle.dumps((self.salt, self.entries),
                                         protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, self.path)
        except OSError:  # a full or read-only disk: the cache is only a speed-up, go without
            with contextlib.suppress(OSError):
                tmp.unlink()


# Parsing is CPU-bound (YAML and validation, about 1 ms a file); past this many files that are
# not in the cache, the work is spread over a process pool.
PARALLEL_THRESHOLD = 400

Parsed = tuple[Path, str, "os.stat_result | None", "Notice | None", "tuple[Problem, ...]"]


def _parse_one(path: Path, config: Config, shown: str) -> Parsed:
    try:
        stat = path.stat()
        return path, shown, stat, parse_notice(path, config, shown), ()
    except InputError as exc:
        return path, shown, None, None, exc.problems
    except OSError as exc:
        problems = InputError.at(shown, 0, 0, f"cannot read file: {exc.strerror}").problems
        return path, shown, None, None, problems


def _parse_chunk(chunk: list[tuple[Path, str]], config: Config) -> list[Parsed]:
    return [_parse_one(path, config, shown) for path, shown in chunk]


def _parse_all(todo: list[tuple[Path, str]], config: Config) -> list[Parsed]:
    workers = os.cpu_count() or 1
    if len(todo) < PARALLEL_THRESHOLD or workers < 2:
        return _parse_chunk(todo, config)
    from concurrent.futures import ProcessPoolExecutor

    from pipeline.lifetime import die_with_parent

    size = max(50, len(todo) // (workers * 4))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        return [item for part in pool.map(_parse_chunk, chunks, [config] * len(chunks))
                for item in part]


def load_notices(
    paths: Sequence[Path], config: Config, root: Path, cache_file: Path | None = None
) -> LoadResult:
    """Load every notice under ``paths``; problems are collected, never raised."""
    result = LoadResult()
    cache = ParseCache(cache_file, config)
    files = discover(paths)
    root_text = str(root.resolve()) + os.sep

    def shown_of(path: Path) -> str:
        # Path.resolve() per file costs more than parsing a cached notice; absolute() does not.
        text = str(path.absolute())
        return text[len(root_text):] if text.startswith(root_text) else str(path)

    parsed: list[Parsed] = []
    todo: list[tuple[Path, str]] = []
    for path in files:
        shown = shown_of(path)
        try:
            stat = path.stat()
        except OSError as exc:
            problems = InputError.at(shown, 0, 0, f"cannot read file: {exc.strerror}").problems
            parsed.append((path, shown, None, None, problems))
            continue
        notice = cache.get(path, stat)
        if notice is None:
            todo.append((path, shown))
        else:
            parsed.append((path, shown, stat, notice, ()))
    parsed.extend(_parse_all(todo, config))
    parsed.sort(key=lambda item: str(item[0]))

    first_seen: dict[str, tuple[str, Notice]] = {}
    for path, shown, stat, notice, problems in parsed:
        if notice is None:
            previous = cache.last_good(path)
            if previous is not None:
                result.last_good[previous.id] = previous
            result.problems.extend(problems)
            result.invalid[shown] = list(problems)
            continue
        if stat is not None:
            cache.put(path, stat, notice)
        if notice.id in first_seen:
            other, _ = first_seen[notice.id]
            doc = yamlsrc.read(path, max_bytes=config.rules.max_file_bytes, display=shown)
            problem = doc.problem(("id",), (
                f"id {notice.id!r} is also used by {other}; every notice needs its own id"))
            result.problems.append(problem)
            result.invalid[shown] = [problem]
            continue
        first_seen[notice.id] = (shown, notice)
        result.paths[notice.id] = path
    result.notices = sorted((n for _, n in first_seen.values()), key=lambda n: n.id)
    for notice_id in list(result.last_good):
        if notice_id in first_seen:
            del result.last_good[notice_id]
    cache.save(files)
    return result
