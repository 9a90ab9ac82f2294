"""Publishing, top to bottom: the only step that reaches people, and always through the ledger.

``noticecast publish`` runs these steps, in this order (docs/publishing.md tells the promises):

1. **The clock.** ``now`` is the real time in the office's time zone, or a given moment:
   ``--today D`` means "as of D 23:59:59" (everything published that day is due), ``--now``
   takes an exact ISO 8601 moment. Retries are scheduled on this clock, and everything the run
   builds is made as of it (``pipeline.schedule``): nothing is public before its time.
2. **The lock.** ``.noticecast/publish.lock`` is taken with ``flock`` (``pipeline.publish_lock``):
   a second publisher fails at once with LockHeldError, or queues with ``--wait``. Render
   workers never hold it and die with the run; a lock left by a dead run is taken over, with a
   warning.
3. **The ledger fails safe** (``pipeline.ledger_history``): a project that has published
   refuses a missing, empty or replaced ledger instead of sending everything again.
4. **Recovery.** A ``sending`` row found now was left by a run that died between writing its
   intent and recording the outcome. On an idempotent channel (files, the site, the ticker
   playlist) it goes back to ``pending`` and is simply delivered again. On an at-most-once
   channel (SMS, Telegram: a duplicate reaches a person) it becomes ``in-doubt``: never resent
   on its own, listed by ``noticecast status`` until an operator runs
   ``noticecast resolve KEY --delivered`` (it did arrive) or ``--resend``.
5. **Load** the notices, **open the channels** named by the notices (``notice.channels`` or the
   config's channels for the kind, limited by ``--channel``) and ask each for its targets; an
   SMS channel's targets are the subscribers, matched to each notice by area.
6. **Plan** (``pipeline.publish_plan``, pure): which delivery keys
   ``(notice, revision, event, channel, target)`` are due now: publications, corrections (only to
   earlier recipients), withdrawals, expiries (the end of a publicity period, for the site and
   the ticker), pending keys and retries whose ``next_at`` has come. Pending or retrying keys
   that a newer revision or a withdrawal made pointless are ``cancelled``. SMS texts a first
   publication only while the notice is current (the SMS renderer's rule), so the first run
   of a new ledger does not text last year's notices. A notice changed after it reached an
   at-most-once channel, without a new revision, is named in a warning and recorded
   (``pipeline.publish_edits``); it is never resent silently. ``--dry-run`` stops here and
   prints the plan; it writes nothing at all.
7. **Build** (``pipeline.build.build``), as of ``now``, the renderers the due deliveries need
   and those of every collection channel. A collection target (the site, a playlist) whose
   content differs from what it last received gets a delivery keyed on that content
   (``Batch.snapshot``), so an edit or a notice whose hour came reaches it. Publish renders
   nothing itself, except the SMS digest text, composed once per distinct digest by the pure
   ``pipeline.renderers.sms.DigestCache``.
8. **Deliver**, one channel call per batch (one notice; or one collection swap covering every
   due key of a site or playlist target; or one digest covering every due notice of a
   subscriber):

   a. *payload*: a retry carries what its first attempt carried (kept in the ledger); a first
      attempt carries this build's outputs of this revision and this content. Outputs that
      failed to render, are stale, of another revision or unreadable are not sent: the keys
      stay ``pending`` with the reason ("blocked: …") and the run exits non-zero;
   b. *intent*: append ``sending`` with the payload for every key of the batch, in one
      transaction (``Ledger.claim``; a key another run got to first is skipped);
   c. *call* ``channel.deliver(delivery)``; for the withdrawal of a notice-scoped delivery,
      first ``channel.withdraw(previous receipt)`` (take back what can be taken back), then
      the ``withdrawal`` delivery (tell the rest: Telegram edits its caption to 【撤回】);
   d. *outcome*: ``delivered`` with the receipt; ``TransientError`` becomes ``retry`` with
      ``next_at`` from exponential backoff with jitter (``pipeline.publish_backoff``; a
      ``retry_after`` from the far side wins), or ``failed`` once ``publish.max_attempts``
      attempts were made; ``PermanentError`` becomes ``failed`` with its reason and is never
      retried. ``InDoubtError`` (a timeout after the request went out) and any unexpected
      exception may mean it arrived: on an at-most-once channel the key becomes ``in-doubt``
      for an operator, on an idempotent one it is retried like a transient error. A local
      write the disk refused (``ResourceError``) left nothing behind and is retried.

   The ledger is SQLite in WAL mode, append-only (``pipeline.ledger``); the intent is on
   disk before the call, so whatever instant a run is killed at, the next run knows what
   might have gone out.
9. **Report**: per channel, the keys delivered, scheduled for retry, failed, blocked and in
   doubt. Every channel is closed (an SMPP session unbinds).

``noticecast next`` plans without delivering and prints when something is due next (now, a
``published`` time, the end of a publicity period, a retry). ``publish --watch`` is this whole
run in a loop, sleeping until ``next`` (at most ``--interval`` seconds, so that new notice
files are seen).
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from channels.base import Artifact, Channel, Delivery, Target, close_channel
from pipeline import ledger_history, registry
from pipeline.build import (
    COLLECTION,
    BuildOptions,
    BuildReport,
    Manifest,
    artifacts_of,
    build,
    fingerprint,
    read_artifacts,
)
from pipeline.config import Config
from pipeline.errors import (
    ConfigError,
    InDoubtError,
    InputError,
    LedgerError,
    Location,
    NoticecastError,
    PermanentError,
    Problem,
    RenderError,
    ResourceError,
    TransientError,
)
from pipeline.ledger import (
    CANCELLED,
    DELIVERED,
    FAILED,
    IN_DOUBT,
    RETRY,
    Key,
    Ledger,
    Outcome,
    Payload,
    Row,
    open_readonly,
    run_actor,
)
from pipeline.load import load_notices
from pipeline.model import Notice
from pipeline.project import Project
from pipeline.publish_backoff import next_attempt_at
from pipeline.publish_edits import edits_after_sending
from pipeline.publish_lock import publish_lock
from pipeline.publish_plan import Batch, ChannelInfo, Item, Plan, make_plan
from pipeline.renderers.base import RenderContext
from pipeline.schedule import local_day

# The renderer whose built outputs each built-in channel carries. A plug-in channel names its
# own with a ``renderer`` class attribute; SMS composes its digests at publish instead.
CHANNEL_RENDERERS: dict[str, str | None] = {
    "site": "web", "telegram": "card", "newspaper": "newspaper", "ticker": "ticker",
    "sms": None, "memory": None, "wechat": "wechat", "board": "board",
}

# (phase, done, total): "build" counts render jobs, "deliver" counts delivery keys.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PublishOptions:
    now: datetime
    channel: str | None = None
    dry_run: bool = False
    wait: bool = False  # queue behind a running publisher instead of failing


@dataclass
class Tally:
    """What happened on one channel in one run, counted in delivery keys."""

    delivered: int = 0
    retried: int = 0  # failed transiently, scheduled again
    failed: int = 0
    in_doubt: int = 0  # in the ledger after this run, waiting for an operator
    blocked: int = 0  # not sent: the payload was not ready (a render failed); waiting
    cancelled: int = 0
    waiting: int = 0  # retries whose time has not come
    calls: int = 0


@dataclass
class PublishReport:
    now: datetime
    plan: Plan
    dry_run: bool = False
    tallies: dict[str, Tally] = field(default_factory=dict)
    recovered: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # could not load/open/build
    warnings: list[Problem] = field(default_factory=list)
    in_doubt: list[Row] = field(default_factory=list)
    build: BuildReport | None = None
    blocked: list[tuple[Key, str]] = field(default_factory=list)  # waiting, and why

    def tally(self, channel: str) -> Tally:
        return self.tallies.setdefault(channel, Tally())

    @property
    def ok(self) -> bool:
        return not self.problems and not any(t.failed or t.blocked
                                             for t in self.tallies.values())


# -- the clock --------------------------------------------------------------------------------

def moment(config: Config, *, today: date | None = None, now: str | datetime | None = None
           ) -> datetime:
    """The run's ``now``: an exact moment, the end of ``today``, or the real time."""
    zone = config.zone
    if now is not None:
        value = now if isinstance(now, datetime) else _parse_moment(now)
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if today is not None:
        return datetime.combine(today, time(23, 59, 59), tzinfo=zone)
    return datetime.now(zone)


