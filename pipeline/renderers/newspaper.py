"""The newspaper block: a notice as the local paper prints it, for the editors' special page.

Per notice: ``<id>/block.pdf`` at the exact block size (fonts embedded, text extractable),
``<id>/proof.png`` (150 dpi by default) and ``<id>/block.json`` (size, columns, body size, fit).

A batch of notices is laid out in one WeasyPrint document and split per block afterwards (see
``newspaper_layout``): fonts are loaded and subset once per batch, not once per block.
``render_unbatched`` renders one document per block, the same output the slow way; the
benchmark calls it as the baseline the batch is measured against.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import qrcode

from pipeline.model import Notice
from pipeline.renderers import qr
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.newspaper_content import block_content
from pipeline.renderers.newspaper_grid import Grid, mm_to_pt, text_columns
from pipeline.renderers.newspaper_layout import BlockSpec, SetBlock, fit_or_shrink

QR_SIZE_MM = 20.0  # quiet zone included; the rule is at least 15 mm


def headline_pt(span: int) -> float:
    """Wider blocks get bigger headlines, as on a real page."""
    return {1: 12.0, 2: 15.0, 3: 18.0}.get(span, 20.0)


@lru_cache(maxsize=1024)
def qr_png_uri(url: str) -> str:
    """The QR code of ``url`` as a 1-bit PNG at one pixel per module (quiet zone included).

    The block scales it up without smoothing (``image-rendering: pixelated``): crisp in the PDF
    and the proof, and cheaper for WeasyPrint than an SVG of hundreds of squares. The mask is
    fixed (any of the eight is valid for every reader): choosing the "best" one costs more
    than laying out a block's headline.
    """
    from PIL import Image

    code = qrcode.QRCode(error_correction=qr.ERROR_CORRECTION, border=qr.QUIET_ZONE,
                         mask_pattern=0)
    code.add_data(url)
    code.make(fit=True)
    rows = code.get_matrix()
    image = Image.new("1", (len(rows), len(rows)), 1)
    image.putdata([0 if dark else 1 for row in rows for dark in row])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def block_spec(notice: Notice, ctx: RenderContext, *, span: int | None = None,
               fixed_height_mm: float | None = None) -> BlockSpec:
    """The geometry and text of one block, from the page grid in the config."""
    section = ctx.config.newspaper
    grid = Grid.from_config(section)
    span = max(1, min(span or section.block_columns, grid.columns))
    width = grid.span_mm(span)
    url = ctx.notice_url(notice.id)
    return BlockSpec(
        notice_id=notice.id,
        content=block_content(notice, url),
        qr_uri=qr_png_uri(url),
        span=span,
        width_mm=width,
        fixed_height_mm=fixed_height_mm if fixed_height_mm is not None
        else section.block_height_mm,
        body_pt=section.body_pt,
        min_body_pt=min(section.min_body_pt, section.body_pt),
        # The column count follows the configured size, so that --shrink never re-flows a
        # block into a different column structure.
        text_columns=text_columns(width, section.body_pt),
        headline_pt=headline_pt(span),
    )


def block_metadata(block: SetBlock, notice: Notice, dpi: int) -> dict[str, Any]:
    """block.json: what an editor (and the page preview) needs to know about the block."""
    spec = block.spec
    return {
        "notice_id": notice.id,
        "revision": notice.revision,
        "title": notice.title,
        "issue_date": notice.published_date.isoformat(),
        "width_mm": round(spec.width_mm, 2),
        "height_mm": round(block.height_mm, 2),
        "width_pt": round(mm_to_pt(spec.width_mm), 2),
        "height_pt": round(mm_to_pt(block.height_mm), 2),
        "grid_columns": spec.span,
        "text_columns": spec.text_columns,
        "body_pt": spec.body_pt,
        "height_mode": "fixed" if spec.fixed_height_mm is not None else "auto",
        "lines_per_column": block.lines_per_column,
        "fit": "shrunk" if block.shrunk else "fits",
        "overflow_mm": round(block.overflow_mm, 2),
        "room_mm": round(max(0.0, block.height_mm - block.natural_mm), 2),
        "proof_dpi": dpi,
        "proof_px": list(block.proof_size),
        "label": spec.content.label,
    }


class NewspaperRenderer(BaseRenderer):
    name: ClassVar[str] = "newspaper"
    version: ClassVar[str] = "1"
    templates: ClassVar[tuple[str, ...]] = (
        "newspaper/blocks.html", "newspaper/block.css")
    config_sections: ClassVar[tuple[str, ...]] = ("site", "newspaper")
    batch_size: ClassVar[int] = 64
    # About 60 ms of every document is fixed (fonts, subsetting): batches below this waste it.
    min_batch_size: ClassVar[int] = 32

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        dpi = ctx.config.newspaper.proof_dpi
        blocks = set_notices(notices, ctx)
        return iter([artifact for notice, block in zip(notices, blocks, strict=True)
                     for artifact in artifacts_of_block(notice, block, dpi)])

    def cache_token(self, notice: Notice, ctx: RenderContext) -> str:
        # The block shows no day-dependent state (the publicity period is printed as dates).
        return ""


def set_notices(notices: Sequence[Notice], ctx: RenderContext, *,
                strict: bool = True) -> list[SetBlock]:
    """The blocks of ``notices``, set in one batch. With ``strict`` False a block that does not
    fit comes back unfit (``fits`` False, no PDF) instead of raising FitError."""
    if not notices:
        return []
    specs = [block_spec(n, ctx) for n in notices]
    return fit_or_shrink(specs, ctx.templates, dpi=ctx.config.newspaper.proof_dpi,
                         shrink=ctx.options.shrink, strict=strict)


def artifacts_of_block(notice: Notice, block: SetBlock, dpi: int) -> list[Artifact]:
    meta = block_metadata(block, notice, dpi)
    common = {"renderer": "newspaper", "notice_id": notice.id, "revision": notice.revision}
    summary = {k: meta[k] for k in ("issue_date", "width_mm", "height_mm", "grid_columns",
                                    "body_pt", "fit")}
    return [
        Artifact(path=f"{notice.id}/block.pdf", data=block.pdf, media_type="application/pdf",
                 meta=summary, **common),
        Artifact(path=f"{notice.id}/proof.png", data=block.proof_png, media_type="image/png",
                 meta=summary, **common),
        Artifact(path=f"{notice.id}/block.json",
                 data=json.dumps(meta, ensure_ascii=False, indent=2).encode() + b"\n",
                 media_type="application/json", meta=summary, **common),
    ]


def render_unbatched(notices: Sequence[Notice], ctx: RenderContext) -> list[Artifact]:
    """The same artifacts, one WeasyPrint document per block: the benchmark's baseline.

    ``python -m bench run`` compares it with ``NewspaperRenderer().render`` (one document per
    batch). Here every block pays for its own document: parsing the stylesheet, subsetting and
    embedding the fonts, writing and re-reading a PDF. Do not use it for real work.
    """
    renderer = NewspaperRenderer()
    return [artifact for notice in notices for artifact in renderer.render([notice], ctx)]
