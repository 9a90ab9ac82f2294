"""The notice board sheet (公示栏): a notice as the town or village clerk posts it.

Per notice: ``<id>/sheet.pdf`` (A4 portrait by default, A3 by config; fonts embedded, text
extractable), ``<id>/sheet.png`` (a proof of its first page; ``sheet-2.png`` and on for more
pages) and ``<id>/sheet.json`` (paper, body size, pages, the kind of sheet). What a sheet says
is decided in ``board_content``, how it is set in ``board_layout``; the print pack of a board
(every sheet it carries on a date, behind a cover page) in ``board_pack``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pipeline.config import Config
from pipeline.model import Notice
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.board_content import sheet_content
from pipeline.renderers.board_layout import PAPERS, Paper, SetSheet, SheetSpec, set_sheets


def paper_of(config: Config) -> Paper:
    return PAPERS[config.board.paper]


def body_sizes(config: Config) -> tuple[float, float]:
    """(starting body size, minimum body size) in pt, for the configured paper."""
    section = config.board
    start = section.body_pt if section.body_pt is not None else paper_of(config).default_body_pt
    return start, min(section.min_body_pt, start)


def sheet_spec(notice: Notice, ctx: RenderContext) -> SheetSpec:
    from pipeline.renderers.newspaper import qr_png_uri

    url = ctx.notice_url(notice.id)
    start, minimum = body_sizes(ctx.config)
    content = sheet_content(notice, url, ctx.today)
    return SheetSpec(notice_id=notice.id, content=content, qr_uri=qr_png_uri(url),
                     site=urlsplit(ctx.base_url).netloc or ctx.base_url,
                     body_pt=start, min_body_pt=minimum, created=content.dated)


def set_notices(notices: Sequence[Notice], ctx: RenderContext) -> list[SetSheet]:
    """The sheets of ``notices``, set in one batch."""
    if not notices:
        return []
    return set_sheets([sheet_spec(n, ctx) for n in notices], ctx.templates, paper_of(ctx.config),
                      dpi=ctx.config.board.proof_dpi)


def sheet_metadata(sheet: SetSheet, notice: Notice, config: Config) -> dict[str, Any]:
    content = sheet.spec.content
    return {
        "notice_id": notice.id,
        "revision": notice.revision,
        "sheet": content.kind,
        "title": notice.title,
        "headline": content.headline,
        "area": notice.area,
        "issuer": content.issuer,
        "dated": content.dated.isoformat(),
        "publicity": content.publicity,
        "publicity_start": notice.publicity.start.isoformat() if notice.publicity else None,
        "publicity_end": notice.publicity.end.isoformat() if notice.publicity else None,
        "paper": config.board.paper,
        "pages": sheet.pages,
        "body_pt": sheet.spec.body_pt,
        "fit": "one page" if sheet.one_page else f"{sheet.pages} pages",
        "shrunk": sheet.shrunk,
        "proof_dpi": config.board.proof_dpi,
        "proof_px": list(sheet.proof_size),
    }


def artifacts_of_sheet(notice: Notice, sheet: SetSheet, config: Config) -> list[Artifact]:
    meta = sheet_metadata(sheet, notice, config)
    common: dict[str, Any] = {"renderer": "board", "notice_id": notice.id,
                              "revision": notice.revision}
    summary = {k: meta[k] for k in ("sheet", "paper", "pages", "body_pt", "fit", "dated")}
    artifacts = [Artifact(path=f"{notice.id}/sheet.pdf", data=sheet.pdf,
                          media_type="application/pdf", meta=summary, **common)]
    for number, proof in enumerate(sheet.proofs, start=1):
        name = "sheet.png" if number == 1 else f"sheet-{number}.png"
        artifacts.append(Artifact(path=f"{notice.id}/{name}", data=proof,
                                  media_type="image/png", meta=summary, **common))
    artifacts.append(Artifact(
        path=f"{notice.id}/sheet.json",
        data=json.dumps(meta, ensure_ascii=False, indent=2).encode() + b"\n",
        media_type="application/json", meta=summary, **common))
    return artifacts


class BoardRenderer(BaseRenderer):
    name: ClassVar[str] = "board"
    version: ClassVar[str] = "1"
    templates: ClassVar[tuple[str, ...]] = ("board/sheets.html", "board/sheet.css")
    config_sections: ClassVar[tuple[str, ...]] = ("site", "board")
    batch_size: ClassVar[int] = 32
    # A document costs its fonts and subsetting once; smaller batches waste that.
    min_batch_size: ClassVar[int] = 16

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        sheets = set_notices(notices, ctx)
        return iter([artifact for notice, sheet in zip(notices, sheets, strict=True)
                     for artifact in artifacts_of_sheet(notice, sheet, ctx.config)])

    def cache_token(self, notice: Notice, ctx: RenderContext) -> str:
        # Paper does not update itself, so a sheet shows no state of the day. Only a
        # withdrawal that names no day is dated by the build.
        if notice.is_withdrawn and notice.withdrawal and notice.withdrawal.on is None:
            return ctx.today.isoformat()
        return ""
