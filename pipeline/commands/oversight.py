"""Commands of the oversight feature (registered on `pipeline.cli.cli`): report compliance,
report project, alerts, import-xlsx."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from pipeline.cli import DateParam, _ProjectRef, cli, err, out, pass_project, print_problems
from pipeline.cli import today_option as _today_option
from pipeline.errors import InputError, Location, Problem
from pipeline.project import Project


def _now_option(func):  # type: ignore[no-untyped-def]
    return click.option("--now", "now_text", default=None, metavar="TIME",
                        help="Pretend it is this moment, e.g. 2018-07-08T10:00.")(func)


def _moment(project: Project, today: date | None, now_text: str | None) -> datetime:
    from pipeline.publish import moment

    return moment(project.config, today=today, now=now_text)


def _summary(project: Project):  # type: ignore[no-untyped-def]
    """The ledger's facts, read-only (checked like `status` reads it)."""
    from pipeline.oversight.deliveries import EMPTY, _read
    from pipeline.publish import open_for_reading

    ledger = open_for_reading(project)
    if ledger is None:
        return EMPTY
    with ledger:
        return _read(ledger, received_only=False)


def _notices(project: Project):  # type: ignore[no-untyped-def]
    from pipeline.load import load_notices

    loaded = load_notices((project.content_dir,), project.config, project.root)
    print_problems(loaded.problems)
    return [*loaded.notices, *loaded.last_good.values()]


def _write(path: Path, data: bytes, project: Project) -> None:
    from pipeline.build import write_atomic

    write_atomic(path, data)
    out.print(project.display(path))


@cli.group()
def report() -> None:
    """Reports for supervisors: the monthly compliance report, project detail sheets."""


@report.command("compliance")
@click.option("--month", default=None, metavar="YYYY-MM", help="The month, e.g. 2018-07.")
@click.option("--from", "start", type=DateParam(), default=None, help="First day (with --to).")
@click.option("--to", "end", type=DateParam(), default=None, help="Last day (with --from).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write it (default: out/reports/).")
@click.option("--no-pdf", is_flag=True, help="HTML and XLSX only.")
@_today_option
@_now_option
@pass_project
def compliance_command(ref: _ProjectRef, month: str | None, start: date | None,
                       end: date | None, out_dir: Path | None, no_pdf: bool,
                       today: date | None, now_text: str | None) -> None:
    """Did each notice go out on time and stay up long enough? HTML, XLSX and PDF (通报)."""
    from pipeline.oversight import compliance, documents

    project = ref.get()
    if (month and (start or end)) or (not month and not (start and end)):
        raise InputError(Problem(Location("report compliance"), "give --month YYYY-MM, or "
                                 "both --from and --to"))
    if month:
        period = compliance.Period.month(month)
    else:
        assert start is not None and end is not None
        if end < start:
            raise InputError(Problem(Location("--to"), f"{end} is before --from {start}"))
        period = compliance.Period(start, end)
    now = _moment(project, today, now_text)
    zone = project.config.zone
    as_of = min(now, compliance.end_instant(period, zone))
    the_report = compliance.build_report(_notices(project), project.config, _summary(project),
                                         period, as_of)
    folder = out_dir or project.out_dir / "reports"
    stem = compliance.report_file_stem(period)
    html = documents.compliance_html(the_report, project.templates, project.config, now)
    _write(folder / f"{stem}.html", html.encode(), project)
    _write(folder / f"{stem}.xlsx", documents.compliance_xlsx(the_report, project.config),
           project)
    if not no_pdf:
        _write(folder / f"{stem}.pdf", documents.html_to_pdf(html), project)
    bad = [t for t in the_report.towns if t.problems]
    err.print(f"{len(the_report.notices)} notice(s) due in {period.label}; "
              f"{sum(i.late for i in the_report.notices)} late, "
              f"{sum(i.short for i in the_report.notices)} short, "
              f"{len(the_report.overdue)} project(s) without 竣工公示; "
              f"{len(bad)} town(s) with problems")


