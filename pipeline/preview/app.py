"""The preview desk's routes (Starlette).

    /                     every notice: validation, kind, level, area, publicity, channels,
                          ledger; filters ?area= &kind= &state=
    /notices/<id>         all five outputs of one notice side by side (or its errors)
    /newspaper?date=D     the newspaper page for an issue date
    /out/<renderer>/...   the cache folder's files (relative links of the web pages work)
    /events               Server-Sent Events: a build started / finished
    /api/state            the current generation and problems, as JSON

Pages are server-rendered; a small inline script listens to /events and swaps the sections of
the page that changed, so frames and images that did not change are not reloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pipeline.model import format_date, format_wan
from pipeline.preview import page as newspaper_page
from pipeline.preview.events import Broadcaster, event_response
from pipeline.preview.files import UnsafePath, media_type, resolve_cache_file
from pipeline.preview.state import PreviewState, all_problems
from pipeline.preview.views import Filters, index_view, notice_view
from pipeline.preview.watch import watch_forever
from pipeline.templating import default_templates_dir

LOCAL_HOSTS = ["127.0.0.1", "localhost"]


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(default_templates_dir() / "preview")),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True, lstrip_blocks=True)
    env.filters["wan"] = format_wan
    env.filters["cndate"] = format_date
    return env


class Desk:
    """The app's shared parts: the build state, the event fan-out and the templates."""

    def __init__(self, state: PreviewState, *, watch: bool = True) -> None:
        self.state = state
        self.watch = watch
        self.broadcaster = Broadcaster()
        self.templates = template_environment()
        self.stop = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        snapshot = self.state.snapshot
        template = self.templates.get_template(name)
        html = template.render(snapshot=snapshot, project=snapshot.project,
                               problems_total=sum(1 for _ in all_problems(snapshot)),
                               **context)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    # -- routes -----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        filters = Filters(area=request.query_params.get("area", ""),
                          kind=request.query_params.get("kind", ""),
                          state=request.query_params.get("state", ""))
        view = index_view(self.state.snapshot, filters)
        return self.render("index.html", page="index", **view)

    async def notice(self, request: Request) -> Response:
        notice_id = request.path_params["notice_id"]
        view = notice_view(self.state.snapshot, notice_id)
        if view is None:
            return self.render("missing.html", status=404, page="notice", notice_id=notice_id)
        return self.render("notice.html", page="notice", **view)

    async def newspaper(self, request: Request) -> Response:
        snapshot = self.state.snapshot
        asked = request.query_params.get("date", "")
        try:
            issue = date.fromisoformat(asked) if asked else newspaper_page.default_issue(snapshot)
        except ValueError:
            return self.render("missing.html", status=400, page="newspaper",
                               notice_id=f"date {asked!r} (write it as YYYY-MM-DD)")
        running = request.query_params.get("running") == "1"
        layout = newspaper_page.layout_page(snapshot, issue, running)
        return self.render("newspaper.html", page="newspaper", layout=layout, running=running,
                           dates=newspaper_page.issue_dates(snapshot))

    async def files(self, request: Request) -> Response:
        requested = request.path_params["path"]
        try:
            path = resolve_cache_file(self.state.out_dir, requested)
        except UnsafePath:
            return Response("path leaves the preview folder\n", status_code=400,
                            media_type="text/plain")
        if path is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return FileResponse(path, media_type=media_type(path),
                            headers={"Cache-Control": "no-cache"})

    async def events(self, request: Request) -> Response:
        return event_response(request, self.broadcaster, {"generation": self.state.generation})

    async def api_state(self, request: Request) -> Response:
        snapshot = self.state.snapshot
        return JSONResponse({
            "generation": snapshot.generation,
            "today": snapshot.today.isoformat(),
            "renderers": {n: {"available": s.available, "reason": s.reason}
                          for n, s in snapshot.renderers.items()},
            "notices": {i: {"valid": e.valid, "source": e.source,
                            "problems": [p.where + ": " + p.message for p in e.problems]}
                        for i, e in snapshot.entries.items()},
            "config_problems": [p.where + ": " + p.message for p in snapshot.config_problems],
        })

    # -- lifespan ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.loop = asyncio.get_running_loop()
        if self.state.generation == 0:
            await anyio.to_thread.run_sync(self.state.rebuild)
        task = asyncio.create_task(watch_forever(self.state, self.broadcaster, self.stop)) \
            if self.watch else None
        try:
            yield
        finally:
            self.shutdown()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, 5)

    def shutdown(self) -> None:
        """Stop the watcher and end the event streams; safe to call twice, in the loop."""
        self.stop.set()
        self.state.stopping.set()
        self.broadcaster.close()

    def request_shutdown(self) -> None:
        """``shutdown`` from any thread (a signal handler, a test)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.shutdown)


def create_app(state: PreviewState, *, watch: bool = True) -> Starlette:
    desk = Desk(state, watch=watch)
    app = Starlette(
        routes=[
            Route("/", desk.index),
            Route("/notices/{notice_id}", desk.notice),
            Route("/notices/{notice_id}/", desk.notice),
            Route("/newspaper", desk.newspaper),
            Route("/out/{path:path}", desk.files),
            Route("/events", desk.events),
            Route("/api/state", desk.api_state),
        ],
        # Refuse other Host names: a page on the internet must not reach the desk through
        # DNS rebinding.
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS)],
        lifespan=desk.lifespan,
    )
    app.state.desk = desk
    return app

