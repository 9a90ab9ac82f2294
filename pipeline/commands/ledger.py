"""`noticecast ledger check` and `ledger init --force` (see pipeline.ledger_admin)."""

from __future__ import annotations

import sys

import click

from pipeline.cli import _escape, _ProjectRef, cli, err, out, pass_project


@cli.group()
def ledger() -> None:
    """Check the delivery ledger, or start a new one."""


@ledger.command(name="check")
@pass_project
def check_command(ref: _ProjectRef) -> None:
    """Is the ledger sound, the one this project published with, and complete?"""
    from pipeline.ledger_admin import check
    from pipeline.publish import ledger_path

    project = ref.get()
    path = ledger_path(project)
    report = check(path, project.state_dir, project.display(path))
    for fact in report.facts:
        out.print(_escape(fact))
    for finding in report.findings:
        err.print(f"[red]{_escape(finding)}[/red]")
    for backup in report.backups:
        out.print(f"backup: {_escape(project.display(backup))}")
    if not report.ok:
        err.print("to restore a backup: stop publishing, copy the backup over the ledger "
                  "file, run `noticecast ledger check` again")
        sys.exit(1)


@ledger.command(name="init")
@click.option("--force", is_flag=True,
              help="Start over although the project has published (the old file is kept).")
@pass_project
def init_command(ref: _ProjectRef, force: bool) -> None:
    """Start a new, empty ledger. The next publish may send everything again."""
    from pipeline.ledger_admin import init
    from pipeline.publish import ledger_path

    project = ref.get()
    path = ledger_path(project)
    kept = init(path, project.state_dir, force=force)
    if kept is not None:
        err.print(f"the old ledger is kept as {_escape(project.display(kept))}")
    out.print(f"a new, empty ledger: {_escape(project.display(path))}")
