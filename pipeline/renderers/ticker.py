"""The ticker: one line per notice, and the playlist of the LED strip and the TV crawl.

Per notice: ``<id>/line.txt``, the notice's one line (see ``ticker_line``).

Collection (the current playlist, recomputed for the build day):

* ``strip.png``: the playlist one bit deep at panel height, LED colour on black (``led``);
* ``preview.gif``: the panel's view of the scrolling strip, scaled up for people;
* ``tv.html``: a self-contained 1920×1080 overlay for playout (CasparCG) or a browser;
* ``playlist.json``: the lines, the strip geometry, the speeds, the duration of one loop and
  the SHA-256 of each asset. It is written last by the channel, so a controller that sees a new
  playlist.json finds the assets it names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

from pipeline.config import Config
from pipeline.model import Notice, PublicityState, Status
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.led import (
    PreviewPlan,
    face_for,
    fit_preview,
    gif_bytes,
    parse_font_specs,
    png_bytes,
    render_strip,
)
from pipeline.renderers.ticker_line import compose_line
from pipeline.schedule import instant, is_in_force, is_public, publicity_state
from pipeline.templating import read_template_file

LED_FONTS = "ticker/led.yaml"
TV_TEMPLATE = "ticker/tv.html"
PLAYLIST_VERSION = 1


def on_air(notice: Notice, when: date | datetime, config: Config) -> bool:
    """Whether a notice belongs on the screens at ``when`` (a moment, or the end of a day).

    Approved (drafts and withdrawn notices never show), public by then (the schedule rule),
    meant for the ticker, and either in its publicity period or urgent. An urgent notice whose
    period has ended leaves like any other.
    """
    now = instant(when, config.zone)
    if notice.status is not Status.approved or not is_public(notice, now, config.zone):
        return False
    if not is_in_force(notice, now, config.zone, config.site.urgent_days):
        return False  # an urgent notice past its ``expires`` leaves the screens
    if "ticker" not in (notice.channels or config.channels_for(notice.kind)):
        return False
    state = publicity_state(notice, now, config.zone)
    if state is PublicityState.ended:
        return False
    return state is PublicityState.running or notice.is_urgent


def playlist_order(notices: Sequence[Notice]) -> list[Notice]:
    """Urgent first, then county before town before village, then the newest first."""
    newest_first = sorted(notices, key=lambda n: (n.published, n.id), reverse=True)
    return sorted(newest_first, key=lambda n: (not n.is_urgent, n.level.depth))


def current_playlist(notices: Sequence[Notice], when: date | datetime,
                     config: Config) -> list[Notice]:
    return playlist_order([n for n in notices if on_air(n, when, config)])


class TickerRenderer(BaseRenderer):
    name: ClassVar[str] = "ticker"
    version: ClassVar[str] = "1"
    templates: ClassVar[tuple[str, ...]] = ()
    collection_templates: ClassVar[tuple[str, ...]] = (LED_FONTS, TV_TEMPLATE)
    config_sections: ClassVar[tuple[str, ...]] = ("office", "site", "ticker", "kind_channels")
    # The playlist depends on the day (periods start and end), not only on the notices.
    collection_uses_today: ClassVar[bool] = True

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        for notice in notices:
            line = self.line(notice, ctx)
            yield Artifact(renderer=self.name, path=f"{notice.id}/line.txt",
                           data=f"{line}\n".encode(), media_type="text/plain; charset=utf-8",
                           notice_id=notice.id, revision=notice.revision,
                           meta={"chars": len(line)})

    def collection_token(self, notice: Notice, ctx: RenderContext) -> str:
        # Only notices on air show in the playlist: an edit to any other leaves it as it is.
        if not on_air(notice, ctx.moment, ctx.config):
            return ""
        return (f"{self.line(notice, ctx)}|{notice.revision}|{notice.kind.value}|"
                f"{notice.level.value}|{notice.published.isoformat()}")

    def line(self, notice: Notice, ctx: RenderContext) -> str:
        return compose_line(notice, ctx.config.ticker.max_chars,
                            ctx.config.office.supervision_phone)

    def render_collection(self, notices: Sequence[Notice], ctx: RenderContext
                          ) -> Iterator[Artifact]:
        settings = ctx.config.ticker
        playing = current_playlist(notices, ctx.moment, ctx.config)
        lines = [self.line(n, ctx) for n in playing]

        specs = parse_font_specs(read_template_file(ctx.templates, LED_FONTS))
        face = face_for(specs, settings.panel_height)
        strip, layout = render_strip(lines, face, settings.panel_width)
        plan = PreviewPlan.for_loop(layout.width, settings.speed_px_per_s, settings.preview_max_s,
                                   has_text=bool(lines))
        # A wide panel is previewed smaller or more coarsely, within a memory budget.
        plan, scale = fit_preview(plan, settings.panel_width, settings.panel_height,
                                  settings.preview_scale)

        playlist: dict[str, Any] = {
            "version": PLAYLIST_VERSION,
            "date": ctx.today.isoformat(),
            "panel": {"width": settings.panel_width, "height": settings.panel_height,
                      "color": settings.color},
            "speed_px_per_s": settings.speed_px_per_s,
            "tv_speed_px_per_s": settings.tv_speed_px_per_s,
            "strip": {"file": "strip.png", **layout.as_json()},
            "loop_px": layout.width,
            "loop_seconds": round(layout.width / settings.speed_px_per_s, 3),
            "preview": {"file": "preview.gif", "scale": scale,
                        **plan.as_json()},
            "items": [
                {"id": n.id, "revision": n.revision, "kind": n.kind.value,
                 "level": n.level.value, "urgent": n.is_urgent, "line": line,
                 "url": ctx.notice_url(n.id), "x": x, "width": width}
                for n, line, (x, width) in zip(playing, lines, layout.spans, strict=True)
            ],
        }
        assets = [
            self._asset("strip.png", png_bytes(strip, settings.color), "image/png"),
            self._asset("preview.gif",
                        gif_bytes(strip, settings.color, settings.panel_width, plan, scale),
                        "image/gif"),
            # The page embeds the playlist without the checksums, which include its own.
            self._asset("tv.html", self._tv_page(playlist, ctx), "text/html; charset=utf-8"),
        ]
        playlist["assets"] = {a.path: {"sha256": a.sha256, "bytes": len(a.data),
                                       "media_type": a.media_type} for a in assets}
        yield from assets
        data = json.dumps(playlist, ensure_ascii=False, indent=2).encode() + b"\n"
        yield self._asset("playlist.json", data, "application/json",
                          meta={"items": len(lines), "loop_seconds": playlist["loop_seconds"]})

    def _tv_page(self, playlist: dict[str, Any], ctx: RenderContext) -> bytes:
        template = ctx.templates.get_template(TV_TEMPLATE)
        return template.render(playlist=playlist, office=ctx.config.office,
                               settings=ctx.config.ticker).encode()

    def _asset(self, path: str, data: bytes, media_type: str,
               meta: dict[str, Any] | None = None) -> Artifact:
        return Artifact(renderer=self.name, path=path, data=data, media_type=media_type,
                        meta=meta or {})

