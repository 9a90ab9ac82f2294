"""The LED font: every character of the demo lines is drawn, legible and inside the panel."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_ticker import context

from pipeline.load import load_notices
from pipeline.project import Project
from pipeline.renderers.led import (
    LedFace,
    PreviewPlan,
    face_for,
    parse_color,
    parse_font_specs,
    render_strip,
)
from pipeline.renderers.ticker import TickerRenderer
from pipeline.templating import read_template_file

HEIGHTS = (16, 32)


@pytest.fixture(scope="module")
def demo_lines() -> list[str]:
    """The ticker line of every demo notice (on air today or not)."""
    root = Path(__file__).resolve().parent.parent
    project = Project.open(root, None)
    loaded = load_notices((project.content_dir,), project.config, project.root)
    assert loaded.notices, "the demo content has notices"
    ctx = context(today=date(2018, 7, 8))
    return [TickerRenderer().line(n, ctx) for n in loaded.notices]


def face(height: int) -> LedFace:
    ctx = context(panel_height=height)
    return face_for(parse_font_specs(read_template_file(ctx.templates, "ticker/led.yaml")),
                    height)


@pytest.mark.parametrize("height", HEIGHTS)
def test_every_character_has_a_glyph_inside_the_panel(height: int,
                                                      demo_lines: list[str]) -> None:
    led = face(height)
    characters = sorted({c for line in demo_lines for c in line if not c.isspace()})
    assert len(characters) > 100
    missing = [c for c in characters if not led.draws_glyph(c)]
    assert not missing, f"no glyph at {height} px for {''.join(missing)}"
    for char in characters:
        top, bottom = led.ink_rows(char)
        assert top >= 0 and bottom <= height, f"{char!r} inks rows {top}..{bottom}"


@pytest.mark.parametrize("height", HEIGHTS)
def test_no_row_of_a_demo_line_is_cut(height: int, demo_lines: list[str]) -> None:
    led = face(height)
    margin = height  # draw on a taller canvas too: ink outside the panel rows would be lost
    for line in demo_lines:
        tall = led.render(line, margin=margin)
        on_panel = led.bitmap(line)
        assert on_panel.height == height
        assert tall.getbbox() is not None
        assert tall.crop((0, margin, tall.width, margin + height)).tobytes() == \
            on_panel.tobytes()
        assert tall.crop((0, 0, tall.width, margin)).getbbox() is None, line
        assert tall.crop((0, margin + height, tall.width, tall.height)).getbbox() is None, line


@pytest.mark.parametrize("height", HEIGHTS)
def test_a_sample_of_all_han_characters_fits_too(height: int) -> None:
    led = face(height)
    for code in range(0x4E00, 0x9FA6, 97):  # every 97th: ~220 characters across the block
        top, bottom = led.ink_rows(chr(code))
        assert top >= 0 and bottom <= height, f"{chr(code)!r} inks rows {top}..{bottom}"
    # Nudged glyphs stay the exception: most characters sit on the common baseline.
    nudged = sum(1 for code in range(0x4E00, 0x9FA6, 97) if led.nudge(chr(code)))
    assert nudged < 0.2 * len(range(0x4E00, 0x9FA6, 97))


@pytest.mark.parametrize("height", HEIGHTS)
def test_distinct_characters_stay_distinct_without_anti_aliasing(
        height: int, demo_lines: list[str]) -> None:
    led = face(height)
    han = sorted({c for line in demo_lines for c in line if "\u4e00" <= c <= "\u9fff"})
    bitmaps = {led.bitmap(c).tobytes(): c for c in han}
    assert len(bitmaps) == len(han), "two characters draw the same pixels"


@pytest.mark.parametrize("height", HEIGHTS)
def test_strip_height_is_the_panel_height(height: int, demo_lines: list[str]) -> None:
    strip, layout = render_strip(demo_lines[:5], face(height), 192)
    assert strip.height == layout.height == height
    assert strip.mode == "1"
    assert layout.width == strip.width == layout.spans[-1][0] + layout.spans[-1][1]


def test_a_font_too_tall_for_the_panel_is_a_located_error() -> None:
    from pipeline.errors import RenderError

    specs = parse_font_specs("fonts:\n  16: {family: Noto Sans CJK SC, size: 24}\n")
    with pytest.raises(RenderError, match=r"more than the 16-px panel.*led.yaml"):
        face_for(specs, 16)
    with pytest.raises(RenderError, match="no font for 32-px panels"):
        face_for(specs, 32)


def test_bad_colours_and_plans() -> None:
    from pipeline.errors import RenderError

    assert parse_color("#f20") == (255, 34, 0)
    with pytest.raises(RenderError, match="not a colour"):
        parse_color("red")
    plan = PreviewPlan.for_loop(1000, 32.0, 600.0)
    assert plan.frames == 500 and sum(plan.delays_cs()) == round(100 * 1000 / 32)
