"""Commands of the notice board feature (registered on `pipeline.cli.cli`): the print pack of
a board, and the record of when a sheet went up and came down."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from pipeline.cli import (
    DateParam,
    _escape,
    _ProjectRef,
    cli,
    err,
    format_option,
    out,
    pass_project,
)
from pipeline.errors import NoticecastError
from pipeline.model import Notice, format_date

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from pipeline.board_postings import PostingRecord
    from pipeline.ledger import Ledger
    from pipeline.project import Project


@cli.group()
def board() -> None:
    """Notice boards (公示栏): print packs, and when sheets went up and came down."""


def _notices(project: Project) -> list[Notice]:
    from pipeline.load import load_notices

    loaded = load_notices((project.content_dir,), project.config, project.root)
    if loaded.problems:
        err.print(f"[yellow]{len(loaded.invalid)} notice file(s) are invalid and left out; "
                  "`noticecast check` shows why[/yellow]")
    return loaded.notices


def _known_area(project: Project, area: str) -> str:
    area = "/".join(part.strip() for part in area.split("/"))
    known, wrong = project.config.area_known(area)
    if not known:
        raise click.BadParameter(f"{wrong!r} is not in the configured regions; see "
                                 "`regions:` in noticecast.yaml", param_hint="--area")
    return area


@board.command("pack")
@click.option("--area", required=True, metavar="AREA",
              help="The board's area, e.g. 什邡市/师古镇/马祖村.")
@click.option("--date", "day", type=DateParam(), required=True,
              help="The day the clerk posts: new sheets, and those still in their period.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="The pack PDF (default: out/board/packs/<date>-<area>.pdf).")
@click.option("--send", is_flag=True,
              help="Also send the pack to the board (its printer, its clerk or its folder).")
@format_option
@pass_project
def pack(ref: _ProjectRef, area: str, day: date, out_file: str | None, send: bool,
         fmt: str) -> None:
    """One PDF with every sheet the board of --area carries on --date, behind a cover page
    that lists them, so that a clerk prints once."""
    from pathlib import Path

    from pipeline.board_postings import by_sheet, history
    from pipeline.build import write_atomic
    from pipeline.renderers.base import RenderContext
    from pipeline.renderers.board_pack import make_pack

    project = ref.get()
    config = project.config
    area = _known_area(project, area)
    channel = _channel(project)
    settings = channel.board_for(area)
    postings = {}
    ledger = _read_ledger(project)
    if ledger is not None:
        with ledger:
            postings = by_sheet(history(ledger), area, config.zone)
    ctx = RenderContext(config=config, today=day, templates=project.templates)
    made = make_pack(_notices(project), area, day, ctx,
                     board_name=settings.name if settings else None,
                     clerk=settings.clerk if settings else None, postings=postings)
    target = Path(out_file) if out_file else (
        project.out_dir / "board" / "packs" / f"{day.isoformat()}-{area.replace('/', '-')}.pdf")
    write_atomic(target, made.pdf)
    sent = None
    if send:
        if settings is None:
            raise NoticecastError(f"no board is configured for {area}; add it under "
                                  "channels.board.boards in noticecast.yaml to send its pack")
        sent = channel.send_pack(settings, made.pdf, day)
    report = {
        "area": area, "date": day.isoformat(), "pdf": project.display(target),
        "pages": made.pages, "sent": sent,
        "sheets": [{"id": e.notice.id, "revision": e.notice.revision, "action": e.action,
                    "until": e.until.isoformat(), "pages": e.pages} for e in made.entries],
        "take_down": [{"id": e.notice.id, "revision": e.notice.revision,
                       "until": e.until.isoformat()} for e in made.take_down],
    }
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"{format_date(day)} {area}: {len(made.entries)} sheet(s), {made.pages} page(s) "
               f"with the cover -> {report['pdf']}")
    for entry in made.entries:
        click.echo(f"  {entry.action} {entry.number} {entry.title} (until "
                   f"{format_date(entry.until)}, {entry.pages} page(s))")
    for entry in made.take_down:
        click.echo(f"  可以揭下 {entry.number} {entry.title} (until {format_date(entry.until)})")
    if sent:
        click.echo(f"sent: {sent}")


def _channel(project: Project) -> Any:
    from channels.board import BoardChannel

    return BoardChannel.from_config(project.config, project.out_dir / "channels" / "board")


def _read_ledger(project: Project) -> Ledger | None:
    from pipeline.ledger import open_readonly
    from pipeline.publish import ledger_path

    return open_readonly(ledger_path(project))


def _moment(text: str | None, project: Project) -> datetime:
    zone = project.config.zone
    if text is None:
        return datetime.now(zone)
    try:
        value = (datetime.combine(date.fromisoformat(text), datetime.min.time())
                 if len(text.strip()) == 10 else datetime.fromisoformat(text.strip()))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date or an ISO 8601 time; write it like "
                                 "2018-07-05 or 2018-07-05T09:30", param_hint="--at") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _record(ref: _ProjectRef, notice_id: str, area: str, at_text: str | None,
            revision: int | None, action: str) -> None:
    from pipeline.board_postings import period_end, record
    from pipeline.ledger import Ledger
    from pipeline.publish import ledger_path
    from pipeline.renderers.board_pack import board_days

    project = ref.get()
    area = _known_area(project, area)
    notice = next((n for n in _notices(project) if n.id == notice_id), None)
    if notice is None:
        raise NoticecastError(f"no valid notice {notice_id!r} in content/; `noticecast check` "
                              "lists the notices and their problems")
    if notice.area != area:
        raise NoticecastError(f"{notice_id} is a notice of {notice.area}, not of {area}; a "
                              "board carries the notices of its own area")
    at = _moment(at_text, project)
    with Ledger(ledger_path(project), durability=project.config.publish.durability) as ledger:
        row = record(ledger, notice_id, revision or notice.revision, area, action, at)
    when = row.at.astimezone(project.config.zone).strftime("%Y-%m-%d %H:%M")
    click.echo(f"recorded: {notice_id} revision {row.revision} {action} on the board of "
               f"{area} at {when}")
    if action == "posted" and not notice.is_withdrawn:
        days = board_days(notice, project.config.rules.min_publicity_days)
        end = period_end(row.at.astimezone(project.config.zone).date(), days)
        click.echo(f"the board period counts from posting: {days} days, until "
                   f"{format_date(end)}")


@board.command("posted")
@click.argument("notice_id", metavar="ID")
@click.option("--area", required=True, metavar="AREA", help="The board's area.")
@click.option("--at", "at_text", default=None, metavar="TIME",
              help="When it went up (date or ISO time; default: now).")
@click.option("--revision", type=click.IntRange(1), default=None,
              help="The sheet's revision (default: the notice's current one).")
@pass_project
def posted(ref: _ProjectRef, notice_id: str, area: str, at_text: str | None,
           revision: int | None) -> None:
    """Record that the sheet of notice ID went up on the board of --area."""
    _record(ref, notice_id, area, at_text, revision, "posted")


@board.command("taken-down")
@click.argument("notice_id", metavar="ID")
@click.option("--area", required=True, metavar="AREA", help="The board's area.")
@click.option("--at", "at_text", default=None, metavar="TIME",
              help="When it came down (date or ISO time; default: now).")
@click.option("--revision", type=click.IntRange(1), default=None,
              help="The sheet's revision (default: the notice's current one).")
@pass_project
def taken_down(ref: _ProjectRef, notice_id: str, area: str, at_text: str | None,
               revision: int | None) -> None:
    """Record that the sheet of notice ID came down from the board of --area."""
    _record(ref, notice_id, area, at_text, revision, "taken-down")


# -- for `noticecast status` ------------------------------------------------------------------

def board_postings(ledger: Ledger, notice_id: str | None = None) -> list[PostingRecord]:
    from pipeline.board_postings import history

    return history(ledger, notice_id=notice_id)


def print_postings(records: list[PostingRecord], zone: ZoneInfo) -> None:
    """The board sheets' postings, one line per sheet and board, under the deliveries."""
    from pipeline.board_postings import days_up

    if not records:
        return
    sheets: dict[tuple[str, int, str], list[PostingRecord]] = {}
    for row in records:
        sheets.setdefault((row.notice_id, row.revision, row.board), []).append(row)
    table = Table(title=f"board postings — {len(sheets)} sheet(s)", title_justify="left")
    for column in ("sheet", "board", "posted", "taken down", "days up"):
        table.add_column(column, overflow="fold")
    now = datetime.now(zone)
    for (notice_id, revision, area), rows in sorted(sheets.items()):
        up = next((r for r in rows if r.action == "posted"), None)
        down = rows[-1] if rows[-1].action == "taken-down" else None

        def local(moment: datetime | None) -> str:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

        table.add_row(_escape(f"{notice_id}:{revision}"), _escape(area), local(up and up.at),
                      local(down and down.at),
                      str(days_up(up.at.astimezone(zone), down.at.astimezone(zone)
                                  if down else None, now)) if up else "")
    out.print(table)


__all__ = ["board", "board_postings", "print_postings"]