def _parse_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise LedgerError(f"--now {text!r} is not an ISO 8601 moment; write it like "
                          "2018-07-08T09:30:00+08:00") from None


def ledger_path(project: Project) -> Path:
    return project.config.path(project.config.publish.ledger)


def lock_path(project: Project) -> Path:
    return project.state_dir / "publish.lock"


# -- the run ----------------------------------------------------------------------------------

def publish(project: Project, options: PublishOptions,
            progress: ProgressCallback | None = None) -> PublishReport:
    """One publish run (see the module docstring)."""
    if options.dry_run:
        return _dry_run(project, options)
    durability = project.config.publish.durability
    shown_lock = project.display(lock_path(project))
    with publish_lock(lock_path(project), wait=options.wait, shown=shown_lock) as lock:
        history = ledger_history.check_file(project.state_dir, ledger_path(project),
                                            _shown_ledger(project))
        with Ledger(ledger_path(project), durability=durability) as ledger:
            ledger_history.check_ledger(history, ledger.ledger_id, ledger.delivery_count(),
                                        _shown_ledger(project))
            actor = run_actor()
            recovered = ledger.recover(as_of=options.now, actor=actor)
            session = _Session(project, options, ledger, actor, history)
            session.remember_history()
            try:
                report = session.plan_run()
                report.recovered = recovered
                if lock.taken_over:
                    report.warnings.append(Problem(Location(shown_lock), (
                        f"the previous publish ({lock.taken_over}) ended without finishing; "
                        "its lock was taken over and what it left is recovered")))
                session.check_edits(report)
                session.cancel(report)
                session.build(report, progress)
                session.snapshots(report)
                session.deliver(report, progress)
                session.finish(report)
                return report
            finally:
                for channel in session.channels.values():  # one session (an SMPP bind) a run
                    close_channel(channel)
                session.remember_history()


