"""A drawing surface for the card that knows its own palette, so the PNG can be small and fast.

The card is flat design: a dozen solid colours, and anti-aliased text or rounded edges, each a
blend of one foreground over one known background. The canvas records every colour it fills
and every (foreground, background) pair it blends, and at the end maps the image onto exactly
that palette: the solid colours plus a 16-step ramp per pair. That is visually lossless here
(16 anti-aliasing levels are what FreeType's coverage looks like at these sizes) and gives an
8-bit palette PNG: a third of the RGB file's size and about five times faster to compress.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw

from pipeline.renderers.typeset import FontStack

RGB = tuple[int, int, int]

# Measured on the demo cards (1080x1920, palette image): level 1 is ~8 ms and ~130 kB; level 3
# ~10 ms and ~120 kB; level 6 ~25 ms and ~100 kB; level 9 ~200 ms. Level 3 keeps the card well
# inside its time budget at a size that still forwards quickly on a weak mobile connection.
PNG_COMPRESS_LEVEL = 3
RAMP_STEPS = 16
SUPERSAMPLE = 4  # rounded corners are drawn 4x larger and scaled down, for smooth edges


def hex_rgb(value: str) -> RGB:
    text = value.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


class Canvas:
    def __init__(self, width: int, height: int, background: RGB) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width, height), background)
        self.draw = ImageDraw.Draw(self.image)
        self.solids: set[RGB] = {background}
        self.blends: set[tuple[RGB, RGB]] = set()

    # -- shapes ----------------------------------------------------------------------------

    def rect(self, box: tuple[int, int, int, int], fill: RGB) -> None:
        """A solid rectangle; ``box`` is (left, top, right, bottom), right and bottom excluded."""
        left, top, right, bottom = box
        if right > left and bottom > top:
            self.image.paste(fill, (left, top, right, bottom))
            self.solids.add(fill)

    def rounded(self, box: tuple[int, int, int, int], radius: int, fill: RGB,
                behind: RGB) -> None:
        """A rectangle with anti-aliased round corners over a background of colour ``behind``.

        Only the four corners go through a mask; the rest is two solid fills, which is what
        keeps a card-wide panel cheap.
        """
        left, top, right, bottom = box
        width, height = right - left, bottom - top
        if width <= 0 or height <= 0:
            return
        r = min(radius, width // 2, height // 2)
        self.image.paste(fill, (left + r, top, right - r, bottom))
        self.image.paste(fill, (left, top + r, right, bottom - r))
        if r > 0:
            corners = _corners(r)
            self.image.paste(fill, (left, top), corners[0])
            self.image.paste(fill, (right - r, top), corners[1])
            self.image.paste(fill, (left, bottom - r), corners[2])
            self.image.paste(fill, (right - r, bottom - r), corners[3])
        self.solids.add(fill)
        self.blends.add((fill, behind))

    def line(self, box: tuple[int, int, int, int], fill: RGB) -> None:
        self.rect(box, fill)

    # -- text ------------------------------------------------------------------------------

    def text(self, stack: FontStack, size: int, text: str, x: float, baseline: float,
             fill: RGB, behind: RGB) -> None:
        """One line of text with its baseline at ``baseline``; ``x`` is the left edge."""
        if not text:
            return
        mask, ascent, pad = _line_mask(stack, size, text)
        self.image.paste(fill, (round(x) - pad, round(baseline) - ascent), mask)
        self.solids.add(fill)
        self.blends.add((fill, behind))

    def paste(self, picture: Any, x: int, y: int, colours: tuple[RGB, ...]) -> None:
        """A finished picture (the QR code) made of the given colours only."""
        self.image.paste(picture, (x, y))
        self.solids.update(colours)

    def overlay(self, picture: Any, x: int, y: int, pairs: tuple[tuple[RGB, RGB], ...]) -> None:
        """An RGBA picture blended over the card (the withdrawal seal)."""
        self.image.paste(picture, (x, y), picture)
        for fill, behind in pairs:
            self.solids.add(fill)
            self.blends.add((fill, behind))

    # -- output ----------------------------------------------------------------------------

    def palette(self) -> list[RGB]:
        return list(_palette(frozenset(self.solids), frozenset(self.blends)))

    def png(self, dpi: int | None = None) -> bytes:
        reference = _reference(_palette(frozenset(self.solids), frozenset(self.blends)))
        # No dithering: every pixel already is (almost) one of these colours, and dither noise
        # would only make the file larger and the text fuzzier.
        indexed = self.image.quantize(palette=reference, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        options: dict[str, Any] = {"compress_level": PNG_COMPRESS_LEVEL}
        if dpi:
            options["dpi"] = (dpi, dpi)
        indexed.save(buffer, "PNG", **options)
        return buffer.getvalue()


@lru_cache(maxsize=64)
def _palette(solids: frozenset[RGB], blends: frozenset[tuple[RGB, RGB]]) -> tuple[RGB, ...]:
    """The solid colours, then a ramp from background to foreground for each blended pair.

    Cached: every card of a build uses nearly the same colours.
    """
    colours: list[RGB] = sorted(solids)
    pairs = sorted(blends)
    room = 256 - len(colours)
    steps = RAMP_STEPS
    if pairs and room // len(pairs) < steps - 1:
        steps = max(3, room // len(pairs) + 1)
    seen = set(colours)
    for fill, behind in pairs:
        for step in range(1, steps - 1):
            t = step / (steps - 1)
            r, g, b = (round(low + (high - low) * t)
                       for high, low in zip(fill, behind, strict=True))
            if (r, g, b) not in seen and len(colours) < 256:
                seen.add((r, g, b))
                colours.append((r, g, b))
    return tuple(colours)


@lru_cache(maxsize=64)
def _reference(colours: tuple[RGB, ...]) -> Any:
    """A 1x1 palette image that ``quantize`` maps onto."""
    reference = Image.new("P", (1, 1))
    flat = [channel for colour in colours for channel in colour]
    reference.putpalette(flat + flat[:3] * (256 - len(colours)))
    return reference


@lru_cache(maxsize=64)
def _corner(radius: int) -> Any:
    """An anti-aliased quarter disc (top-left corner) of ``radius`` px, as an L mask."""
    big = Image.new("L", (radius * SUPERSAMPLE * 2, radius * SUPERSAMPLE * 2), 0)
    ImageDraw.Draw(big).ellipse((0, 0, big.width - 1, big.height - 1), fill=255)
    disc = big.resize((radius * 2, radius * 2), Image.Resampling.BOX)
    return disc.crop((0, 0, radius, radius))


@lru_cache(maxsize=64)
def _corners(radius: int) -> tuple[Any, Any, Any, Any]:
    """Top-left, top-right, bottom-left and bottom-right corner masks."""
    corner = _corner(radius)
    return (corner, corner.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            corner.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
            corner.transpose(Image.Transpose.ROTATE_180))


@lru_cache(maxsize=256)
def _line_mask(stack: FontStack, size: int, text: str) -> tuple[Any, int, int]:
    """The coverage mask of one line, drawn run by run in the font that has each character.

    Cached: the two card sizes share most of their lines, and labels repeat across notices.
    Returns (mask, ascent, pad): the baseline is ``ascent`` px below the mask's top, and the
    mask has ``pad`` px to the left of the text for glyphs that overhang their advance.
    """
    face = stack.face(size)
    pad = max(2, size // 8)
    width = int(face.measure(text)) + 2 * pad + 1
    mask = Image.new("L", (width, face.line_box), 0)
    draw = ImageDraw.Draw(mask)
    x = float(pad)
    for index, run in face.runs(text):
        draw.text((x, face.ascent), run, font=face.fonts[index], fill=255, anchor="ls")
        x += face.measure(run)
    return mask, face.ascent, pad