@report.command("project")
@click.argument("codes", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write them (default: out/reports/projects/).")
@_today_option
@pass_project
def project_sheet_command(ref: _ProjectRef, codes: tuple[str, ...], out_dir: Path | None,
                          today: date | None) -> None:
    """The project detail sheet (项目明细表) as an A4 PDF for the archive (default: all)."""
    from pipeline.oversight import documents
    from pipeline.oversight.projects import coded, group_projects
    from pipeline.oversight.sheet import sheet_view
    from pipeline.schedule import is_public

    project = ref.get()
    now = _moment(project, today, None)
    zone = project.config.zone
    projects = coded(group_projects(n for n in _notices(project) if is_public(n, now, zone)))
    known = {p.code: p for p in projects}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InputError(Problem(Location(unknown[0]), "no public notice has this project.code; "
                                 "known: " + ", ".join(sorted(k for k in known if k))))
    summary = _summary(project)
    folder = out_dir or project.out_dir / "reports" / "projects"
    for code in codes or tuple(known):
        view = sheet_view(known[code], now.astimezone(zone).date(), summary, zone)
        html = documents.project_sheet_html(view, project.templates, project.config)
        _write(folder / f"{code}.pdf", documents.html_to_pdf(html), project)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show the alerts; send nothing.")
@_today_option
@_now_option
@pass_project
def alerts(ref: _ProjectRef, dry_run: bool, today: date | None, now_text: str | None) -> None:
    """Tell the responsible offices what is due or wrong, by SMS or e-mail, once per alert."""
    from pipeline import ledger_history
    from pipeline.ledger import Ledger
    from pipeline.oversight.alerts import find_alerts, recipients, send_alerts, text_of
    from pipeline.publish import _shown_ledger, ledger_path, lock_path
    from pipeline.publish_lock import publish_lock

    project = ref.get()
    now = _moment(project, today, now_text)
    found = find_alerts(_notices(project), _summary(project), project.config, now)
    if dry_run:
        for alert in found:
            people = recipients(project.config, alert.office)
            count = len(people.sms) + len(people.email)
            click.echo(f"{alert.kind}\t{alert.notice.id}\t{alert.office} ({count} recipient(s))"
                      f"\t{text_of(alert, project.templates, project.config)}")
        return
    shown = _shown_ledger(project)
    with publish_lock(lock_path(project), wait=True, shown=project.display(lock_path(project))):
        history = ledger_history.check_file(project.state_dir, ledger_path(project), shown)
        with Ledger(ledger_path(project), durability=project.config.publish.durability) as led:
            ledger_history.check_ledger(history, led.ledger_id, led.delivery_count(), shown)
            sent = send_alerts(found, led, project.config, project.templates,
                               project.out_dir / "channels" / "alerts", now)
            ledger_history.record(project.state_dir, history, led.ledger_id,
                                  led.delivery_count())
    for item in sent:
        click.echo(f"{item.state}\t{item.alert.kind}\t{item.alert.notice.id}\t{item.channel}"
                  f"\t{item.recipient_label}" + (f"\t{item.reason}" if item.reason else ""))
    err.print(f"{len(found)} alert(s); {sum(s.state == 'delivered' for s in sent)} message(s) "
              "sent now (each alert reaches each person once)")
    sys.exit(1 if any(s.state in ("failed", "in-doubt") for s in sent) else 0)


@cli.command("import-xlsx")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", default="project_notice", show_default=True,
              help="The kind of notice each row becomes (e.g. project_notice or 项目公示).")
@click.option("--sheet", default=None, help="The sheet to read (default: the first).")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write (default: content/; a folder per year).")
@pass_project
def import_xlsx_command(ref: _ProjectRef, file: Path, kind: str, sheet: str | None,
                        folder: Path | None) -> None:
    """Turn a spreadsheet of projects (one row each) into notice files, as drafts."""
    from pipeline.model import Kind
    from pipeline.oversight.xlsx_import import import_xlsx

    project = ref.get()
    parsed = Kind.parse(kind)
    if not isinstance(parsed, Kind) or not parsed.is_fund_notice:
        raise InputError(Problem(Location("--kind"), f"{kind!r} is not a project kind; use "
                                 "project_plan, project_notice or completion_notice"))
    result = import_xlsx(file, parsed, project.config, folder or project.content_dir,
                         shown=str(file), sheet_name=sheet)
    for path in result.written:
        click.echo(f"written\t{project.display(path)}")
    for path in result.unchanged:
        click.echo(f"unchanged\t{project.display(path)}")
    for path, why in result.kept:
        err.print(f"[yellow]{project.display(path)}: warning: {why}[/yellow]")
    print_problems(result.problems)
    errors = [p for p in result.problems if p.severity == "error"]
    err.print(f"{len(result.written)} written, {len(result.unchanged)} unchanged, "
              f"{len(result.kept)} kept as edited, {len(errors)} bad cell(s)")
    sys.exit(1 if errors else 0)