def _shown_ledger(project: Project) -> str:
    return project.display(ledger_path(project))


def open_for_reading(project: Project) -> Ledger | None:
    """The ledger for reading (status, log, a dry run), or None when nothing was published;
    refused, like a publish, when it is missing or replaced although the project published."""
    shown = _shown_ledger(project)
    history = ledger_history.check_file(project.state_dir, ledger_path(project), shown)
    ledger = open_readonly(ledger_path(project))
    if ledger is not None:
        try:
            ledger_history.check_ledger(history, ledger.ledger_id, ledger.delivery_count(),
                                        shown)
        except BaseException:
            ledger.close()
            raise
    return ledger


def edit_warnings(project: Project, notices: list[Notice], paths: dict[str, Path]
                  ) -> list[Problem]:
    """For `check`: the notices changed since they were sent, without a new revision."""
    try:
        ledger = open_for_reading(project)
    except LedgerError as exc:
        return [Problem(Location(_shown_ledger(project)), str(exc), severity="warning")]
    if ledger is None:
        return []
    with ledger:
        sent = ledger.sent_versions() if ledger.version >= ledger_history.PAYLOAD_VERSION \
            else {}
    problems = []
    for edit in edits_after_sending(notices, sent):
        if not edit.minor:
            path = paths.get(edit.notice.id)
            where = Location(project.display(path) if path else edit.notice.id)
            problems.append(Problem(where, edit.message(project.config.zone),
                                    severity="warning"))
    return problems


def _dry_run(project: Project, options: PublishOptions, *, cache: bool = False
             ) -> PublishReport:
    ledger = open_for_reading(project)
    try:
        rows = ledger.current() if ledger else []
    finally:
        if ledger:
            ledger.close()
    # A crash's leftovers are shown as what the real run would make of them.
    rows = [_as_recovered(row) for row in rows]
    session = _Session(project, options, None, "dry run")
    report = session.plan_run(rows=rows, cache=cache)
    report.dry_run = True
    for batch in report.plan.batches:
        report.tally(batch.channel).calls += 1
    for row, _ in report.plan.cancel:
        report.tally(row.key.channel).cancelled += 1
    for row in report.plan.waiting:
        report.tally(row.key.channel).waiting += 1
    report.in_doubt = [r for r in rows if r.state == IN_DOUBT]
    return report


def _as_recovered(row: Row) -> Row:
    if row.state != "sending":
        return row
    return replace(row, state="pending" if row.mode == "idempotent" else IN_DOUBT)


def due_moment(project: Project, now: datetime, channel: str | None = None) -> datetime | None:
    """When anything is next due (``now`` if something is due already); None if nothing is."""
    # The parse cache (in out/, like every build cache) keeps a frequent `next` cheap.
    report = _dry_run(project, PublishOptions(now=now, channel=channel, dry_run=True),
                      cache=True)
    return report.plan.next_due()


