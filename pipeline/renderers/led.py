"""The LED strip: the playlist drawn one bit deep at panel height, and its GIF preview.

A P10 module lights a pixel or does not, so the strip is drawn without anti-aliasing
(``ImageDraw.fontmode = "1"``): what the PNG shows is what the panel shows. Which font and size
stay legible at 16 or 32 px is a design decision, kept in ``templates/ticker/led.yaml`` so that
an office can override it like any template.

Geometry of one loop (all in panel pixels)::

    | lead (panel_width, blank) | line 1 | gap | line 2 | gap | ... | line n |
    0                                                                    width

A controller shows the window ``[x, x + panel_width)`` of the strip, read cyclically, and moves
``x`` by ``speed_px_per_s``. The blank lead makes the loop start on an empty panel, the text
enter from the right and the last line leave to the left before the first comes back. One loop
is ``width`` pixels of travel and lasts ``width / speed_px_per_s`` seconds.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from PIL import Image, ImageDraw, ImageFont

from pipeline.errors import RenderError
from pipeline.fonts import pil_font

# The ink of an ordinary line: Han, full-width brackets, digits and capitals. It is centred on
# the panel; rarer glyphs that overshoot it (全, ；, g) are nudged back inside one by one.
REFERENCE_INK = "国【】（）0123456789ABC"
# A private-use character no font maps: it draws the font's "missing glyph" box.
_NOT_A_CHARACTER = "\ue000"
PREVIEW_TARGET_FPS = 16.0  # smooth enough to judge legibility, small enough to look at


@dataclass(frozen=True)
class LedFontSpec:
    """The font for one panel height, from templates/ticker/led.yaml."""

    family: str
    style: str
    size: int


def parse_font_specs(text: str, source: str = "ticker/led.yaml") -> dict[int, LedFontSpec]:
    """``{panel height: font}`` from the YAML text of led.yaml."""
    try:
        data = yaml.safe_load(text)
        fonts = data["fonts"]
        return {int(height): LedFontSpec(str(spec["family"]), str(spec.get("style", "Regular")),
                                         int(spec["size"]))
                for height, spec in fonts.items()}
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = " ".join(str(exc).split())  # YAML errors span lines; ours are one line
        raise RenderError(None, f"templates/{source}: expected 'fonts:' mapping panel heights "
                                f"to family/style/size ({detail})") from None


@dataclass(frozen=True)
class LedFace:
    """A font placed on a panel.

    ``y_offset`` moves the drawing origin so that the typical ink (``REFERENCE_INK``) is
    centred on the rows. A glyph that still reaches outside them (the top of 全, the tail of
    ；) is nudged up or down by the rows it lacks, as a hand-made LED bitmap font would draw
    it: a glyph one row off the line reads better than a glyph missing a row.
    """

    font: ImageFont.FreeTypeFont
    height: int
    y_offset: int
    # One size smaller, for the rare glyph taller than the panel at the chosen size (勭 at 15 px).
    smaller: ImageFont.FreeTypeFont

    @cache  # noqa: B019 -- faces are few and live as long as the process anyway
    def placement(self, char: str) -> tuple[ImageFont.FreeTypeFont, int]:
        """The font for ``char`` and the y of its drawing origin that keeps its ink on the panel.

        The origin is the face's ``y_offset``, nudged up or down by the rows the glyph lacks.
        """
        font = self.font
        _, top, _, bottom = font.getbbox(char, mode="1")
        if bottom - top > self.height:
            font = self.smaller
            _, top, _, bottom = font.getbbox(char, mode="1")
        y = self.y_offset
        if top + y < 0:
            y = -top
        elif bottom + y > self.height:
            y = max(self.height - bottom, -top)  # never push the top off instead
        return font, y

    def nudge(self, char: str) -> int:
        """Rows ``char`` is moved down (positive) or up (negative) from the common baseline."""
        return self.placement(char)[1] - self.y_offset

    def ink_rows(self, char: str) -> tuple[int, int]:
        """(top, bottom) rows of ``char``'s ink on the panel, as drawn; bottom is exclusive."""
        font, y = self.placement(char)
        _, top, _, bottom = font.getbbox(char, mode="1")
        return top + y, bottom + y

    def render(self, text: str, margin: int = 0) -> Image.Image:
        """``text`` one bit deep; the panel's rows are ``margin .. margin + height``.

        A margin shows ink that would fall outside the panel (tests use it); the strip uses 0.
        Runs of characters with the same placement are drawn together, each run at the
        advance of the face's size, so a nudged glyph keeps the rhythm of the line.
        """
        runs: list[tuple[str, ImageFont.FreeTypeFont, int]] = []
        for (font, y), group in itertools.groupby(text, key=self.placement):
            runs.append(("".join(group), font, y))
        advances = [self.font.getlength(run) for run, _, _ in runs]
        image = Image.new("1", (max(1, math.ceil(sum(advances))), self.height + 2 * margin), 0)
        draw = ImageDraw.Draw(image)
        draw.fontmode = "1"  # no anti-aliasing: a LED is on or off
        x = 0.0
        for (run, run_font, run_y), advance in zip(runs, advances, strict=True):
            draw.text((x, margin + run_y), run, font=run_font, fill=1)
            x += advance
        return image

    def bitmap(self, text: str) -> Image.Image:
        """``text`` drawn one bit deep on a panel-high strip as wide as its advance."""
        return self.render(text)

    def draws_glyph(self, char: str) -> bool:
        """Whether ``char`` draws ink that is not the font's missing-glyph box."""
        drawn = self.bitmap(char)
        if drawn.getbbox() is None:
            return False
        return drawn.tobytes() != self.bitmap(_NOT_A_CHARACTER).tobytes()


