"""font_cmap reads the same characters out of a font as fontTools does.

Fonts are built here with fontTools (one with a format 4 cmap only, one with format 12 too),
and the installed CJK collections the card uses are checked face by face.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from pipeline.errors import RenderError
from pipeline.fonts import find_font
from pipeline.renderers import font_cmap

# Characters across the Basic Multilingual Plane and beyond it, with gaps between them.
CHARACTERS = [*"AZaz09", *"公示马祖村扶贫资金", "，", "。", "\u3000", "€",
              "\U00020000", "\U0001F600"]


def built_font(path: Path, characters: list[str]) -> Path:
    names = [".notdef", *(f"g{number}" for number in range(len(characters)))]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): name for c, name in zip(characters, names[1:],
                                                                strict=True)})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 500))
    pen.lineTo((500, 0))
    pen.closePath()
    glyph = pen.glyph()
    builder.setupGlyf({name: glyph for name in names})
    builder.setupHorizontalMetrics({name: (600, 0) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path


def test_a_bmp_font_is_read_from_its_format_4_table(tmp_path: Path) -> None:
    bmp = [c for c in CHARACTERS if ord(c) <= 0xFFFF]
    font = built_font(tmp_path / "bmp.ttf", bmp)
    assert font_cmap._read(font, 0) == {ord(c) for c in bmp}
    assert font_cmap.codepoints(font) == font_cmap._with_fonttools(font, 0)


def test_a_font_beyond_the_bmp_is_read_from_its_format_12_table(tmp_path: Path) -> None:
    font = built_font(tmp_path / "full.ttf", CHARACTERS)
    assert font_cmap._read(font, 0) == {ord(c) for c in CHARACTERS}
    assert font_cmap.codepoints(font) == font_cmap._with_fonttools(font, 0)


def test_a_font_without_a_cmap_table_is_not_guessed_at(tmp_path: Path) -> None:
    font = built_font(tmp_path / "full.ttf", CHARACTERS)
    data = bytearray(font.read_bytes())
    tag = data.index(b"cmap", 12)  # in the table directory
    data[tag:tag + 4] = b"cmaq"
    renamed = tmp_path / "renamed.ttf"
    renamed.write_bytes(bytes(data))
    with pytest.raises(font_cmap.UnsupportedCmap, match="no cmap table"):
        font_cmap._read(renamed, 0)


def test_what_it_does_not_parse_is_left_to_fonttools(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    font = built_font(tmp_path / "full.ttf", CHARACTERS)

    def unsupported(path: Path, index: int) -> frozenset[int]:
        raise font_cmap.UnsupportedCmap("cmap format 14")

    monkeypatch.setattr(font_cmap, "_read", unsupported)
    assert font_cmap.codepoints(font) == {ord(c) for c in CHARACTERS}


@pytest.mark.parametrize("family", ["Noto Sans CJK SC", "Noto Serif CJK SC"])
@pytest.mark.parametrize("style", ["Regular", "Bold"])
def test_the_installed_cjk_faces_read_as_fonttools_reads_them(family: str, style: str) -> None:
    try:
        font = find_font(family, style)
    except RenderError as exc:
        pytest.skip(f"{family} {style} is not installed (.ci/system-deps installs it): {exc}")
    mine = font_cmap._read(font.path, font.index)
    assert len(mine) > 40_000
    assert mine == font_cmap._with_fonttools(font.path, font.index)