class _Session:
    """The state of one run, shared by its steps."""

    def __init__(self, project: Project, options: PublishOptions, ledger: Ledger | None,
                 actor: str, history: ledger_history.History | None = None) -> None:
        self.project = project
        self.config = project.config
        self.options = options
        self.now = options.now
        self.ledger = ledger
        self.actor = actor
        self.channels: dict[str, Channel] = {}
        self.infos: dict[str, ChannelInfo] = {}
        self.digests: Any = None  # pipeline.renderers.sms.DigestCache, made on first use
        self.history = history
        self.manifest: Manifest | None = None  # what the run's build made, to check payloads
        self.notices: list[Notice] = []
        self.paths: dict[str, Path] = {}
        self.area_wants: dict[tuple[str, str], bool] = {}  # (notice, area) -> applies_to

    def remember_history(self) -> None:
        """Record outside the ledger that this project has published (see ledger_history)."""
        assert self.ledger is not None
        ledger_history.record(self.project.state_dir, self.history, self.ledger.ledger_id,
                              self.ledger.delivery_count())
        self.history = ledger_history.History.read(self.project.state_dir)

    # -- steps 5 and 6: load, open the channels, plan --------------------------------------

    def plan_run(self, rows: list[Row] | None = None, cache: bool = True) -> PublishReport:
        cache_file = self.project.cache_dir / "notices.pickle" if cache else None
        loaded = load_notices((self.project.content_dir,), self.config, self.project.root,
                              cache_file=cache_file)
        report = PublishReport(now=self.now, plan=Plan(now=self.now))
        report.problems.extend(loaded.problems)
        notices = loaded.notices
        self.notices, self.paths = notices, loaded.paths
        wanted = sorted({name for notice in notices for name in self.channels_of(notice)})
        for name in wanted:
            try:
                self.open_channel(name, notices, report)
            except InputError as exc:  # the subscriber list
                report.problems.extend(exc.problems)
            except (NoticecastError, ImportError) as exc:
                report.problems.append(Problem(Location(f"channel {name}"),
                                               f"cannot open the channel: {exc}"))
        if rows is None:
            assert self.ledger is not None
            rows = self.ledger.current()
        report.plan = make_plan(notices, list(self.infos.values()), self.channels_of, rows,
                                self.now, self.config.zone)
        for name in self.infos:
            report.tally(name)
        return report

    def channels_of(self, notice: Notice) -> list[str]:
        names = (notice.channels if notice.channels is not None
                 else self.config.channels_for(notice.kind))
        return [n for n in names if self.options.channel in (None, n)]

    def open_channel(self, name: str, notices: list[Notice], report: PublishReport) -> None:
        broken = self.config.broken_channels.get(name)
        if broken:  # its settings are wrong: nothing goes there, every other channel goes on
            raise ConfigError([*broken, Problem(Location(f"channel {name}"), (
                "out of service until its settings are fixed; nothing was sent on it, the "
                "other channels published"))])
        cls = registry.channel_class(name)
        sink = self.project.out_dir / "channels" / name
        channel = cls.from_config(self.config, sink=sink)
        scope = getattr(channel, "scope", "notice")
        targets = list(channel.targets(self.config))
        # A channel may skip some targets (a bad subscriber row) and deliver to the rest;
        # what it skipped is reported, and makes the run exit non-zero.
        for problem in getattr(channel, "target_problems", ()):
            (report.problems if problem.severity == "error" else report.warnings).append(problem)
        if scope == "collection" and _renderer_of(name, channel) == "web":
            # The site channel swaps in the built web folder.
            source = str((self.project.out_dir / "web").resolve())
            targets = [replace(t, address={**t.address, "source_dir": source}) for t in targets]
        self.channels[name] = channel
        self.infos[name] = ChannelInfo(
            name=name, scope=scope, mode=getattr(channel, "delivery", "at-most-once"),
            targets=tuple(targets), tells_withdrawal=self.config.sms.notify_withdrawal,
            **({"accepts": self.wants_notice, "newsworthy": self.current_for_sms(notices)}
               if scope == "digest" else self.channel_rules(channel)))

    def channel_rules(self, channel: Channel) -> dict[str, Any]:
        """A notice channel may pick its notices per target (a board carries its own area's:
        ``accepts(notice, target)``) and say what is still worth a first delivery on the
        run's day (``newsworthy(notice, day)``: not last year's sheet)."""
        rules: dict[str, Any] = {}
        if hasattr(channel, "accepts"):
            rules["accepts"] = channel.accepts
        if hasattr(channel, "newsworthy"):
            day = local_day(self.now, self.config.zone)
            rules["newsworthy"] = lambda notice: channel.newsworthy(notice, day)
        return rules

    def current_for_sms(self, notices: list[Notice]) -> Callable[[Notice], bool]:
        """The SMS renderer's rule for what is worth a text today (publicity running, or
        recently published)."""
        from pipeline.renderers.sms import current_notices

        current = {n.id for n in current_notices(notices, self.render_context())}
        return lambda notice: notice.id in current

    def render_context(self) -> RenderContext:
        return RenderContext(config=self.config, today=local_day(self.now, self.config.zone),
                             templates=self.project.templates, now=self.now)

    def wants_notice(self, notice: Notice, target: Target) -> bool:
        """Whether a digest target (a subscriber) gets this notice: by the area it lives in."""
        from pipeline.renderers.sms import applies_to

        # The answer depends on the area only; a million subscribers live in a few hundred.
        key = (notice.id, str(target.address.get("area", "")))
        wanted = self.area_wants.get(key)
        if wanted is None:
            wanted = self.area_wants[key] = bool(applies_to(notice, key[1], self.config))
        return wanted

    # -- step 6c: cancel what became pointless --------------------------------------------

    def cancel(self, report: PublishReport) -> None:
        assert self.ledger is not None
        if not report.plan.cancel:
            return
        self.ledger.record(
            [(row.key, Outcome(CANCELLED, attempt=row.attempt, reason=why))
             for row, why in report.plan.cancel], as_of=self.now, actor=self.actor)
        for row, _ in report.plan.cancel:
            report.tally(row.key.channel).cancelled += 1

    # -- step 7: build --------------------------------------------------------------------

    def build(self, report: PublishReport, progress: ProgressCallback | None) -> None:
        """Build, as of the run's instant, what the due deliveries carry and what every
        collection channel (site, playlist) shows: those are compared with what they last
        received, so an edit or a notice whose hour came reaches them without a new key."""
        names = {_renderer_of(b.channel, self.channels[b.channel]) for b in report.plan.batches}
        names |= {_renderer_of(name, self.channels[name]) for name, info in self.infos.items()
                  if info.scope == "collection"}
        renderers = tuple(n for n in registry.renderer_names() if n in names)
        if not renderers:
            return
        options = BuildOptions(today=local_day(self.now, self.config.zone), now=self.now,
                               only=renderers)
        try:
            report.build = build(self.project, options, progress and (
                lambda done, total: progress("build", done, total)))
        except ResourceError as exc:  # the disk refused: what was built stays, checked below
            report.problems.append(Problem(Location(self.project.display(
                self.project.out_dir)), f"the build could not finish: {exc}"))
        self.manifest = Manifest(self.project.cache_dir / "manifest.json")
        if report.build is not None:
            # Load problems are reported already; what is new here are render errors.
            known = set(report.problems)
            report.warnings.extend(p for p in report.build.problems if p not in known)

    # -- step 6b: edits after sending -----------------------------------------------------

    def check_edits(self, report: PublishReport) -> None:
        assert self.ledger is not None
        for edit in edits_after_sending(self.notices, self.ledger.sent_versions()):
            kind = "minor-edit" if edit.minor else "changed"
            self.ledger.record_change(edit.notice.id, edit.notice.revision,
                                      sent_hash=edit.sent_hash,
                                      content_hash=edit.notice.content_hash, kind=kind,
                                      actor=self.actor)
            if not edit.minor:
                report.warnings.append(Problem(self.where(edit.notice.id),
                                               edit.message(self.config.zone)))

    def where(self, notice_id: str) -> Location:
        path = self.paths.get(notice_id)
        return Location(self.project.display(path) if path else notice_id)

    # -- step 7b: collection targets whose content changed ----------------------------------

    def snapshots(self, report: PublishReport) -> None:
        """A collection target (the site, a playlist) that last received other content than
        the build now holds gets a delivery, keyed on that content's fingerprint."""
        assert self.ledger is not None
        if self.manifest is None or report.build is None:
            return
        batches = {(b.channel, b.target.key): b for b in report.plan.batches}
        for name, info in self.infos.items():
            renderer = _renderer_of(name, self.channels[name])
            if info.scope != "collection" or renderer is None \
                    or (renderer, COLLECTION) in report.build.failed:
                continue
            current = fingerprint(self.manifest, renderer)
            for target in info.targets:
                if self.ledger.last_fingerprint(name, target.key) == current:
                    continue
                batch = batches.get((name, target.key))
                if batch is None:
                    batch = Batch(name, info.scope, target)
                    report.plan.batches.append(batch)
                batch.snapshot = Key(f"*{current[:16]}", 0, "publish", name, target.key)

    # -- step 8: deliver ------------------------------------------------------------------

    def deliver(self, report: PublishReport, progress: ProgressCallback | None) -> None:
        total = len(report.plan.items)
        done = 0
        if progress:
            progress("deliver", 0, total)
        for batch in report.plan.batches:
            self.deliver_batch(batch, report)
            done += len(batch.items)
            if progress:
                progress("deliver", done, total)

    def deliver_batch(self, batch: Batch, report: PublishReport) -> None:
        assert self.ledger is not None
        channel = self.channels[batch.channel]
        tally = report.tally(batch.channel)
        mode = getattr(channel, "delivery", "at-most-once")
        items = list(batch.items)
        if batch.scope == "collection":  # a notice that failed to render waits; the rest go
            items = [i for i in items if not self.hold_if_failed(batch, i, report)]
            if not items and batch.snapshot is None:
                return
        try:
            delivery, payload = self.prepare(batch, items, channel, report)
        except (NoticecastError, OSError) as exc:  # the payload is not ready: it waits
            reason = ResourceError.from_os_error(exc) if isinstance(exc, OSError) else exc
            self.hold(batch, items, f"blocked: {reason}", report, with_snapshot=True)
            return
        wanted = [(i.key, i.target.label, i.mode) for i in items]
        if batch.snapshot is not None:
            wanted.append((batch.snapshot, batch.target.label, mode))
        batch_id = _batch_id(batch, delivery)
        claimed = self.ledger.claim(wanted, as_of=self.now, actor=self.actor, batch=batch_id,
                                    payload=payload)
        if self.history is None:
            self.remember_history()  # from the first intent on, an empty ledger is refused
        items = [i for i in items if i.key in claimed]
        snapshot = batch.snapshot if batch.snapshot in claimed else None
        if not items and snapshot is None:
            return
        failure: BaseException | None = None
        receipt = None
        tally.calls += 1
        try:
            if delivery.event == "withdrawal" and batch.scope == "notice" \
                    and delivery.previous is not None:
                # Take back what the channel can (an inbox file); the withdrawal delivery
                # then tells the rest (Telegram edits its caption to 【撤回】).
                channel.withdraw(delivery.previous)
            receipt = channel.deliver(delivery)
        except (PermanentError, TransientError, InDoubtError) as exc:
            failure = exc
        except ResourceError as exc:  # a local write refused (disk full) left nothing behind
            failure = TransientError(str(exc))
        except Exception as exc:  # a channel bug must neither lose nor double a delivery
            ambiguous = InDoubtError if mode == "at-most-once" else TransientError
            failure = ambiguous(f"{type(exc).__name__}: {exc}")
        at_most_once = mode == "at-most-once"
        keys = [i.key for i in items] + ([snapshot] if snapshot else [])
        outcomes = [(key, self.outcome(claimed[key], receipt, failure, batch_id,
                                       at_most_once=at_most_once)) for key in keys]
        self.ledger.record(outcomes, as_of=self.now, actor=self.actor)
        for _, outcome in outcomes:
            if outcome.state == DELIVERED:
                tally.delivered += 1
            elif outcome.state == RETRY:
                tally.retried += 1
            elif outcome.state == IN_DOUBT:
                pass  # counted with every other in-doubt key at the end of the run
            else:
                tally.failed += 1

    def hold_if_failed(self, batch: Batch, item: Item, report: PublishReport) -> bool:
        renderer = _renderer_of(batch.channel, self.channels[batch.channel])
        failed = report.build.failed.get((renderer, item.notice.id)) if (
            report.build and renderer) else None
        if failed is None:
            return False
        self.hold(batch, [item], f"blocked: render failed: {failed}", report)
        return True

    def hold(self, batch: Batch, items: list[Item], reason: str, report: PublishReport, *,
             with_snapshot: bool = False) -> None:
        """Keep ``items`` pending with the reason. A collection's content (its snapshot) is
        named in the report but gets no ledger row: the next run compares it afresh."""
        assert self.ledger is not None
        self.ledger.hold([(i.key, i.target.label, i.mode) for i in items],
                         " ".join(reason.split()), as_of=self.now, actor=self.actor)
        held = [i.key for i in items]
        if with_snapshot and batch.snapshot is not None:
            held.append(batch.snapshot)
        report.tally(batch.channel).blocked += len(held)
        report.blocked.extend((key, reason) for key in held)

    def outcome(self, attempt: int, receipt: Any, failure: BaseException | None,
                batch_id: str | None, *, at_most_once: bool = False) -> Outcome:
        if failure is None:
            return Outcome(DELIVERED, attempt=attempt, batch=batch_id,
                           receipt=receipt.as_dict() if receipt is not None else None)
        reason = _one_line(failure)
        if isinstance(failure, PermanentError):
            return Outcome(FAILED, attempt=attempt, reason=reason, batch=batch_id)
        if isinstance(failure, InDoubtError) and at_most_once:
            return Outcome(IN_DOUBT, attempt=attempt, reason=reason, batch=batch_id)
        settings = self.config.publish
        if attempt >= settings.max_attempts:
            return Outcome(FAILED, attempt=attempt, batch=batch_id,
                           reason=f"gave up after {attempt} attempts: {reason}")
        retry_after = getattr(failure, "retry_after", None)
        when = next_attempt_at(self.now, attempt, base=settings.backoff_base_s,
                               cap=settings.backoff_max_s, retry_after=retry_after)
        return Outcome(RETRY, attempt=attempt, next_at=when, reason=reason, batch=batch_id)

    def prepare(self, batch: Batch, items: list[Item], channel: Channel,
                report: PublishReport) -> tuple[Delivery, Payload]:
        """The delivery and its payload: for a retry, exactly what the first attempt carried;
        otherwise the outputs this run built of this revision and this content, or
        RenderError when they are missing, stale or from another revision."""
        assert self.ledger is not None
        renderer = _renderer_of(batch.channel, channel)
        if batch.scope == "notice":
            item = items[0]
            stored = self.ledger.payload(item.key) if item.row is not None else None
            if stored is not None:
                artifacts = _artifacts_from(stored)
                payload = stored
            else:
                artifacts = self.current_artifacts(renderer, item.notice, report)
                payload = _payload_of(artifacts, {item.notice.id: item.notice.content_hash})
            delivery = Delivery(notice_id=item.notice.id, revision=item.notice.revision,
                                target=batch.target, artifacts=artifacts, event=item.key.event,
                                previous=item.previous, earlier=item.earlier)
            return delivery, payload
        if batch.scope == "collection":
            artifacts = []
            notices = {i.notice.id: i.notice.content_hash for i in items}
            if renderer is not None:
                if report.build is None:  # a half-finished build is never swapped in
                    raise RenderError(None, "the build did not finish; the site and the "
                                            "playlists wait for a complete one")
                failed = report.build.failed
                if (renderer, COLLECTION) in failed:
                    raise RenderError(None, f"render failed: {failed[(renderer, COLLECTION)]}")
                artifacts = artifacts_of(self.project, renderer, COLLECTION)
            files = [_describe(a, stored=False) for a in artifacts]
            current = fingerprint(self.manifest, renderer) if (
                self.manifest is not None and renderer) else None
            delivery = Delivery(notice_id=COLLECTION, revision=0, target=batch.target,
                                artifacts=artifacts, event=_event_of(items))
            return delivery, Payload(files=files, notices=notices, fingerprint=current)
        stored_digest = self.stored_digest(items)
        if stored_digest is not None:
            artifacts = _artifacts_from(stored_digest)
            data = json.loads(artifacts[0].data) if artifacts else {}
            previous = next((i.previous for i in items if i.previous is not None), None)
            delivery = Delivery(notice_id=str(data.get("digest_id", "digest")), revision=0,
                                target=batch.target, artifacts=artifacts,
                                event=_event_of(items), previous=previous)
            return delivery, stored_digest
        delivery = self.digest_delivery(batch, items)
        return delivery, _payload_of(list(delivery.artifacts),
                                     {i.notice.id: i.notice.content_hash for i in items})

    def stored_digest(self, items: list[Item]) -> Payload | None:
        """A digest retried carries the text its first attempt carried, when every key of
        the call was part of that attempt."""
        assert self.ledger is not None
        if not items or any(i.row is None for i in items):
            return None
        stored = [self.ledger.payload(i.key) for i in items]
        first = stored[0]
        if first is None or any(p is None or p.describe() != first.describe() for p in stored):
            return None
        return first

    def current_artifacts(self, renderer: str | None, notice: Notice,
                          report: PublishReport) -> list[Artifact]:
        if renderer is None:
            return []
        failed = report.build.failed.get((renderer, notice.id)) if report.build else None
        if failed is not None:
            raise RenderError(None, f"render failed: {failed}")
        entry = self.manifest.entry(renderer, notice.id) if self.manifest else None
        if entry is None or not entry.get("files"):
            raise RenderError(None, f"{notice.id} has no built {renderer} output; see "
                                    "`noticecast build` for its errors")
        if entry.get("revision") != notice.revision \
                or entry.get("content_hash") != notice.content_hash:
            raise RenderError(None, f"the built {renderer} output of {notice.id} is of another "
                                    f"version (revision {entry.get('revision')}) than revision "
                                    f"{notice.revision} being published; run `noticecast build`")
        try:
            return read_artifacts(self.project.out_dir.resolve(), renderer, notice.id,
                                  entry["files"], verify=True)
        except OSError as exc:
            raise RenderError(None, f"cannot read the built {renderer} output: "
                                    f"{ResourceError.from_os_error(exc)}") from None

    def digest_delivery(self, batch: Batch, items: list[Item]) -> Delivery:
        from pipeline.renderers.sms import DigestCache

        if self.digests is None:  # one composition per distinct digest in the run
            self.digests = DigestCache(self.render_context())
        area = batch.target.address.get("area", "")
        digest = self.digests.compose([(i.notice, i.key.event) for i in items], area)
        artifact: Artifact = digest.to_artifact()
        digest_id = digest.digest_id
        previous = next((i.previous for i in items if i.previous is not None), None)
        return Delivery(notice_id=str(digest_id), revision=0,
                        target=batch.target, artifacts=[artifact], event=_event_of(items),
                        previous=previous)

    # -- step 9: what is left for an operator ---------------------------------------------

    def finish(self, report: PublishReport) -> None:
        assert self.ledger is not None
        report.in_doubt = self.ledger.current(states=[IN_DOUBT])
        for row in report.in_doubt:
            report.tally(row.key.channel).in_doubt += 1
        for row in report.plan.waiting:
            report.tally(row.key.channel).waiting += 1


