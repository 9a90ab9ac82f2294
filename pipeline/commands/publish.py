"""Commands of the publish feature: publish, status, log, resolve, next.

How a run works is told in ``pipeline.publish``; these commands only parse options, call it
and print what came back (tables on stderr, data on stdout).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from pipeline.cli import (
    _escape,
    _ProjectRef,
    cli,
    err,
    format_option,
    out,
    pass_project,
    print_problems,
    today_option,
)
from pipeline.errors import LedgerError

if TYPE_CHECKING:
    from pipeline.ledger import HandsetState, Row
    from pipeline.project import Project
    from pipeline.publish import PublishReport

STATE_STYLE = {"delivered": "green", "resolved": "green", "retry": "yellow",
               "failed": "red", "in-doubt": "bold magenta", "sending": "cyan",
               "pending": "cyan", "cancelled": "dim"}


def now_option(func: Any) -> Any:
    return click.option(
        "--now", "now_text", default=None, metavar="ISO",
        help="Pretend it is this exact moment (ISO 8601; without an offset, the office's "
             "time zone). Wins over --today.")(func)


def channel_option(func: Any) -> Any:
    return click.option("--channel", default=None, metavar="NAME",
                        help="Only this channel (site, telegram, newspaper, ticker, sms).")(func)


@cli.command()
@today_option
@now_option
@channel_option
@click.option("--dry-run", is_flag=True, help="Show what would be delivered; change nothing.")
@click.option("--wait", is_flag=True,
              help="If another publish is running, wait for it instead of stopping.")
@click.option("--watch", is_flag=True,
              help="Keep publishing as things become due, until interrupted (Ctrl-C).")
@click.option("--interval", type=click.FloatRange(1, 86400), default=None,
              help="With --watch: the longest sleep between runs, in seconds "
                   "(default: publish.watch_interval_s, 300).")
@pass_project
def publish(ref: _ProjectRef, today: date | None, now_text: str | None, channel: str | None,
            dry_run: bool, wait: bool, watch: bool, interval: float | None) -> None:
    """Deliver every due notice to its channels, through the delivery ledger.

    --today D means "as of D 23:59:59" in the office's time zone: everything published on or
    before that day is due. Without --today/--now the real clock is used.
    """
    from pipeline import registry
    from pipeline.publish import PublishOptions, moment
    from pipeline.publish import publish as run_publish
    from pipeline.publish import watch as run_watch

    project = ref.get()
    if channel:
        registry.channel_class(channel)  # an unknown name fails here, before any work
    if watch:
        if today or now_text or dry_run:
            raise click.UsageError("--watch runs on the real clock; drop --today, --now and "
                                   "--dry-run")

        def once(now: datetime) -> PublishReport:
            report = run_publish(project, PublishOptions(now=now, channel=channel, wait=True))
            _print_report(report)
            return report

        from channels.sms import listen_between_runs

        # Between runs, an SMPP account that can receive is bound, hearing receipts and replies.
        listening = ({"sleep": listen_between_runs(
            project.config, project.out_dir / "channels" / "sms")}
            if channel in (None, "sms") else {})
        try:
            run_watch(project, once,
                      interval=interval or project.config.publish.watch_interval_s, **listening)
        except KeyboardInterrupt:
            err.print("stopped watching")
        return
    now = moment(project.config, today=today, now=now_text)
    options = PublishOptions(now=now, channel=channel, dry_run=dry_run, wait=wait)
    report = _with_progress(lambda progress: run_publish(project, options, progress))
    _print_report(report)
    sys.exit(0 if report.ok else 1)


def _with_progress(work: Callable[[Any], PublishReport]) -> PublishReport:
    if not err.is_terminal:
        return work(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("Publishing", total=None)
        labels = {"build": "Rendering", "deliver": "Delivering"}

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=labels.get(phase, phase), completed=done, total=total)

        return work(update)


def _print_report(report: PublishReport) -> None:
    print_problems(report.warnings)
    print_problems(report.problems)
    if report.recovered:
        again = sum(1 for row in report.recovered if row.mode == "idempotent")
        err.print(f"[yellow]an earlier run was interrupted while sending: "
                  f"{again} delivery(ies) sent again, {len(report.recovered) - again} now in "
                  "doubt[/yellow]")
    when = report.now.isoformat(timespec="seconds")
    if report.dry_run:
        _print_plan(report)
        return
    table = Table(title=f"noticecast publish — as of {when}", title_justify="left")
    tallies = sorted(report.tallies.items())
    columns = ["calls", "delivered", "retried", "failed", "in doubt"]
    # Only when they say something, so that the table fits a narrow terminal.
    columns += [c for c in ("blocked", "waiting", "cancelled")
                if any(getattr(t, c) for _, t in tallies)]
    table.add_column("channel")
    for column in columns:
        table.add_column(column, justify="right")
    for name, tally in tallies:
        values = {"calls": tally.calls, "delivered": tally.delivered,
                  "retried": tally.retried, "failed": tally.failed,
                  "waiting": tally.waiting, "cancelled": tally.cancelled,
                  "blocked": tally.blocked}
        table.add_row(name, *(_warn(tally.in_doubt) if c == "in doubt" else str(values[c])
                              for c in columns))
    err.print(table)
    for key, reason in report.blocked:
        err.print(f"[red]not sent, waiting: {_escape(str(key))}: {_escape(reason)}[/red]")
    if report.in_doubt:
        err.print(f"[magenta]{len(report.in_doubt)} delivery(ies) in doubt: see "
                  "`noticecast status`, then `noticecast resolve KEY --delivered|--resend`"
                  "[/magenta]")


def _local(moment: datetime, project: Project) -> str:
    """A ledger time (UTC) in the office's time zone, to the second."""
    return moment.astimezone(project.config.zone).isoformat(timespec="seconds")


