"""Commands of the preview feature (registered on `pipeline.cli.cli`)."""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import date

import click

from pipeline.cli import _ProjectRef, cli, err, pass_project, today_option


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--no-watch", is_flag=True, help="Build once and serve; do not watch for edits.")
@today_option
@pass_project
def preview(ref: _ProjectRef, port: int, no_watch: bool, today: date | None) -> None:
    """Serve the preview desk on 127.0.0.1: every channel of every notice, live as you edit.

    It builds into .noticecast/preview/ (never out/), publishes nothing, and rebuilds what a
    change affects when a notice, a template or the config is saved.
    """
    from pipeline.preview.server import bind, make_server
    from pipeline.preview.state import PreviewState

    project = ref.get()
    sock = bind(port)  # first, so that a busy port fails before the build
    host, bound_port = sock.getsockname()[:2]
    _log_changes()
    # The start-up build may use a process pool: no server threads exist yet.
    state = PreviewState(project, today=today)
    err.print(f"building the preview into {project.display(state.out_dir)}/ …")
    snapshot = state.rebuild(workers=os.cpu_count() or 1)
    invalid = sum(1 for e in snapshot.entries.values() if not e.valid)
    err.print(f"{len(snapshot.entries)} notice(s), {invalid} with errors, "
              f"{snapshot.seconds:.1f} s")
    err.print(f"[bold]preview desk: http://{host}:{bound_port}/[/bold]  (Ctrl-C to stop)")
    server = make_server(state, watch=not no_watch)
    # uvicorn re-raises the Ctrl-C it handled once it has stopped; that is a normal end.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    err.print("preview stopped")


def _log_changes() -> None:
    """One line per rebuild on stderr; the renderers' own chatter stays quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("preview: %(message)s"))
    log = logging.getLogger("noticecast.preview")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