def _describe(artifact: Artifact, *, stored: bool) -> dict[str, Any]:
    return {"renderer": artifact.renderer, "path": artifact.path, "sha256": artifact.sha256,
            "media_type": artifact.media_type, "notice_id": artifact.notice_id,
            "meta": dict(artifact.meta), "stored": stored}


def _payload_of(artifacts: list[Artifact], notices: dict[str, str]) -> Payload:
    """A payload whose bytes the ledger keeps, so that a retry sends the very same."""
    return Payload(files=[_describe(a, stored=True) for a in artifacts], notices=notices,
                   blobs={a.sha256: a.data for a in artifacts})


def _artifacts_from(payload: Payload) -> list[Artifact]:
    return [Artifact(renderer=f["renderer"], path=f["path"], data=payload.blobs[f["sha256"]],
                     media_type=f["media_type"], notice_id=f.get("notice_id"),
                     meta=f.get("meta") or {})
            for f in payload.files if f.get("stored")]


def _renderer_of(name: str, channel: Any) -> str | None:
    if name in CHANNEL_RENDERERS:
        return CHANNEL_RENDERERS[name]
    return getattr(channel, "renderer", None)


def _event_of(items: list[Item]) -> Any:
    events = {i.key.event for i in items}
    return events.pop() if len(events) == 1 else "publish"


def _batch_id(batch: Batch, delivery: Delivery | None) -> str | None:
    """A name shared by the keys one call covers (a digest id, a collection swap)."""
    if batch.scope == "notice":
        return None
    if delivery is not None and batch.scope == "digest":
        return delivery.notice_id
    return f"{batch.channel}:{batch.target.key}"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


# -- watching ---------------------------------------------------------------------------------

def watch(project: Project, run: Callable[[datetime], object],
          *, interval: float, sleep: Callable[[float], None] = clock.sleep,
          rounds: int | None = None) -> None:
    """Publish, sleep until the next due moment (at most ``interval`` s), repeat; until
    interrupted (or ``rounds`` runs, for tests)."""
    done = 0
    while rounds is None or done < rounds:
        run(moment(project.config))
        done += 1
        if rounds is not None and done >= rounds:
            return
        now = moment(project.config)
        upcoming = due_moment(project, now)
        wait = interval if upcoming is None else (upcoming - now).total_seconds()
        sleep(min(interval, max(1.0, wait)))


__all__ = [
    "Key",
    "PublishOptions",
    "PublishReport",
    "Tally",
    "due_moment",
    "moment",
    "publish",
    "watch",
]