def _warn(count: int) -> str:
    return f"[bold magenta]{count}[/bold magenta]" if count else "0"


# Past this many keys the plan is printed as plain lines as it is walked: a table of a million
# subscribers' texts would be measured and held whole before its first line appeared.
TABLE_ROWS = 1000


def _print_plan(report: PublishReport) -> None:
    if sum(len(batch.items) for batch in report.plan.batches) > TABLE_ROWS:
        _print_plan_lines(report)
        return
    table = Table(title=f"noticecast publish --dry-run — as of "
                        f"{report.now.isoformat(timespec='seconds')}", title_justify="left")
    for column in ("channel", "target", "key", "event", "why"):
        table.add_column(column, overflow="fold")
    for batch in report.plan.batches:
        for item in batch.items:
            why = "new" if item.row is None else (
                f"retry {item.row.attempt + 1}" if item.is_retry else item.row.state)
            table.add_row(batch.channel, _escape(batch.target.label or batch.target.key),
                          _escape(str(item.key)), item.key.event, why)
    for row, reason in report.plan.cancel:
        table.add_row(row.key.channel, _escape(row.target_label or row.key.target),
                      _escape(str(row.key)), row.key.event, f"cancel: {reason}")
    out.print(table)
    waiting = report.plan.waiting
    err.print(f"{len(report.plan.items)} delivery(ies) in {len(report.plan.batches)} call(s) "
              f"would be made; {len(waiting)} retry(ies) not yet due; "
              f"{len(report.in_doubt)} in doubt. Nothing was changed.")


def _print_plan_lines(report: PublishReport) -> None:
    """The plan as tab-separated lines (channel, target, key, event, why), streamed."""
    write = sys.stdout.write
    for batch in report.plan.batches:
        target = batch.target.label or batch.target.key
        for item in batch.items:
            why = "new" if item.row is None else (
                f"retry {item.row.attempt + 1}" if item.is_retry else item.row.state)
            write(f"{batch.channel}\t{target}\t{item.key}\t{item.key.event}\t{why}\n")
    for row, reason in report.plan.cancel:
        write(f"{row.key.channel}\t{row.target_label or row.key.target}\t{row.key}\t"
              f"{row.key.event}\tcancel: {reason}\n")
    sys.stdout.flush()
    err.print(f"{len(report.plan.items)} delivery(ies) in {len(report.plan.batches)} call(s) "
              f"would be made; {len(report.plan.waiting)} retry(ies) not yet due; "
              f"{len(report.in_doubt)} in doubt. Nothing was changed.")


