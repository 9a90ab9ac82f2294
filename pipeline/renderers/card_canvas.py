"""A drawing surface for the card that paints straight into an 8-bit palette image.

The card is flat design: a dozen solid colours, plus anti-aliased text and round corners, each
a blend of one known foreground over one known background. So the canvas never needs 24-bit
colour: it is a palette ("P") image from the start, each solid colour gets one palette entry,
and each (foreground, background) pair gets a ramp of ``RAMP_STEPS`` entries; a glyph's
coverage mask is mapped through that ramp with a lookup table and pasted where it is not empty.

Why, on purpose:

* one byte per pixel instead of three: every fill and paste moves a third of the memory;
* no quantisation pass at the end (it cost about as much as drawing the whole card);
* the PNG is a palette PNG: 84 kB for the tall demo card instead of 144 kB as RGB, and it
  compresses in ~8 ms instead of ~60 ms; written by ``png.encode`` (unfiltered rows, ISA-L
  deflate), it takes ~3 ms.

Twelve steps of coverage are indistinguishable from 256 at these sizes (the eye sees the edge,
not its eighth grey level), and keep the palette within 256 entries with room to spare.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageChops, ImageDraw

from pipeline.renderers import png
from pipeline.renderers.typeset import FontStack

RGB = tuple[int, int, int]

RAMP_STEPS = 12
SUPERSAMPLE = 4  # round corners are drawn 4x larger and scaled down, for smooth edges
_BINARY = [0] + [255] * 255  # coverage -> "paint here" mask
_LEVELS = [round(v / 255 * (RAMP_STEPS - 1)) for v in range(256)]  # coverage -> ramp step


@dataclass(frozen=True)
class Coverage:
    """A coverage mask made ready to paint: ramp levels (0..RAMP_STEPS-1) and where ink is."""

    levels: Any
    ink: Any

    @classmethod
    def of(cls, mask: Any) -> Coverage:
        return cls(mask.point(_LEVELS), mask.point(_BINARY))


@dataclass(frozen=True)
class Line:
    coverage: Coverage
    ascent: int  # the baseline lies this far below the top of the masks
    pad: int  # the masks start this far left of the pen position, for overhanging glyphs


def hex_rgb(value: str) -> RGB:
    text = str(value).lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        raise ValueError(value)
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


class Palette:
    """Up to 256 colours, handed out on first use; when full, the nearest colour is reused."""

    def __init__(self) -> None:
        self.colours: list[RGB] = []
        self._index: dict[RGB, int] = {}
        self._ramps: dict[tuple[RGB, RGB, float], int | list[int]] = {}

    def solid(self, colour: RGB) -> int:
        index = self._index.get(colour)
        if index is None:
            if len(self.colours) < 256:
                index = len(self.colours)
                self.colours.append(colour)
            else:
                index = self._nearest(colour)
            self._index[colour] = index
        return index

    def _nearest(self, colour: RGB) -> int:
        return min(range(len(self.colours)), key=lambda i: sum(
            (a - b) ** 2 for a, b in zip(self.colours[i], colour, strict=True)))

    def ramp(self, fill: RGB, behind: RGB, strength: float = 1.0) -> int | list[int]:
        """Where the blends of ``fill`` over ``behind`` live, for coverage levels 0..STEPS-1.

        Normally an int: the first of ``RAMP_STEPS`` consecutive entries, so a level image
        becomes an index image by adding a constant (one C call, no lookup table built in
        Python). If the palette is nearly full, a table level -> nearest existing entry.
        """
        key = (fill, behind, strength)
        found = self._ramps.get(key)
        if found is not None:
            return found
        mixes: list[RGB] = []
        for step in range(RAMP_STEPS):
            t = step / (RAMP_STEPS - 1) * strength
            r, g, b = (round(low + (high - low) * t)
                       for high, low in zip(fill, behind, strict=True))
            mixes.append((r, g, b))
        ramp: int | list[int]
        if len(self.colours) + RAMP_STEPS <= 256:
            ramp = len(self.colours)
            self.colours.extend(mixes)
        else:
            ramp = [self.solid(mix) for mix in mixes] + [0] * (256 - RAMP_STEPS)
        self._ramps[key] = ramp
        return ramp

    def flat(self) -> list[int]:
        return [channel for colour in self.colours for channel in colour]


class Canvas:
    def __init__(self, width: int, height: int, background: RGB) -> None:
        self.width, self.height = width, height
        self.palette = Palette()
        self.image = Image.new("P", (width, height), self.palette.solid(background))

    # -- shapes ----------------------------------------------------------------------------

    def rect(self, box: tuple[int, int, int, int], fill: RGB) -> None:
        """A solid rectangle; ``box`` is (left, top, right, bottom), right and bottom excluded."""
        left, top, right, bottom = box
        if right > left and bottom > top:
            self.image.paste(self.palette.solid(fill), (left, top, right, bottom))

    def rounded(self, box: tuple[int, int, int, int], radius: int, fill: RGB,
                behind: RGB) -> None:
        """A rectangle with anti-aliased round corners over a background of colour ``behind``.

        Only the four corners go through a mask; the rest is two solid fills.
        """
        left, top, right, bottom = box
        width, height = right - left, bottom - top
        if width <= 0 or height <= 0:
            return
        r = min(radius, width // 2, height // 2)
        index = self.palette.solid(fill)
        self.image.paste(index, (left + r, top, right - r, bottom))
        self.image.paste(index, (left, top + r, right, bottom - r))
        if r > 0:
            ramp = self.palette.ramp(fill, behind)
            spots = ((left, top), (right - r, top), (left, bottom - r), (right - r, bottom - r))
            for corner, spot in zip(_corners(r), spots, strict=True):
                self._paint(corner, spot, ramp)

    # -- text and pictures -----------------------------------------------------------------

    def text(self, stack: FontStack, size: int, text: str, x: float, baseline: float,
             fill: RGB, behind: RGB) -> None:
        """One line of text with its baseline at ``baseline``; ``x`` is the left edge."""
        if not text:
            return
        line = _line_mask(stack, size, text)
        self._paint(line.coverage, (round(x) - line.pad, round(baseline) - line.ascent),
                    self.palette.ramp(fill, behind))

    def coverage(self, mask: Any, x: int, y: int, fill: RGB, behind: RGB,
                 strength: float = 1.0) -> None:
        """Any coverage mask (L) in ``fill`` over ``behind``; ``strength`` < 1 lets it show
        through, like the ink of a seal."""
        self._paint(Coverage.of(mask), (x, y), self.palette.ramp(fill, behind, strength))

    def two_colour(self, picture: Any, x: int, y: int, dark: RGB, light: RGB) -> None:
        """A 1-bit picture (the QR code): black pixels in ``dark``, white in ``light``."""
        table = [self.palette.solid(dark)] * 128 + [self.palette.solid(light)] * 128
        self.image.paste(picture.convert("L").point(table), (x, y))

    def _paint(self, coverage: Coverage, spot: tuple[int, int], ramp: int | list[int]) -> None:
        if isinstance(ramp, int):
            base = Image.new("L", coverage.levels.size, ramp)
            indices = ImageChops.add(coverage.levels, base)
        else:
            indices = coverage.levels.point(ramp)
        self.image.paste(indices, spot, coverage.ink)

    # -- output ----------------------------------------------------------------------------

    def png(self, dpi: int | None = None) -> bytes:
        self.image.putpalette(self.palette.flat())
        return png.encode(self.image, dpi)


@lru_cache(maxsize=64)
def _corner(radius: int) -> Any:
    """An anti-aliased quarter disc (top-left corner) of ``radius`` px, as an L mask."""
    big = Image.new("L", (radius * SUPERSAMPLE * 2, radius * SUPERSAMPLE * 2), 0)
    ImageDraw.Draw(big).ellipse((0, 0, big.width - 1, big.height - 1), fill=255)
    disc = big.resize((radius * 2, radius * 2), Image.Resampling.BOX)
    return disc.crop((0, 0, radius, radius))


@lru_cache(maxsize=64)
def _corners(radius: int) -> tuple[Coverage, Coverage, Coverage, Coverage]:
    """Top-left, top-right, bottom-left and bottom-right corners."""
    corner = _corner(radius)
    return (Coverage.of(corner), Coverage.of(corner.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
            Coverage.of(corner.transpose(Image.Transpose.FLIP_TOP_BOTTOM)),
            Coverage.of(corner.transpose(Image.Transpose.ROTATE_180)))


@lru_cache(maxsize=1024)
def _line_mask(stack: FontStack, size: int, text: str) -> Line:
    """The coverage mask of one line, put together from cached glyphs.

    Glyphs are placed at the advances the line breaker measured, so what was measured is
    exactly what is drawn. Cached (a few MB at most): the two card sizes share most of their
    lines, and labels repeat across notices.
    """
    face = stack.face(size)
    pad = max(2, size // 8)
    width = int(face.measure(text)) + 2 * pad + 1
    mask = Image.new("L", (width, face.line_box), 0)
    x = float(pad)
    for char in text:
        glyph, left, top = _glyph(stack, size, char)
        if glyph is not None:
            mask.paste(glyph, (round(x) + left, face.ascent + top), glyph)
        x += face.char_width(char)
    # Only the rows that hold ink: pasting empty rows costs time on every card.
    box = mask.getbbox()
    if box is None:
        return Line(Coverage.of(mask.crop((0, 0, 1, 1))), 0, 0)
    return Line(Coverage.of(mask.crop((0, box[1], width, box[3]))), face.ascent - box[1], pad)


@lru_cache(maxsize=8192)
def _glyph(stack: FontStack, size: int, char: str) -> tuple[Any, int, int]:
    """One character's coverage, cropped to its ink, and its offset from the pen position on
    the baseline. FreeType renders each glyph once per process, not once per line."""
    face = stack.face(size)
    font = face.fonts[stack.font_index(char) or 0]
    pad = size
    canvas = Image.new("L", (size * 3, face.line_box + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad, pad + face.ascent), char, font=font, fill=255,
                                anchor="ls")
    box = canvas.getbbox()
    if box is None:
        return None, 0, 0
    return canvas.crop(box), box[0] - pad, box[1] - pad - face.ascent