@cache
def led_face(spec: LedFontSpec, height: int) -> LedFace:
    font = pil_font(spec.family, spec.style, spec.size)
    assert isinstance(font, ImageFont.FreeTypeFont)
    _, top, _, bottom = font.getbbox(REFERENCE_INK, mode="1")
    if bottom - top > height:
        raise RenderError(None, f"LED font {spec.family} {spec.style} {spec.size}px draws "
                                f"{bottom - top} rows of ink, more than the {height}-px panel; "
                                "choose a smaller size in templates/ticker/led.yaml")
    smaller = pil_font(spec.family, spec.style, spec.size - 1)
    assert isinstance(smaller, ImageFont.FreeTypeFont)
    # Centre the reference ink vertically; the rows left over go above and below.
    return LedFace(font, height, (height - (bottom - top)) // 2 - top, smaller)


def face_for(specs: Mapping[int, LedFontSpec], height: int) -> LedFace:
    if height not in specs:
        known = ", ".join(str(h) for h in sorted(specs))
        raise RenderError(None, f"templates/ticker/led.yaml has no font for {height}-px panels "
                                f"(it has {known})")
    return led_face(specs[height], height)


@dataclass(frozen=True)
class StripLayout:
    """Where each line sits on the strip, in panel pixels."""

    width: int
    height: int
    lead_px: int
    gap_px: int
    spans: tuple[tuple[int, int], ...]  # (x, width) of each line

    def as_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "lead_px": self.lead_px,
                "gap_px": self.gap_px}


def render_strip(lines: Sequence[str], face: LedFace, panel_width: int) -> tuple[Image.Image,
                                                                                  StripLayout]:
    """The one-bit strip of ``lines`` (mode "1") and where each line is on it."""
    gap = 3 * face.height  # about three character widths between two lines
    # Lines are placed ink to ink (a 【 has its ink in the right half of its box), so the gaps
    # look even and no window but the first of a loop is blank: a GIF writer would merge
    # identical frames and the preview would lose its exact frame count.
    bitmaps = [_ink_columns(face.bitmap(line)) for line in lines]
    spans, x = [], panel_width
    for index, bitmap in enumerate(bitmaps):
        if index:
            x += gap
        spans.append((x, bitmap.width))
        x += bitmap.width
    strip = Image.new("1", (x, face.height), 0)
    for (left, _), bitmap in zip(spans, bitmaps, strict=True):
        strip.paste(bitmap, (left, 0))
    return strip, StripLayout(x, face.height, panel_width, gap, tuple(spans))


def _ink_columns(bitmap: Image.Image) -> Image.Image:
    box = bitmap.getbbox()
    if box is None:
        return bitmap
    return bitmap.crop((box[0], 0, box[2], bitmap.height))


def parse_color(color: str) -> tuple[int, int, int]:
    text = color.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        if len(text) != 6:
            raise ValueError(color)
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise RenderError(None, f"ticker.color {color!r} is not a colour; write it as "
                                "#rrggbb, e.g. #ff2000") from None


def coloured(strip: Image.Image, color: str) -> Image.Image:
    """The strip as a two-colour palette image: black, and the LED colour for lit pixels."""
    paletted = strip.convert("L").point(lambda v: 1 if v else 0).convert("P")
    paletted.putpalette([0, 0, 0, *parse_color(color)])
    return paletted