@cli.command()
@click.option("--notice", "notice_id", default=None, metavar="ID", help="Only this notice.")
@channel_option
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Only deliveries in this state (repeatable): pending, sending, delivered, "
                   "retry, failed, in-doubt, resolved, cancelled.")
@format_option
@pass_project
def status(ref: _ProjectRef, notice_id: str | None, channel: str | None,
           states: tuple[str, ...], fmt: str) -> None:
    """Show the current state of every delivery in the ledger; deliveries in doubt last."""
    from pipeline.commands.board import board_postings, print_postings
    from pipeline.ledger import IN_DOUBT
    from pipeline.publish import open_for_reading

    project = ref.get()
    ledger = open_for_reading(project)
    rows = []
    handset: dict[tuple[str, str], HandsetState] = {}  # SMS receipts, by (digest, target)
    postings: list[Any] = []  # board sheets put up and taken down
    if ledger is not None:
        with ledger:
            rows = ledger.current(notice_id=notice_id, channel=channel, states=states or None)
            handset = ledger.handset_states()
            postings = board_postings(ledger, notice_id)
    doubt = [r for r in rows if r.state == IN_DOUBT]
    if fmt == "json":
        click.echo(json.dumps({"deliveries": [_with_handset(r, handset) for r in rows],
                               "in_doubt": [str(r.key) for r in doubt],
                               "board_postings": [p.as_dict() for p in postings]},
                              ensure_ascii=False, indent=2))
        return
    if not rows:
        err.print("the ledger has no deliveries yet" if ledger is None else "no deliveries match")
        return
    table = Table(title=f"delivery ledger — {len(rows)} key(s)", title_justify="left")
    for column in ("key", "target", "state", "tries", "when", "note"):
        table.add_column(column, overflow="fold")
    for row in sorted(rows, key=lambda r: (r.state == IN_DOUBT, str(r.key))):
        style = STATE_STYLE.get(row.state, "")
        when = row.next_at if row.state == "retry" and row.next_at else row.at
        table.add_row(_escape(str(row.key)), _escape(row.target_label),
                      f"[{style}]{row.state}[/{style}]" if style else row.state,
                      str(row.attempt),
                      when.astimezone(project.config.zone).strftime("%Y-%m-%d %H:%M")
                      if when else "",
                      _escape(_note(row, handset)))
    out.print(table)
    print_postings(postings, project.config.zone)
    digests: dict[str, list[Row]] = {}
    for row in doubt:
        if row.batch and row.batch.startswith("dg-"):
            digests.setdefault(row.batch, []).append(row)
            continue
        err.print(f"[magenta]in doubt: {_escape(str(row.key))} — run `noticecast resolve "
                  f"{_escape(str(row.key))} --delivered` if it arrived, else --resend[/magenta]")
    for digest, members in digests.items():
        err.print(f"[magenta]in doubt: digest {digest} to {_escape(members[0].target_label)} "
                  f"({len(members)} notice(s)) — run `noticecast resolve {digest} --delivered` "
                  "if it arrived, else --resend[/magenta]")


def _note(row: Row, handset: dict[tuple[str, str], HandsetState] | None = None) -> str:
    state = (handset or {}).get((row.batch or "", row.key.target))
    receipts = f"handset: {state.summary()}" if state is not None else ""
    if row.state == "in-doubt" and row.batch and row.batch.startswith("dg-"):
        return "; ".join(filter(None, [f"digest {row.batch}: {row.reason or ''}", receipts]))
    return "; ".join(filter(None, [row.reason or "", receipts]))


def _with_handset(row: Row, handset: dict[tuple[str, str], HandsetState]) -> dict[str, Any]:
    """A row for JSON, with what the handsets said of its text (SMS receipts), if anything."""
    state = handset.get((row.batch or "", row.key.target))
    return {**row.as_dict(), **({"handset": state.as_dict()} if state is not None else {})}


