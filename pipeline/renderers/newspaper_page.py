"""The editors' page preview: the blocks of one issue placed on the page grid.

Packing is simple and deterministic (a skyline over the grid columns): blocks are taken urgent
first, then by level (county, town, village), then by publication time and id; each goes where
its top is highest, leftmost on a tie. A block that reaches below the type area does not fit
and is reported, never cut. The page PDF places each block's own PDF unchanged (as a form
XObject), so the preview prints exactly what the blocks print.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from pipeline.config import Config
from pipeline.model import Notice, Status
from pipeline.renderers.newspaper_grid import Grid, mm_to_pt

EPSILON_MM = 0.01


@dataclass(frozen=True)
class PageBlock:
    """A finished block to place: its notice, its grid span, its height and its PDF."""

    notice: Notice
    span: int
    height_mm: float
    pdf: bytes


@dataclass(frozen=True)
class Placement:
    block: PageBlock
    column: int  # the first grid column, 0-based
    top_mm: float  # from the top of the type area

    @property
    def notice_id(self) -> str:
        return self.block.notice.id


@dataclass
class PagePlan:
    grid: Grid
    placed: list[Placement] = field(default_factory=list)
    left_out: list[PageBlock] = field(default_factory=list)
    column_free_mm: list[float] = field(default_factory=list)  # height a block may still have

    @property
    def free_area_mm2(self) -> float:
        return sum(self.column_free_mm) * self.grid.column_mm

    @property
    def free_share(self) -> float:
        """The free share of the columns' area (gutters are never free for a block)."""
        whole = self.grid.columns * self.grid.column_mm * self.grid.type_height_mm
        return self.free_area_mm2 / whole if whole else 0.0


def in_issue(notice: Notice, day: date, config: Config, *, running: bool = False) -> bool:
    """Whether ``notice`` belongs in the issue of ``day``: published that day (or, with
    ``running``, in its publicity period that day), approved or withdrawn, and meant for the
    newspaper."""
    if notice.status is Status.draft:
        return False
    channels = notice.channels if notice.channels is not None else config.channels_for(
        notice.kind)
    if "newspaper" not in channels:
        return False
    if notice.published_date == day:
        return True
    return running and notice.publicity is not None and (
        notice.publicity.start <= day <= notice.publicity.end)


def page_order(notice: Notice) -> tuple[bool, int, str, str]:
    """Urgent first, then county before town before village, then oldest first."""
    return (not notice.is_urgent, notice.level.depth, notice.published.isoformat(), notice.id)


def pack(grid: Grid, blocks: Sequence[PageBlock]) -> PagePlan:
    """Place ``blocks`` (in the order given) on the grid, skyline style."""
    plan = PagePlan(grid)
    skyline = [0.0] * grid.columns  # where the next block may start, under each column
    for block in blocks:
        span = max(1, min(block.span, grid.columns))
        best: tuple[float, int] | None = None
        for column in range(grid.columns - span + 1):
            top = max(skyline[column:column + span])
            if top + block.height_mm <= grid.type_height_mm + EPSILON_MM and (
                    best is None or top < best[0] - EPSILON_MM):
                best = (top, column)
        if best is None:
            plan.left_out.append(block)
            continue
        top, column = best
        plan.placed.append(Placement(block, column, top))
        for index in range(column, column + span):
            skyline[index] = top + block.height_mm + grid.gutter_mm
    # The room is what a further block could still use: below the last block and its gutter.
    plan.column_free_mm = [max(0.0, grid.type_height_mm - used) for used in skyline]
    return plan


def compose(plan: PagePlan, *, dpi: int = 100) -> tuple[bytes, bytes]:
    """The page PDF (blocks as placed, light grid guides) and a PNG of it at ``dpi``."""
    import pypdfium2
    import pypdfium2.raw as pdfium

    grid = plan.grid
    page_w, page_h = mm_to_pt(grid.page_width_mm), mm_to_pt(grid.page_height_mm)
    document = pypdfium2.PdfDocument.new()
    page = document.new_page(page_w, page_h)
    _guides(page, grid, pdfium)
    sources = []
    for placement in plan.placed:
        source = pypdfium2.PdfDocument(placement.block.pdf)
        sources.append(source)  # the XObject refers to it until the page is saved
        xobject = source.page_as_xobject(0, document)
        obj = xobject.as_pageobject()
        x = mm_to_pt(grid.margin_inner_mm + grid.column_x_mm(placement.column))
        y = page_h - mm_to_pt(grid.margin_top_mm + placement.top_mm
                              + placement.block.height_mm)
        obj.transform(pypdfium2.PdfMatrix().translate(x, y))
        page.insert_obj(obj)
    page.gen_content()
    buffer = io.BytesIO()
    document.save(buffer)
    image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=3, dpi=(dpi, dpi))
    page.close()
    document.close()
    for source in sources:
        source.close()
    return buffer.getvalue(), png.getvalue()


def _guides(page: object, grid: Grid, pdfium: object) -> None:
    """Thin grey outlines of the grid columns, so editors see the room that is left."""
    page_h = mm_to_pt(grid.page_height_mm)
    for column in range(grid.columns):
        x = mm_to_pt(grid.margin_inner_mm + grid.column_x_mm(column))
        y = page_h - mm_to_pt(grid.margin_top_mm + grid.type_height_mm)
        rect = pdfium.FPDFPageObj_CreateNewRect(  # type: ignore[attr-defined]
            x, y, mm_to_pt(grid.column_mm), mm_to_pt(grid.type_height_mm))
        pdfium.FPDFPageObj_SetStrokeColor(rect, 170, 170, 170, 255)  # type: ignore[attr-defined]
        pdfium.FPDFPageObj_SetStrokeWidth(rect, 0.3)  # type: ignore[attr-defined]
        pdfium.FPDFPath_SetDrawMode(rect, pdfium.FPDF_FILLMODE_NONE, True)  # type: ignore[attr-defined]
        pdfium.FPDFPage_InsertObject(page.raw, rect)  # type: ignore[attr-defined]
