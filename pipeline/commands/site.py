"""Commands of the site channel: `site history` and `site rollback`.

The site channel keeps the version that was live before the last swap next to the web root
(``<root>.previous``). ``history`` shows both versions and every swap the ledger recorded, each
with the digest of the files it put live, so the two can be matched; ``rollback`` puts the
previous version back in one atomic step (run it again to go forward).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from pipeline.cli import _escape, _ProjectRef, cli, err, format_option, out, pass_project
from pipeline.errors import PermanentError

if TYPE_CHECKING:
    from channels.site import SiteChannel
    from pipeline.project import Project


def _site(project: Project) -> SiteChannel:
    from channels.site import SiteChannel

    return SiteChannel.from_config(project.config, project.out_dir / "channels" / "site")


def _swaps(project: Project) -> list[dict[str, Any]]:
    """The swaps the ledger recorded, oldest first: one per delivering call."""
    from pipeline.ledger import DELIVERED, open_readonly
    from pipeline.publish import ledger_path

    ledger = open_readonly(ledger_path(project))
    if ledger is None:
        return []
    with ledger:
        events = ledger.history(channel="site")
    swaps: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        receipt = event.receipt or {}
        details = receipt.get("details") or {}
        if event.state != DELIVERED or not details.get("tree"):
            continue
        moment = str(receipt.get("delivered_at") or event.at.isoformat())
        swap = swaps.setdefault((moment, details["tree"]), {
            "delivered_at": moment, "as_of": event.as_of.isoformat(), "tree": details["tree"],
            "files": details.get("files"), "web_root": receipt.get("remote_id"), "keys": 0})
        swap["keys"] += 1
    return list(swaps.values())


@cli.group()
def site() -> None:
    """The published site: its versions, and going back one."""


@site.command()
@format_option
@pass_project
def history(ref: _ProjectRef, fmt: str) -> None:
    """Show the live and the previous version, and every swap the ledger recorded."""
    project = ref.get()
    channel = _site(project)
    versions = channel.versions()
    swaps = _swaps(project)
    which = {v.tree: v.which for v in versions}
    if fmt == "json":
        click.echo(json.dumps({
            "web_root": str(channel.web_root),
            "versions": [{"which": v.which, "path": str(v.path), "tree": v.tree,
                          "files": v.files, "modified": v.modified.isoformat()}
                         for v in versions],
            "swaps": [{**s, "now": which.get(s["tree"])} for s in swaps]},
            ensure_ascii=False, indent=2))
        return
    if not versions:
        err.print(f"nothing published at {_escape(str(channel.web_root))} yet")
    table = Table(title=f"site {channel.web_root}", title_justify="left")
    for column in ("version", "tree", "files", "newest file (UTC)"):
        table.add_column(column)
    for version in versions:
        table.add_row(version.which, version.tree, str(version.files),
                      f"{version.modified:%Y-%m-%d %H:%M:%S}")
    out.print(table)
    if swaps:
        log = Table(title="swaps recorded in the ledger, oldest first", title_justify="left")
        for column in ("delivered at", "as of", "tree", "files", "keys", "now"):
            log.add_column(column)
        for swap in swaps:
            log.add_row(swap["delivered_at"][:19], swap["as_of"][:19], swap["tree"],
                        str(swap["files"] or ""), str(swap["keys"]),
                        which.get(swap["tree"], ""))
        out.print(log)


@site.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_project
def rollback(ref: _ProjectRef, yes: bool) -> None:
    """Put the previous version of the site back live, in one step (again: go forward)."""
    project = ref.get()
    channel = _site(project)
    versions = {v.which: v for v in channel.versions()}
    previous = versions.get("previous")
    if previous is None:
        raise PermanentError(f"{channel.previous_root}: there is no previous version to roll "
                             "back to; the site channel keeps one after its second swap "
                             "(site.keep_previous)")
    current = versions.get("current")
    if not yes and sys.stdin.isatty():
        click.confirm(f"Put version {previous.tree} ({previous.files} files) live instead of "
                      f"{current.tree if current else 'nothing'}?", abort=True)
    channel.rollback()
    err.print(f"[green]{_escape(str(channel.web_root))} now serves version {previous.tree}; "
              f"{current.tree if current else 'nothing'} is kept as the previous one "
              "(`noticecast site rollback` again goes forward).[/green]")
    err.print("The next publish run that has something due for the site swaps the current "
              "build in again.")
