"""The command line. Thin: it parses options, calls the pipeline and prints what came back.

Expected errors (every ``NoticecastError``) print as located one-liners, never as tracebacks.
Anything else is a bug: its traceback goes to a crash file whose path is printed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from pipeline import __version__
from pipeline.errors import InputError, NoticecastError, Problem
from pipeline.project import Project
from pipeline.redact import format_exception, install_log_redaction, redact, watch

F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class DateParam(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2018-07-08",
                      param, ctx)


def today_option(func: F) -> F:
    return click.option(
        "--today", type=DateParam(), default=None,
        help="Pretend it is this day (Asia/Shanghai by default); makes runs deterministic.",
    )(func)


def format_option(func: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="Output format.")(func)


def print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        line = redact(str(problem))
        if problem.severity == "error":
            err.print(f"[red]{_escape(line)}[/red]")
        else:
            err.print(f"[yellow]{_escape(line)}[/yellow]")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="noticecast")
@click.option("-C", "--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="The site project folder (default: where noticecast.yaml is).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The config file (default: noticecast.yaml).")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path | None, config_path: Path | None) -> None:
    """Publish public notices of poverty-alleviation funds and projects to every channel."""
    ctx.obj = _ProjectRef(project_dir, config_path)


class _ProjectRef:
    """Opens the project on first use, so that `--help` works anywhere."""

    def __init__(self, project_dir: Path | None, config_path: Path | None) -> None:
        self.project_dir, self.config_path = project_dir, config_path
        self._project: Project | None = None

    def get(self) -> Project:
        if self._project is None:
            self._project = Project.open(self.project_dir, self.config_path)
            watch(self._project.config)  # its secrets are masked in whatever is shown
        return self._project


pass_project = click.make_pass_decorator(_ProjectRef)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@format_option
@pass_project
def check(ref: _ProjectRef, paths: tuple[Path, ...], fmt: str) -> None:
    """Validate notices (default: content/) and report every problem, one line each."""
    from pipeline.load import discover, load_notices

    project = ref.get()
    targets = paths or (project.content_dir,)
    result = load_notices(targets, project.config, project.root)
    for problems in project.config.broken_channels.values():  # those channels send nothing
        result.problems.extend(problems)
    files = len(discover(targets))
    from pipeline.config_check import config_warnings
    from pipeline.publish import edit_warnings

    edits = edit_warnings(project, result.notices, result.paths)  # sent, then changed
    from pipeline.oversight.projects import project_warnings

    edits += project_warnings(result.notices, result.paths,  # 竣工公示 alone, amounts apart
                              {i: project.display(p) for i, p in result.paths.items()})
    from pipeline.attachments import attachment_problems

    missing = attachment_problems(result.notices, result.paths,  # the site hosts them
                                  {i: project.display(p) for i, p in result.paths.items()},
                                  project.config)
    edits += missing
    # Settings that would make a channel go silent; only for a check of the whole project.
    # They are about noticecast.yaml, not the notices, so they go to stderr with the summary.
    settings = [] if paths else config_warnings(project)
    if fmt == "json":
        click.echo(json.dumps({
            "files": files, "valid": len(result.notices), "invalid": len(result.invalid),
            "problems": [p.as_dict() for p in [*result.problems, *edits, *settings]]},
            ensure_ascii=False, indent=2))
    else:
        for problem in [*result.problems, *edits]:
            click.echo(str(problem))
        print_problems(settings)
        tone = "red" if result.problems else "green"
        err.print(f"[{tone}]{files} file(s): {len(result.notices)} valid, "
                  f"{len(result.invalid)} invalid[/{tone}]")
    sys.exit(1 if result.problems or missing else 0)


@cli.command()
@click.option("--only", default=None, metavar="NAMES",
              help="Comma-separated renderers to run, e.g. web,card (default: all).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: out/).")
@click.option("--force", is_flag=True, help="Re-render everything, ignoring the cache.")
@click.option("--print", "print_sizes", is_flag=True, help="Card: also A6 print size, 300 dpi.")
@click.option("--shrink", is_flag=True,
              help="Newspaper: lower the body size step by step until a fixed block fits.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: one per core).")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@today_option
@pass_project
def build(ref: _ProjectRef, only: str | None, out_dir: Path | None, force: bool,
          print_sizes: bool, shrink: bool, jobs: int | None, paths: tuple[Path, ...],
          today: date | None) -> None:
    """Render every valid notice through the renderers into out/ (incrementally)."""
    from pipeline.build import BuildOptions
    from pipeline.build import build as run_build
    from pipeline.registry import get_renderer
    from pipeline.renderers.base import RenderOptions

    project = ref.get()
    names = tuple(n.strip() for n in only.split(",") if n.strip()) if only else None
    for name in names or ():
        get_renderer(name)  # an unknown name fails here, before any work
    options = BuildOptions(
        # As of now (what a publish now would show); with --today D, as of the end of D.
        today=project.today(today), now=None if today else datetime.now(project.config.zone),
        only=names, out_dir=out_dir, force=force,
        render=RenderOptions(print_sizes=print_sizes, shrink=shrink), workers=jobs,
        paths=paths or None)
    report = _with_progress("Rendering", lambda progress: run_build(project, options, progress))
    print_problems(report.warnings)
    print_problems(report.problems)
    table = Table(title=f"noticecast build — {len(report.loaded.notices)} notices, "
                        f"{report.seconds:.2f} s", title_justify="left")
    for column in ("renderer", "rendered", "unchanged", "files written", "removed", "output"):
        table.add_column(column, justify="right" if column not in ("renderer", "output")
                         else "left")
    for entry in report.renderers.values():
        shown = project.display(entry.out_dir) if entry.out_dir else ""
        table.add_row(entry.name, str(entry.rendered), str(entry.skipped),
                      str(entry.files_written), str(entry.files_removed), shown + "/")
    err.print(table)
    if report.problems:
        err.print(f"[red]{len(report.problems)} problem(s); the valid notices were built.[/red]")
    sys.exit(1 if report.problems else 0)


def _with_progress(label: str, work: Callable[[Callable[[int, int], None]], Any]) -> Any:
    if not err.is_terminal:
        return work(lambda done, total: None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return work(update)


@cli.command()
@click.argument("kind")
@click.argument("notice_id")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write it (default: content/<year>/).")
@today_option
@pass_project
def new(ref: _ProjectRef, kind: str, notice_id: str, folder: Path | None,
        today: date | None) -> None:
    """Write a new notice of KIND (e.g. project_notice or 项目公示) with every field, commented."""
    from pipeline.scaffold import scaffold

    project = ref.get()
    day = project.today(today)
    target_dir = folder or project.content_dir / str(day.year)
    path = scaffold(kind, notice_id, target_dir, project.config, day)
    click.echo(project.display(path))


# The features' own commands (serve, import-feed, sms, newspaper, publish, status, resolve, log,
# next, preview) live in pipeline/commands/, one module per feature; importing registers them.
from pipeline.commands import (  # noqa: E402
    board,  # noqa: F401
    card,  # noqa: F401
    ledger,  # noqa: F401
    newspaper,  # noqa: F401
    oversight,  # noqa: F401
    preview,  # noqa: F401
    publish,  # noqa: F401
    site,  # noqa: F401
    sms,  # noqa: F401
    subscribers,  # noqa: F401
    ticker,  # noqa: F401
    web,  # noqa: F401
)

# -- the entry point ---------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> None:
    # Whatever a remote side echoed into an error, no secret and no phone number reaches the
    # terminal, a log or a crash file in clear (pipeline.redact).
    install_log_redaction()
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="noticecast",
                 standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        err.print("aborted")
        sys.exit(130)
    except InputError as exc:
        print_problems(exc.problems)
        sys.exit(exc.exit_code)
    except NoticecastError as exc:
        err.print(f"[red]error: {_escape(redact(str(exc)))}[/red]")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        crash = Path(tempfile.gettempdir()) / (
            f"noticecast-crash-{datetime.now():%Y%m%d-%H%M%S}.txt")
        crash.write_text(format_exception(exc), "utf-8")
        err.print(f"[red]internal error: this is a bug in noticecast. The details are in "
                  f"{crash}; please attach that file to a report.[/red]")
        sys.exit(70)


if __name__ == "__main__":  # pragma: no cover
    main()