@cli.command()
@click.option("--notice", "notice_id", default=None, metavar="ID", help="Only this notice.")
@channel_option
@click.option("--key", "key_text", default=None, metavar="KEY", help="Only this delivery key.")
@format_option
@pass_project
def log(ref: _ProjectRef, notice_id: str | None, channel: str | None, key_text: str | None,
        fmt: str) -> None:
    """Show the ledger's history: every state change, oldest first."""
    from pipeline.ledger import Key
    from pipeline.publish import open_for_reading

    project = ref.get()
    key = Key.parse(key_text) if key_text else None
    ledger = open_for_reading(project)
    events = []
    if ledger is not None:
        with ledger:
            events = ledger.history(notice_id=notice_id, channel=channel, key=key)
    if fmt == "json":
        click.echo(json.dumps([e.as_dict() for e in events], ensure_ascii=False, indent=2))
        return
    for event in events:
        parts = [f"{event.seq:>6}", _local(event.at, project),
                 f"{event.state:<9}", str(event.key)]
        if event.attempt:
            parts.append(f"attempt {event.attempt}")
        if event.next_at:
            parts.append(f"next {_local(event.next_at, project)}")
        if event.reason:
            parts.append(f"— {event.reason}")
        if event.receipt and event.receipt.get("remote_id"):
            parts.append(f"[{event.receipt['remote_id']}]")
        parts.append(f"({event.actor})")
        click.echo("  ".join(parts))


@cli.command()
@click.argument("key_text", metavar="KEY")
@click.option("--delivered", "decision", flag_value="delivered",
              help="It did arrive: record it as delivered (resolved), never send it again.")
@click.option("--resend", "decision", flag_value="resend",
              help="It did not arrive: the next publish sends it again.")
@pass_project
def resolve(ref: _ProjectRef, key_text: str, decision: str | None) -> None:
    """Decide a delivery that is in doubt (or failed): it arrived, or send it again.

    KEY is as `noticecast status` shows it: NOTICE:REVISION:EVENT:CHANNEL:TARGET; or the id
    of an SMS digest (dg-…), which decides every in-doubt key that text carried.
    """
    from pipeline.ledger import IN_DOUBT, Key, Ledger, operator_actor
    from pipeline.publish import ledger_path, lock_path, moment
    from pipeline.publish_lock import publish_lock

    if decision is None:
        raise click.UsageError("say what happened: --delivered or --resend")
    project = ref.get()
    path = ledger_path(project)
    if not path.is_file():
        raise LedgerError(f"{project.display(path)}: no ledger yet; nothing to resolve")
    # The lock keeps a running publisher from racing the operator on the same key; a run is
    # short, so wait for it.
    with publish_lock(lock_path(project), wait=True), Ledger(path) as ledger:
        if ":" in key_text:
            keys = [Key.parse(key_text)]
        else:
            keys = [r.key for r in ledger.current(states=[IN_DOUBT]) if r.batch == key_text]
            if not keys:
                raise LedgerError(f"{key_text!r} is neither a delivery key nor the id of a "
                                  "digest in doubt; see `noticecast status`")
        for key in keys:
            row = ledger.resolve(key, delivered=decision == "delivered",
                                 as_of=moment(project.config), actor=operator_actor())
            click.echo(f"{row.key}: {row.state} ({row.reason})")


@cli.command(name="next")
@today_option
@now_option
@channel_option
@pass_project
def next_due(ref: _ProjectRef, today: date | None, now_text: str | None,
             channel: str | None) -> None:
    """Print when anything is next due (ISO 8601), for cron or a systemd timer.

    Prints the current moment if something is due already; prints nothing and exits 1 if
    nothing is scheduled.
    """
    from pipeline.publish import due_moment, moment

    project = ref.get()
    now = moment(project.config, today=today, now=now_text)
    when = due_moment(project, now, channel)
    if when is None:
        err.print("nothing is scheduled")
        sys.exit(1)
    click.echo(when.astimezone(project.config.zone).isoformat(timespec="seconds"))
