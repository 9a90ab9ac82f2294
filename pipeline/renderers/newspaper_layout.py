"""Lay out many newspaper blocks in one WeasyPrint document, then split it per block.

Fonts are loaded and subset once per batch, not once per block:

1. Every block is set on its own tall page, its body as **one** text column of the final column
   width. The body's line boxes are then dealt into the block's text columns, the same number of
   lines in each (balanced), by moving them (``Box.translate``); what follows the body moves up.
   This is exactly what CSS multi-column layout would produce, at a fraction of the cost:
   WeasyPrint balances columns by laying their content out again and again.
2. Each page is cropped to its block's height: the fixed height, or the measured one. An
   overflow is measured, reported, never cut.
3. The document is written once, then split into one PDF per page (``newspaper_proof``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jinja2 import Environment

from pipeline.errors import FitError, RenderError
from pipeline.renderers.newspaper_content import BlockContent
from pipeline.renderers.newspaper_grid import (
    PX_PER_MM,
    TEXT_COLUMN_GAP_MM,
    pt_to_mm,
    px_to_mm,
    text_column_width_mm,
)
from pipeline.renderers.newspaper_proof import split_and_proof
from pipeline.renderers.newspaper_subsetting import warn_if_slow_subsetting
from pipeline.renderers.weasy import block_html
from pipeline.templating import read_template_file

LINE_HEIGHT = 1.5  # body line height, in em; block.css says the same
SHRINK_STEP_PT = 0.5
LAYOUT_PAGE_MM = 2000.0  # blocks are set on tall pages and cropped to their height
TOLERANCE_MM = 0.05
NARROW_BLOCK_MM = 80.0  # narrower blocks put the QR code under the contact lines


@dataclass(frozen=True)
class BlockSpec:
    """One block to set: what it says and the geometry it must have."""

    notice_id: str
    content: BlockContent
    qr_uri: str  # a data: URI of the QR code image
    span: int  # grid columns
    width_mm: float
    fixed_height_mm: float | None
    body_pt: float
    min_body_pt: float
    text_columns: int
    headline_pt: float

    @property
    def column_mm(self) -> float:
        return text_column_width_mm(self.width_mm, self.text_columns)

    @property
    def line_mm(self) -> float:
        return pt_to_mm(self.body_pt) * LINE_HEIGHT


@dataclass(frozen=True)
class SetBlock:
    """A block after layout: its measured size and fit, and its outputs."""

    spec: BlockSpec
    height_mm: float  # the page height: the fixed height, or the measured one
    natural_mm: float  # what the content needs
    lines_per_column: int
    overflow_mm: float
    pdf: bytes = b""
    proof_png: bytes = b""
    proof_size: tuple[int, int] = (0, 0)
    shrunk: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return self.overflow_mm <= TOLERANCE_MM

    @property
    def overflow_lines(self) -> int:
        per_column = math.ceil((self.overflow_mm - TOLERANCE_MM) / self.spec.line_mm)
        return max(1, per_column) * self.spec.text_columns

    def fit_message(self, shrink_tried: bool) -> str:
        spec = self.spec
        return (f"newspaper block does not fit its fixed height of {spec.fixed_height_mm:g} mm: "
                f"over by {self.overflow_lines} lines / {self.overflow_mm:.1f} mm at "
                f"{spec.body_pt:g} pt body (minimum {spec.min_body_pt:g} pt"
                f"{'' if shrink_tried else '; try --shrink'}); shorten the text, widen the "
                "block or raise block_height_mm")


def _css(env: Environment) -> str:
    return read_template_file(env, "newspaper/block.css")


def deal_lines(section: Any, spec: BlockSpec) -> int:
    """Move the body's lines into the block's text columns; returns lines per column.

    ``section`` is the block's laid-out box. Its body holds one column of paragraphs; the
    lines are dealt out in reading order, as evenly as they go, and the rest of the block moves
    up by the height the body no longer needs.
    """
    body = next((child for child in section.children
                 if child.element is not None and child.element.get("class") == "body"), None)
    if body is None:
        return 0
    lines = [line for paragraph in body.children for line in paragraph.children]
    if not lines:
        return 0
    # The first (lines mod columns) columns get one line more than the others: 7 lines in
    # three columns are 3 + 2 + 2, as balanced columns are set, not 3 + 3 + 1.
    count = min(spec.text_columns, len(lines))
    short, longer = divmod(len(lines), count)
    sizes = [short + (1 if c < longer else 0) for c in range(count)]
    per_column = sizes[0]
    top = lines[0].position_y
    step_x = (spec.column_mm + TEXT_COLUMN_GAP_MM) * PX_PER_MM
    bottom = top
    first = 0
    for column, size in enumerate(sizes):
        chunk = lines[first:first + size]
        first += size
        dy = top - chunk[0].position_y
        for line in chunk:
            if column:
                line.translate(column * step_x, dy)
            bottom = max(bottom, line.position_y + line.margin_height())
    old_bottom = body.position_y + body.margin_height()
    new_bottom = bottom + body.padding_bottom + body.border_bottom_width + body.margin_bottom
    shrink = old_bottom - new_bottom
    body.height -= shrink
    after = False
    for child in section.children:
        if after:
            child.translate(0, -shrink)
        after = after or child is body
    section.height -= shrink
    return per_column


# -- a batch ---------------------------------------------------------------------------------

def set_blocks(specs: Sequence[BlockSpec], env: Environment, *,
               dpi: int) -> list[SetBlock]:
    """Lay out the batch, measure every block, and write PDFs and proofs for those that fit."""
    warn_if_slow_subsetting()
    html_class, fonts = block_html()
    pages: dict[str, dict[str, Any]] = {}
    blocks = []
    for spec in specs:
        page = f"w{round(spec.width_mm * 100)}"
        pages[page] = {"name": page, "width_mm": f"{spec.width_mm:.3f}",
                       "height_mm": f"{LAYOUT_PAGE_MM:g}"}
        blocks.append({
            "page": page, "content": spec.content, "width_mm": f"{spec.width_mm:.3f}",
            "narrow": spec.width_mm < NARROW_BLOCK_MM,
            "body_pt": spec.body_pt, "headline_pt": spec.headline_pt,
            "column_mm": f"{spec.column_mm:.3f}", "qr_uri": spec.qr_uri})
    html = env.get_template("newspaper/blocks.html").render(
        css=_css(env), pages=list(pages.values()), blocks=blocks)
    document = html_class(string=html).render(font_config=fonts)
    results: list[SetBlock] = []
    for spec, (page_index, section) in zip(specs, _sections(document, len(specs)),
                                           strict=True):
        per_column = deal_lines(section, spec)
        natural = px_to_mm(section.position_y + section.margin_height())
        fixed = spec.fixed_height_mm
        if fixed is not None and natural < fixed:
            section.height += (fixed - natural) * PX_PER_MM  # the frame spans the fixed height
        height = fixed if fixed is not None else natural
        document.pages[page_index].height = height * PX_PER_MM
        results.append(SetBlock(spec, height_mm=height, natural_mm=natural,
                                lines_per_column=per_column,
                                overflow_mm=max(0.0, natural - fixed) if fixed is not None
                                else 0.0,
                                extra={"page": page_index}))
    keep = [b.extra["page"] for b in results if b.fits]
    if not keep:
        return results
    written = document.copy([document.pages[i] for i in keep]).write_pdf()
    outputs = split_and_proof(written, dpi, [b.spec.content.issue_date for b in results
                                             if b.fits])
    finished: list[SetBlock] = []
    for block in results:
        if block.fits:
            pdf, png, size = outputs[keep.index(block.extra["page"])]
            block = replace(block, pdf=pdf, proof_png=png, proof_size=size)
        finished.append(block)
    return finished


def _sections(document: Any, count: int) -> list[tuple[int, Any]]:
    """(page index, section box) of each block, in block order; one page per block."""
    found: dict[int, tuple[int, Any]] = {}
    for page_index, page in enumerate(document.pages):
        html = page._page_box.children[0]
        body = html.children[0]
        for box in body.children:
            if box.element_tag != "section" or box.element is None:
                continue
            block = int(box.element.get("id", "block-0").rpartition("-")[2])
            if block in found:
                raise RenderError(None, f"a newspaper block is taller than the "
                                        f"{LAYOUT_PAGE_MM:g} mm layout page")
            found[block] = (page_index, box)
    missing = [i for i in range(count) if i not in found]
    if missing:
        raise RenderError(None, f"newspaper blocks {missing} were not laid out")
    return [found[i] for i in range(count)]


def fit_or_shrink(specs: Sequence[BlockSpec], env: Environment, *, dpi: int,
                  shrink: bool, strict: bool = True) -> list[SetBlock]:
    """Set the blocks; with ``shrink``, re-set overflowing ones at smaller body sizes.

    ``strict``: raise FitError for the first block that does not fit even at the minimum body
    size; otherwise return it unfit (no PDF), for callers that report rather than fail.
    """
    results = set_blocks(specs, env, dpi=dpi)
    while shrink:
        retry = [i for i, b in enumerate(results)
                 if not b.fits and b.spec.body_pt - SHRINK_STEP_PT >= b.spec.min_body_pt - 1e-9]
        if not retry:
            break
        smaller = [replace(results[i].spec, body_pt=results[i].spec.body_pt - SHRINK_STEP_PT)
                   for i in retry]
        for i, block in zip(retry, set_blocks(smaller, env, dpi=dpi), strict=True):
            results[i] = replace(block, shrunk=True)
    for block in results:
        if strict and not block.fits:
            raise FitError(block.spec.notice_id, block.fit_message(shrink))
    return results
