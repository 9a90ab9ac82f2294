"""The page grid of the newspaper: type area, grid columns, block widths and text columns.

All sizes are millimetres; the conversions to points (PDF) and CSS pixels (WeasyPrint's layout
unit) live here so that no other module multiplies by 25.4.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import Newspaper

MM_PER_INCH = 25.4
PT_PER_MM = 72 / MM_PER_INCH
PX_PER_MM = 96 / MM_PER_INCH  # CSS pixels: WeasyPrint lays out at 96 px per inch

# A text column narrower than this many body characters reads badly (too many hyphen-less
# breaks around digits and Latin); the block gets fewer, wider text columns instead.
MIN_TEXT_COLUMN_CHARS = 14
BLOCK_PADDING_MM = 3.0  # inside the block's frame rule
TEXT_COLUMN_GAP_MM = 4.0


def mm_to_pt(mm: float) -> float:
    return mm * PT_PER_MM


def pt_to_mm(pt: float) -> float:
    return pt / PT_PER_MM


def px_to_mm(px: float) -> float:
    return px / PX_PER_MM


@dataclass(frozen=True)
class Grid:
    """The paper's page: its type area divided into equal columns with gutters."""

    page_width_mm: float
    page_height_mm: float
    margin_top_mm: float
    margin_bottom_mm: float
    margin_inner_mm: float
    margin_outer_mm: float
    columns: int
    gutter_mm: float

    @classmethod
    def from_config(cls, section: Newspaper) -> Grid:
        return cls(section.page_width_mm, section.page_height_mm, section.margin_top_mm,
                   section.margin_bottom_mm, section.margin_inner_mm, section.margin_outer_mm,
                   section.columns, section.gutter_mm)

    @property
    def type_width_mm(self) -> float:
        return self.page_width_mm - self.margin_inner_mm - self.margin_outer_mm

    @property
    def type_height_mm(self) -> float:
        return self.page_height_mm - self.margin_top_mm - self.margin_bottom_mm

    @property
    def column_mm(self) -> float:
        return (self.type_width_mm - (self.columns - 1) * self.gutter_mm) / self.columns

    def span_mm(self, span: int) -> float:
        """The width of a block spanning ``span`` grid columns (and the gutters between)."""
        span = max(1, min(span, self.columns))
        return span * self.column_mm + (span - 1) * self.gutter_mm

    def column_x_mm(self, column: int) -> float:
        """The left edge of grid column ``column`` (0-based), from the type area's left."""
        return column * (self.column_mm + self.gutter_mm)


def text_columns(block_width_mm: float, body_pt: float) -> int:
    """As many body text columns as fit in the block at a readable measure."""
    inner = block_width_mm - 2 * BLOCK_PADDING_MM
    measure = MIN_TEXT_COLUMN_CHARS * pt_to_mm(body_pt)
    return max(1, int((inner + TEXT_COLUMN_GAP_MM) // (measure + TEXT_COLUMN_GAP_MM)))


def text_column_width_mm(block_width_mm: float, count: int) -> float:
    inner = block_width_mm - 2 * BLOCK_PADDING_MM
    return (inner - (count - 1) * TEXT_COLUMN_GAP_MM) / count
