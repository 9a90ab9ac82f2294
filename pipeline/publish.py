"""Publishing, top to bottom: the only step that reaches people, and always through the ledger.

``noticecast publish`` runs these steps, in this order:

1. **The clock.** ``now`` is the real time in the office's time zone, or a given moment:
   ``--today D`` means "as of D 23:59:59" (everything published that day is due), ``--now``
   takes an exact ISO 8601 moment. Retries are scheduled on this clock, so a test (or an
   office catching up) controls time by passing it.
2. **The lock.** ``.noticecast/publish.lock`` is taken with ``flock`` (``pipeline.publish_lock``):
   a second publisher fails at once with LockHeldError, or queues with ``--wait``. The kernel
   releases it when a run dies, so a crash never leaves it stuck.
3. **Recovery.** A ``sending`` row found now was left by a run that died between writing its
   intent and recording the outcome. On an idempotent channel (files, the site, the ticker
   playlist) it goes back to ``pending`` and is simply delivered again. On an at-most-once
   channel (SMS, Telegram: a duplicate reaches a person) it becomes ``in-doubt``: never resent
   on its own, listed by ``noticecast status`` until an operator runs
   ``noticecast resolve KEY --delivered`` (it did arrive) or ``--resend``.
4. **Load** the notices, **open the channels** named by the notices (``notice.channels`` or the
   config's channels for the kind, limited by ``--channel``) and ask each for its targets; an
   SMS channel's targets are the subscribers, matched to each notice by area.
5. **Plan** (``pipeline.publish_plan``, pure): which delivery keys
   ``(notice, revision, event, channel, target)`` are due now: publications, corrections (only to
   earlier recipients), withdrawals, expiries (the end of a publicity period, for the site and
   the ticker), pending keys and retries whose ``next_at`` has come. Pending or retrying keys
   that a newer revision or a withdrawal made pointless are ``cancelled``. SMS texts a first
   publication only while the notice is current (the SMS renderer's rule), so the first run
   of a new ledger does not text last year's notices. An edit without a new revision is not
   a delivery: a change people must hear about is a correction. ``--dry-run`` stops here and
   prints the plan; it writes nothing at all.
6. **Build** (``pipeline.build.build``) the renderers those channels need, incrementally, so
   the artifacts are current; then read them back with ``artifacts_of``. Publish renders
   nothing itself, except the SMS digest text, which is composed per subscriber by the pure
   ``pipeline.renderers.sms.compose_digest``.
7. **Deliver**, one channel call per batch (one notice; or one collection swap covering every
   due key of a site or playlist target; or one digest covering every due notice of a
   subscriber):

   a. *intent*: append ``sending`` for every key of the batch, in one transaction
      (``Ledger.claim``; a key another run got to first is skipped);
   b. *call* ``channel.deliver(delivery)``; for the withdrawal of a notice-scoped delivery,
      first ``channel.withdraw(previous receipt)`` (take back what can be taken back), then
      the ``withdrawal`` delivery (tell the rest: Telegram edits its caption to 【撤回】);
   c. *outcome*: ``delivered`` with the receipt; ``TransientError`` becomes ``retry`` with
      ``next_at`` from exponential backoff with jitter (``pipeline.publish_backoff``; a
      ``retry_after`` from the far side wins), or ``failed`` once ``publish.max_attempts``
      attempts were made; ``PermanentError`` becomes ``failed`` with its reason and is never
      retried. ``InDoubtError`` (a timeout after the request went out) and any unexpected
      exception may mean it arrived: on an at-most-once channel the key becomes ``in-doubt``
      for an operator, on an idempotent one it is retried like a transient error.

   The ledger is SQLite in WAL mode, append-only (``pipeline.ledger``); the intent is on
   disk before the call, so whatever instant a run is killed at, the next run knows what
   might have gone out.
8. **Report**: per channel, the keys delivered, scheduled for retry, failed, and in doubt.

``noticecast next`` plans without delivering and prints when something is due next (now, a
``published`` time, the end of a publicity period, a retry). ``publish --watch`` is this whole
run in a loop, sleeping until ``next`` (at most ``--interval`` seconds, so that new notice
files are seen).
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from channels.base import Artifact, Channel, Delivery, Target, close_channel
from pipeline import registry
from pipeline.build import COLLECTION, BuildOptions, BuildReport, artifacts_of, build
from pipeline.config import Config
from pipeline.errors import (
    InDoubtError,
    InputError,
    LedgerError,
    Location,
    NoticecastError,
    PermanentError,
    Problem,
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
    Row,
    open_readonly,
    run_actor,
)
from pipeline.load import load_notices
from pipeline.model import Notice
from pipeline.project import Project
from pipeline.publish_backoff import next_attempt_at
from pipeline.publish_lock import publish_lock
from pipeline.publish_plan import Batch, ChannelInfo, Item, Plan, make_plan
from pipeline.renderers.base import RenderContext

# The renderer whose built outputs each built-in channel carries. A plug-in channel names its
# own with a ``renderer`` class attribute; SMS composes its digest per subscriber instead.
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

    def tally(self, channel: str) -> Tally:
        return self.tallies.setdefault(channel, Tally())

    @property
    def ok(self) -> bool:
        return not self.problems and not any(t.failed for t in self.tallies.values())


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
    with publish_lock(lock_path(project), wait=options.wait,
                      shown=project.display(lock_path(project))), \
            Ledger(ledger_path(project), durability=durability) as ledger:
        actor = run_actor()
        recovered = ledger.recover(as_of=options.now, actor=actor)
        session = _Session(project, options, ledger, actor)
        try:
            report = session.plan_run()
            report.recovered = recovered
            session.cancel(report)
            session.build(report, progress)
            session.deliver(report, progress)
            session.finish(report)
            return report
        finally:
            for channel in session.channels.values():  # one session (an SMPP bind) a run
                close_channel(channel)


def _dry_run(project: Project, options: PublishOptions, *, cache: bool = False
             ) -> PublishReport:
    ledger = open_readonly(ledger_path(project))
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
                 actor: str) -> None:
        self.project = project
        self.config = project.config
        self.options = options
        self.now = options.now
        self.ledger = ledger
        self.actor = actor
        self.channels: dict[str, Channel] = {}
        self.infos: dict[str, ChannelInfo] = {}
        self.digests: Any = None  # pipeline.renderers.sms.DigestCache, made on first use

    # -- step 4 and 5: load, open the channels, plan --------------------------------------

    def plan_run(self, rows: list[Row] | None = None, cache: bool = True) -> PublishReport:
        cache_file = self.project.cache_dir / "notices.pickle" if cache else None
        loaded = load_notices((self.project.content_dir,), self.config, self.project.root,
                              cache_file=cache_file)
        report = PublishReport(now=self.now, plan=Plan(now=self.now))
        report.problems.extend(loaded.problems)
        notices = loaded.notices
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
        cls = registry.channel_class(name)
        sink = self.project.out_dir / "channels" / name
        channel = cls.from_config(self.config, sink=sink)
        scope = getattr(channel, "scope", "notice")
        targets = list(channel.targets(self.config))
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
            day = self.now.date()
            rules["newsworthy"] = lambda notice: channel.newsworthy(notice, day)
        return rules

    def current_for_sms(self, notices: list[Notice]) -> Callable[[Notice], bool]:
        """The SMS renderer's rule for what is worth a text today (publicity running, or
        recently published)."""
        from pipeline.renderers.sms import current_notices

        current = {n.id for n in current_notices(notices, self.render_context())}
        return lambda notice: notice.id in current

    def render_context(self) -> RenderContext:
        return RenderContext(config=self.config, today=self.now.date(),
                             templates=self.project.templates)

    def wants_notice(self, notice: Notice, target: Target) -> bool:
        """Whether a digest target (a subscriber) gets this notice: by the area it lives in."""
        from pipeline.renderers.sms import applies_to

        return bool(applies_to(notice, str(target.address.get("area", "")), self.config))

    # -- step 5b: cancel what became pointless --------------------------------------------

    def cancel(self, report: PublishReport) -> None:
        assert self.ledger is not None
        if not report.plan.cancel:
            return
        self.ledger.record(
            [(row.key, Outcome(CANCELLED, attempt=row.attempt, reason=why))
             for row, why in report.plan.cancel], as_of=self.now, actor=self.actor)
        for row, _ in report.plan.cancel:
            report.tally(row.key.channel).cancelled += 1

    # -- step 6: build --------------------------------------------------------------------

    def build(self, report: PublishReport, progress: ProgressCallback | None) -> None:
        names = {_renderer_of(b.channel, self.channels[b.channel]) for b in report.plan.batches}
        renderers = tuple(n for n in registry.renderer_names() if n in names)
        if not renderers:
            return
        options = BuildOptions(today=self.now.date(), only=renderers)
        report.build = build(self.project, options, progress and (
            lambda done, total: progress("build", done, total)))
        # Load problems are reported already; what is new here are render errors.
        known = set(report.problems)
        report.warnings.extend(p for p in report.build.problems if p not in known)

    # -- step 7: deliver ------------------------------------------------------------------

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
        try:
            delivery = self.delivery_for(batch, batch.items, channel)
            failure: BaseException | None = None
        except (NoticecastError, OSError) as exc:
            delivery, failure = None, TransientError(f"cannot prepare the delivery: {exc}")
        batch_id = _batch_id(batch, delivery)
        claimed = self.ledger.claim(
            [(i.key, i.target.label, i.mode) for i in batch.items],
            as_of=self.now, actor=self.actor, batch=batch_id)
        items = [i for i in batch.items if i.key in claimed]
        if not items:
            return
        if delivery is not None and len(items) != len(batch.items):
            delivery = self.delivery_for(batch, items, channel)  # another run took some keys
        receipt = None
        if failure is None and delivery is not None:
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
            except Exception as exc:  # a channel bug must neither lose nor double a delivery
                ambiguous = InDoubtError if channel.delivery == "at-most-once" else TransientError
                failure = ambiguous(f"{type(exc).__name__}: {exc}")
        at_most_once = channel.delivery == "at-most-once"
        outcomes = [(item.key, self.outcome(item, claimed[item.key], receipt, failure, batch_id,
                                            at_most_once=at_most_once))
                    for item in items]
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

    def outcome(self, item: Item, attempt: int, receipt: Any,
                failure: BaseException | None, batch_id: str | None, *,
                at_most_once: bool = False) -> Outcome:
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

    def delivery_for(self, batch: Batch, items: list[Item], channel: Channel) -> Delivery:
        if batch.scope == "notice":
            item = items[0]
            renderer = _renderer_of(batch.channel, channel)
            artifacts = (artifacts_of(self.project, renderer, item.notice.id)
                         if renderer else [])
            if renderer and not artifacts:
                raise LedgerError(f"{item.notice.id} has no built {renderer} outputs; see "
                                  "`noticecast build` for its errors")
            return Delivery(notice_id=item.notice.id, revision=item.notice.revision,
                            target=batch.target, artifacts=artifacts, event=item.key.event,
                            previous=item.previous, earlier=item.earlier)
        if batch.scope == "collection":
            renderer = _renderer_of(batch.channel, channel)
            artifacts = artifacts_of(self.project, renderer, COLLECTION) if renderer else []
            return Delivery(notice_id=COLLECTION, revision=0, target=batch.target,
                            artifacts=artifacts, event=_event_of(items))
        return self.digest_delivery(batch, items)

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

    # -- step 8: what is left for an operator ---------------------------------------------

    def finish(self, report: PublishReport) -> None:
        assert self.ledger is not None
        report.in_doubt = self.ledger.current(states=[IN_DOUBT])
        for row in report.in_doubt:
            report.tally(row.key.channel).in_doubt += 1
        for row in report.plan.waiting:
            report.tally(row.key.channel).waiting += 1


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
