"""Commands of the ticker feature (registered on `pipeline.cli.cli`): ticker."""

from __future__ import annotations

import json
from datetime import date

import click
from rich.table import Table

from pipeline.cli import _ProjectRef, cli, err, format_option, out, pass_project, print_problems
from pipeline.cli import today_option as _today_option


@cli.command()
@_today_option
@format_option
@pass_project
def ticker(ref: _ProjectRef, today: date | None, fmt: str) -> None:
    """Show the ticker playlist of a day: its lines in order, and how long one loop takes.

    Nothing is written; `noticecast build` makes the strip, the GIF, tv.html and playlist.json.
    """
    from pipeline.load import load_notices
    from pipeline.renderers.base import RenderContext
    from pipeline.renderers.led import face_for, parse_font_specs, render_strip
    from pipeline.renderers.ticker import LED_FONTS, TickerRenderer, current_playlist
    from pipeline.templating import read_template_file

    project = ref.get()
    day = project.today(today)
    loaded = load_notices((project.content_dir,), project.config, project.root)
    print_problems(loaded.problems)
    ctx = RenderContext(config=project.config, today=day, templates=project.templates)
    settings = project.config.ticker
    playing = current_playlist(loaded.notices, day, project.config)
    renderer = TickerRenderer()
    lines = [renderer.line(n, ctx) for n in playing]
    face = face_for(parse_font_specs(read_template_file(ctx.templates, LED_FONTS)),
                    settings.panel_height)
    _, layout = render_strip(lines, face, settings.panel_width)
    seconds = layout.width / settings.speed_px_per_s
    if fmt == "json":
        click.echo(json.dumps({
            "date": day.isoformat(), "loop_px": layout.width, "loop_seconds": round(seconds, 3),
            "items": [{"id": n.id, "line": line} for n, line in zip(playing, lines, strict=True)],
        }, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"ticker playlist {day.isoformat()}", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("notice")
    table.add_column("line", overflow="fold")
    table.add_column("chars", justify="right")
    for index, (notice, line) in enumerate(zip(playing, lines, strict=True), start=1):
        table.add_row(str(index), notice.id, line, str(len(line)))
    out.print(table)
    err.print(f"{len(lines)} line(s); one loop is {layout.width} px, "
              f"{seconds:.1f} s at {settings.speed_px_per_s:g} px/s on a "
              f"{settings.panel_width}×{settings.panel_height} panel")