def png_bytes(strip: Image.Image, color: str) -> bytes:
    """A 1-bit PNG (two-entry palette), written byte-for-byte the same each time."""
    buffer = io.BytesIO()
    coloured(strip, color).save(buffer, format="PNG", bits=1, optimize=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class PreviewPlan:
    """How the GIF preview samples one loop.

    The preview covers ``covered_px = min(loop_px, floor(speed * max_s))`` pixels of travel:
    the whole loop, or its first ``max_s`` seconds when the loop is longer (an empty playlist
    covers 0 px: one blank frame). The window moves
    ``step_px = max(1, round(speed / PREVIEW_TARGET_FPS))`` panel pixels per frame, so

        frames = max(1, ceil(covered_px / step_px))

    GIF delays are whole centiseconds, so frame ``i`` lasts
    ``round(100 * (i + 1) * step_px / speed) - round(100 * i * step_px / speed)`` cs: the
    delays alternate (e.g. 6 and 7 cs) and the preview keeps the configured speed on average.
    """

    loop_px: int
    covered_px: int
    step_px: int
    speed_px_per_s: float

    @classmethod
    def for_loop(cls, loop_px: int, speed_px_per_s: float, max_s: float,
                 has_text: bool = True) -> PreviewPlan:
        step = max(1, round(speed_px_per_s / PREVIEW_TARGET_FPS))
        covered = min(loop_px, math.floor(speed_px_per_s * max_s)) if has_text else 0
        return cls(loop_px, covered, step, speed_px_per_s)

    @property
    def frames(self) -> int:
        return max(1, math.ceil(self.covered_px / self.step_px))

    @property
    def whole_loop(self) -> bool:
        return self.covered_px >= self.loop_px

    def delays_cs(self) -> list[int]:
        ticks = [round(100 * i * self.step_px / self.speed_px_per_s)
                 for i in range(self.frames + 1)]
        return [max(1, b - a) for a, b in itertools.pairwise(ticks)]

    def as_json(self) -> dict[str, Any]:
        return {"frames": self.frames, "step_px": self.step_px,
                "fps": round(self.speed_px_per_s / self.step_px, 3),
                "covered_px": self.covered_px, "whole_loop": self.whole_loop}


# Pixels in all the frames of a preview GIF together: Pillow holds every frame while it
# writes the file, so a wide panel at a large scale would need gigabytes. The default panel
# (192 x 16 at scale 4) stays far below; a wider one is previewed smaller, then more coarsely.
PREVIEW_BUDGET_PX = 128 * 1024 * 1024


def fit_preview(plan: PreviewPlan, panel_width: int, panel_height: int, scale: int
                ) -> tuple[PreviewPlan, int]:
    """The plan and scale of a preview within ``PREVIEW_BUDGET_PX``: first a smaller scale,
    then fewer frames (a larger step, the same speed)."""
    frame_px = panel_width * panel_height
    while scale > 1 and plan.frames * frame_px * scale * scale > PREVIEW_BUDGET_PX:
        scale -= 1
    most_frames = max(1, PREVIEW_BUDGET_PX // (frame_px * scale * scale))
    if plan.frames > most_frames:
        step = math.ceil(plan.covered_px / most_frames)
        plan = PreviewPlan(plan.loop_px, plan.covered_px, step, plan.speed_px_per_s)
    return plan, scale


def gif_bytes(strip: Image.Image, color: str, panel_width: int, plan: PreviewPlan,
              scale: int) -> bytes:
    """The panel's view of one loop, ``scale`` times larger, as an endlessly looping GIF."""
    height = strip.height
    plan, scale = fit_preview(plan, panel_width, height, scale)
    # Read the strip cyclically: append its first panel width so every window is one crop.
    cyclic = Image.new("1", (strip.width + panel_width, height), 0)
    cyclic.paste(strip, (0, 0))
    cyclic.paste(strip.crop((0, 0, min(panel_width, strip.width), height)), (strip.width, 0))
    big = coloured(cyclic, color).resize((cyclic.width * scale, height * scale),
                                         Image.Resampling.NEAREST)
    frames = [big.crop((i * plan.step_px * scale, 0, (i * plan.step_px + panel_width) * scale,
                        height * scale))
              for i in range(plan.frames)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=[d * 10 for d in plan.delays_cs()], disposal=1, optimize=False)
    return buffer.getvalue()
