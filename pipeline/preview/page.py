"""The newspaper page for an issue date: the blocks on the grid, what did not fit, room left.

The notices of an issue are the valid, non-draft notices that go to the newspaper channel and
are published on that date (or, with ``running``, in their publicity period that day). Their
blocks (size from the renderer's ``block.json``, else from the proof's pixel size) are packed
onto the page's column grid with the newspaper feature's own imposition
(``pipeline.renderers.newspaper_page``: selection, order and skyline packing), so the desk
shows the page `noticecast newspaper page` makes. Without that module, a simple skyline of our
own does the same job: urgent first, then county before town before village; each block goes
where its columns are lowest, leftmost on ties; a block that would run past the foot of the
type area is listed as not fitting and the page keeps filling with the blocks after it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipeline.config import Newspaper
from pipeline.model import Kind, Notice, Status
from pipeline.preview.outputs import OutputFile, OutputReader
from pipeline.preview.state import Snapshot

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Grid:
    width_mm: float
    height_mm: float
    columns: int
    gutter_mm: float

    @classmethod
    def of(cls, paper: Newspaper) -> Grid:
        return cls(
            width_mm=paper.page_width_mm - paper.margin_inner_mm - paper.margin_outer_mm,
            height_mm=paper.page_height_mm - paper.margin_top_mm - paper.margin_bottom_mm,
            columns=paper.columns, gutter_mm=paper.gutter_mm)

    @property
    def column_mm(self) -> float:
        return (self.width_mm - (self.columns - 1) * self.gutter_mm) / self.columns

    def span_mm(self, columns: int) -> float:
        return columns * self.column_mm + (columns - 1) * self.gutter_mm

    def x_mm(self, column: int) -> float:
        return column * (self.column_mm + self.gutter_mm)


@dataclass
class Block:
    notice: Notice
    columns: int
    height_mm: float
    proof: OutputFile | None
    column: int = 0
    y_mm: float = 0.0
    placed: bool = False
    reason: str = ""


@dataclass
class PageLayout:
    issue: date
    grid: Grid
    blocks: list[Block] = field(default_factory=list)
    column_used_mm: list[float] = field(default_factory=list)

    @property
    def placed(self) -> list[Block]:
        return [b for b in self.blocks if b.placed]

    @property
    def not_fitting(self) -> list[Block]:
        return [b for b in self.blocks if not b.placed]

    @property
    def room_left(self) -> list[float]:
        """Free height in mm at the foot of each column."""
        return [max(0.0, self.grid.height_mm - used) for used in self.column_used_mm]

    @property
    def room_left_percent(self) -> float:
        total = self.grid.height_mm * self.grid.columns
        return 100.0 * sum(self.room_left) / total if total else 0.0


def issue_notices(snapshot: Snapshot, issue: date, running: bool = False) -> list[Notice]:
    valid = [e.notice for e in snapshot.entries.values() if e.notice is not None]
    config = snapshot.project.config
    try:
        from pipeline.renderers.newspaper_page import in_issue, page_order
    except ImportError:
        chosen = [n for n in valid if n.status is not Status.draft
                  and "newspaper" in snapshot.channels(n) and (
                      n.published_date == issue or (running and n.publicity is not None
                      and n.publicity.start <= issue <= n.publicity.end))]
        return sorted(chosen, key=lambda n: (n.kind is not Kind.urgent, n.level.depth, n.id))
    return sorted((n for n in valid if in_issue(n, issue, config, running=running)),
                  key=page_order)


def issue_dates(snapshot: Snapshot) -> list[date]:
    days = {entry.notice.published_date for entry in snapshot.entries.values()
            if entry.notice is not None and entry.notice.status is not Status.draft
            and "newspaper" in snapshot.channels(entry.notice)}
    return sorted(days, reverse=True)


def default_issue(snapshot: Snapshot) -> date:
    days = issue_dates(snapshot)
    past = [d for d in days if d <= snapshot.today]
    return past[0] if past else (days[-1] if days else snapshot.today)


def layout_page(snapshot: Snapshot, issue: date, running: bool = False) -> PageLayout:
    paper = snapshot.project.config.newspaper
    grid = Grid.of(paper)
    reader = OutputReader(snapshot.out_dir)
    layout = PageLayout(issue, grid, column_used_mm=[0.0] * grid.columns)
    for notice in issue_notices(snapshot, issue, running):
        layout.blocks.append(_block(notice, reader, paper, grid))
    if not _pack_with_newspaper_feature(layout, paper):
        for block in layout.blocks:
            _place(layout, block)
    return layout


def _pack_with_newspaper_feature(layout: PageLayout, paper: Newspaper) -> bool:
    """Place the blocks with ``newspaper_page.pack``; False when that module is missing."""
    try:
        from pipeline.renderers import newspaper_grid, newspaper_page
    except ImportError:
        return False
    ready = [b for b in layout.blocks if not b.reason]
    by_page_block = {}
    for block in ready:
        page_block = newspaper_page.PageBlock(block.notice, block.columns, block.height_mm,
                                              pdf=b"")
        by_page_block[id(page_block)] = (page_block, block)
    plan = newspaper_page.pack(newspaper_grid.Grid.from_config(paper),
                               [pb for pb, _ in by_page_block.values()])
    for placement in plan.placed:
        _, block = by_page_block[id(placement.block)]
        block.column, block.y_mm, block.placed = placement.column, placement.top_mm, True
    for page_block in plan.left_out:
        _, block = by_page_block[id(page_block)]
        block.reason = "does not fit in the room left on the page"
    layout.column_used_mm = [layout.grid.height_mm - free for free in plan.column_free_mm]
    return True


def _block(notice: Notice, reader: OutputReader, paper: Newspaper, grid: Grid) -> Block:
    outputs = reader.outputs("newspaper", notice.id)
    proof = outputs.find("proof.png") or outputs.find(".png")
    meta: dict[str, Any] = reader.json(outputs.find("block.json")) or {}
    columns = _int(meta.get("grid_columns")) or _int(meta.get("columns")) or paper.block_columns
    columns = max(1, min(columns, grid.columns))
    height = _float(meta.get("height_mm"))
    if height is None and proof is not None:
        height = _png_height_mm(reader, proof, paper.proof_dpi)
    block = Block(notice, columns, height or 0.0, proof)
    if proof is None:
        block.reason = "no block was rendered (see the notice's newspaper panel)"
    return block


def _place(layout: PageLayout, block: Block) -> None:
    grid, used = layout.grid, layout.column_used_mm
    if block.reason:
        return
    best_column, best_top = 0, float("inf")
    for start in range(grid.columns - block.columns + 1):
        top = max(used[start:start + block.columns])
        if top < best_top:
            best_column, best_top = start, top
    if best_top + block.height_mm > grid.height_mm + 0.01:
        over = best_top + block.height_mm - grid.height_mm
        block.reason = f"does not fit: {over:.1f} mm too tall for the room left"
        return
    block.column, block.y_mm, block.placed = best_column, best_top, True
    bottom = best_top + block.height_mm + grid.gutter_mm
    for column in range(best_column, best_column + block.columns):
        used[column] = min(grid.height_mm, bottom)


def _png_height_mm(reader: OutputReader, proof: OutputFile, dpi: int) -> float | None:
    from pipeline.build import safe_output_path

    try:
        path = safe_output_path(reader.out_dir / proof.renderer, proof.path)
        with open(path, "rb") as handle:
            head = handle.read(24)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    _, height = struct.unpack(">II", head[16:24])
    return height / dpi * MM_PER_INCH


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
