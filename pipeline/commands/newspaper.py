"""Commands of the newspaper feature (registered on `pipeline.cli.cli`): the page preview."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from pipeline.cli import DateParam, _ProjectRef, cli, err, format_option, pass_project
from pipeline.errors import RenderError
from pipeline.model import Notice, format_date
from pipeline.renderers.base import RenderContext, RenderOptions
from pipeline.renderers.newspaper_page import PageBlock


@cli.group()
def newspaper() -> None:
    """The newspaper special page: previews for the editors."""


@newspaper.command("page")
@click.option("--date", "day", type=DateParam(), required=True,
              help="The issue date: its notices are placed on the page.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The page PDF (default: out/newspaper/pages/<date>.pdf); "
                                 "the PNG is written next to it.")
@click.option("--running", is_flag=True,
              help="Also place notices whose publicity period covers the date.")
@click.option("--shrink", is_flag=True,
              help="Lower the body size of fixed-height blocks that do not fit.")
@format_option
@pass_project
def page(ref: _ProjectRef, day: date, out_file: Path | None, running: bool, shrink: bool,
         fmt: str) -> None:
    """Place the blocks of the issue of --date on the page grid: page PDF + PNG, and what
    did not fit and how much room is left."""
    from pipeline.build import write_atomic
    from pipeline.load import load_notices
    from pipeline.renderers.newspaper_grid import Grid
    from pipeline.renderers.newspaper_page import compose, in_issue, pack, page_order

    project = ref.get()
    config = project.config
    loaded = load_notices((project.content_dir,), config, project.root)
    notices = sorted((n for n in loaded.notices if in_issue(n, day, config, running=running)),
                     key=page_order)
    ctx = RenderContext(config=config, today=day, templates=project.templates,
                        options=RenderOptions(shrink=shrink))
    if loaded.problems:
        err.print(f"[yellow]{len(loaded.invalid)} notice file(s) are invalid and left out; "
                  "`noticecast check` shows why[/yellow]")
    blocks, failed = issue_blocks(notices, ctx)
    grid = Grid.from_config(config.newspaper)
    plan = pack(grid, blocks)
    pdf, png = compose(plan)
    target = out_file or project.out_dir / "newspaper" / "pages" / f"{day.isoformat()}.pdf"
    write_atomic(target, pdf)
    write_atomic(target.with_suffix(".png"), png)

    report = {
        "date": day.isoformat(),
        "pdf": project.display(target),
        "png": project.display(target.with_suffix(".png")),
        "placed": [{"id": p.notice_id, "column": p.column + 1, "columns": p.block.span,
                    "top_mm": round(p.top_mm, 1), "height_mm": round(p.block.height_mm, 1)}
                   for p in plan.placed],
        "did_not_fit": [{"id": b.notice.id, "height_mm": round(b.height_mm, 1),
                         "reason": "no room left on the page"} for b in plan.left_out]
        + [{"id": notice_id, "reason": message} for notice_id, message in failed],
        "room_left_mm": [round(free, 1) for free in plan.column_free_mm],
        "room_left_share": round(plan.free_share, 3),
    }
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print(report, day, grid.type_height_mm)
    sys.exit(1 if report["did_not_fit"] else 0)


def issue_blocks(notices: Sequence[Notice], ctx: RenderContext
                 ) -> tuple[list[PageBlock], list[tuple[str, str]]]:
    """Set the blocks of ``notices`` in one batch; those that do not fit are reported."""
    from pipeline.renderers.newspaper import set_notices

    blocks: list[PageBlock] = []
    failed: list[tuple[str, str]] = []
    try:
        results = set_notices(notices, ctx, strict=False)
    except RenderError as exc:  # not a fit problem: the batch as a whole could not be set
        return [], [(n.id, str(exc)) for n in notices]
    for notice, block in zip(notices, results, strict=True):
        if block.fits:
            blocks.append(PageBlock(notice, block.spec.span, block.height_mm, block.pdf))
        else:
            failed.append((notice.id, block.fit_message(ctx.options.shrink)))
    return blocks, failed


def _print(report: dict[str, object], day: date, type_height_mm: float) -> None:
    placed = report["placed"]
    assert isinstance(placed, list)
    click.echo(f"{format_date(day)} special page: {len(placed)} block(s) placed "
               f"-> {report['pdf']} (+ .png)")
    for item in placed:
        click.echo(f"  {item['id']}: columns {item['column']}-"
                   f"{item['column'] + item['columns'] - 1}, {item['top_mm']} mm from the top, "
                   f"{item['height_mm']} mm high")
    left_out = report["did_not_fit"]
    assert isinstance(left_out, list)
    for item in left_out:
        height = f" ({item['height_mm']} mm)" if "height_mm" in item else ""
        err.print(f"[yellow]  did not fit: {item['id']}{height}: "
                  f"{str(item['reason']).replace('[', chr(92) + '[')}[/yellow]")
    room = report["room_left_mm"]
    assert isinstance(room, list)
    share = float(report["room_left_share"])  # type: ignore[arg-type]
    click.echo(f"room left under each column (of {type_height_mm:g} mm): "
               + ", ".join(f"{free:g}" for free in room) + f" mm; {share:.0%} of the columns free")
