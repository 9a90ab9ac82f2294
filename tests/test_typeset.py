"""Chinese line breaking, fitting and glyph coverage, measured with the real CJK fonts."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.renderers.typeset import (
    CLOSING,
    ELLIPSIS,
    OPENING,
    Face,
    FontStack,
    break_lines,
    cover,
    fit,
    size_steps,
    truncate_line,
    units,
)

SIZE = 40
STACK = FontStack(("Noto Sans CJK SC", "DejaVu Sans"), "Regular")


@pytest.fixture(scope="module")
def face() -> Face:
    try:
        return STACK.face(SIZE)
    except Exception as exc:  # fonts-noto-cjk missing: say so instead of failing obscurely
        pytest.skip(f"CJK fonts are not installed: {exc}")


# -- generated text ------------------------------------------------------------------------

HANZI = st.sampled_from(list("扶贫资金项目公示村镇道路硬化工程实施单位政府监督电话举报"))
CLOSERS = st.sampled_from(sorted("，。、；：？！）」』》】…%"))
OPENERS = st.sampled_from(sorted("（「『《【“"))
LATIN = st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True)
NUMBER = st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,2})?", fullmatch=True)


@st.composite
def tokens(draw: st.DrawFn) -> str:
    """A word as notices have them: maybe an opening mark, a core, maybe a closing mark."""
    core = draw(st.one_of(HANZI, HANZI, HANZI, LATIN, NUMBER))
    before = draw(st.one_of(st.just(""), OPENERS)) if draw(st.booleans()) else ""
    after = draw(st.one_of(st.just(""), CLOSERS)) if draw(st.booleans()) else ""
    spaced = " " if core[0].isascii() and draw(st.booleans()) else ""
    return f"{spaced}{before}{core}{after}"


texts = st.lists(tokens(), min_size=1, max_size=60).map("".join)
widths = st.integers(min_value=8 * SIZE, max_value=24 * SIZE)


def _visible(text: str) -> str:
    return re.sub(r"\s+", "", text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, width=widths)
def test_breaking_keeps_kinsoku_loses_nothing_and_never_overflows(face: Face, text: str,
                                                                  width: int) -> None:
    # Words and numbers (with the marks glued to them) that fit on a line; a longer one is
    # split by necessity, which has its own test below.
    assume(all(face.measure(w) <= width / 2 for w in re.findall(r"[A-Za-z0-9.]+", text)))
    lines = break_lines(text, width, face.measure)
    # No text lost: only the spaces where a line broke are dropped.
    assert _visible("".join(lines)) == _visible(text)
    for line in lines:
        assert line and line == line.strip()
        # Measured as the font shapes the whole line, not as the breaker summed it.
        assert face.fonts[0].getlength(line) <= width + 0.5
    # Kinsoku: nothing closing starts a line, nothing opening ends one.
    for line in lines[1:]:
        assert line[0] not in CLOSING, (lines, text)
    for line in lines[:-1]:
        assert line[-1] not in OPENING, (lines, text)
    # Latin words and numbers are whole on one line.
    for word in re.findall(r"[A-Za-z0-9]+(?:\.[0-9]+)?", text):
        assert any(word in line for line in lines), (word, lines)


@settings(max_examples=60, deadline=None)
@given(text=texts, width=widths, lines=st.integers(min_value=1, max_value=4))
def test_fit_never_overflows_and_marks_what_it_cut(face: Face, text: str, width: int,
                                                   lines: int) -> None:
    fitted = fit(text, STACK, width, lines, size_steps(SIZE + 12, SIZE, 4))
    assert len(fitted.lines) <= lines
    for line in fitted.lines:
        assert fitted.face.fonts[0].getlength(line) <= width + 0.5
    shown = _visible("".join(fitted.lines))
    if fitted.truncated:
        assert fitted.face.size == SIZE  # it shrank all the way before cutting
        assert shown.endswith(ELLIPSIS)
        assert _visible(text).startswith(shown[: -len(ELLIPSIS)].rstrip("，、；：,;:"))
    else:
        assert shown == _visible(text)


def test_closing_punctuation_is_pushed_down_with_its_character(face: Face) -> None:
    # Ten characters fit exactly; the comma after the tenth must not start line two.
    text = "一二三四五六七八九十，十一"
    lines = break_lines(text, face.measure("一二三四五六七八九十"), face.measure)
    assert lines == ["一二三四五六七八九", "十，十一"]


def test_opening_bracket_never_ends_a_line(face: Face) -> None:
    text = "一二三四五六七八九（十）"
    lines = break_lines(text, face.measure("一二三四五六七八九十"), face.measure)
    assert lines[0] == "一二三四五六七八九"
    assert lines[1].startswith("（")


def test_numbers_and_their_units_stay_together(face: Face) -> None:
    assert "68.5万" in units("总投资68.5万元")
    assert "0838-8202012" in units("电话0838-8202012")
    text = "马祖村产业道路硬化工程总投资68.5万元"
    for width in range(6 * SIZE, 20 * SIZE, SIZE // 2):
        lines = break_lines(text, width, face.measure)
        assert any("68.5万" in line for line in lines)


def test_an_over_long_word_is_split_but_never_overflows(face: Face) -> None:
    url = "https://gongshi.example.gov.cn/notices/sf-2018-0012/"
    width = face.measure("https://gongshi")
    lines = break_lines(url, width, face.measure)
    assert "".join(lines) == url
    assert all(face.measure(line) <= width for line in lines)


def test_shrink_first_then_ellipsis(face: Face) -> None:
    title = "关于广安市广安区大龙镇永和村2018年度财政专项扶贫资金扶持建档立卡贫困户发展晚熟柑橘产业"
    width = 20 * 50
    medium = fit(title, STACK, width, 3, size_steps(76, 44, 4))
    assert not medium.truncated and medium.face.size < 76  # shrank, no cut needed
    tight = fit(title * 3, STACK, width, 2, size_steps(76, 56, 4))
    assert tight.truncated and tight.face.size == 56
    assert tight.lines[-1].endswith(ELLIPSIS)
    assert not tight.lines[-1][:-1].endswith(tuple("，、（"))


def test_truncation_never_cuts_inside_a_number(face: Face) -> None:
    line = "总投资123456.75万元"
    for chars in range(4, 12):
        cut = truncate_line(line, face.measure(line[:chars]) + face.measure(ELLIPSIS),
                            face.measure)
        body = cut[: -len(ELLIPSIS)]
        assert "123456.75" in body or not re.search(r"[0-9]", body), cut


def test_fallback_font_draws_what_the_main_font_lacks(face: Face) -> None:
    if len(STACK.installed) < 2:
        pytest.skip("the fallback font (DejaVu Sans, fonts-dejavu-core) is not installed")
    assert STACK.font_index("马") == 0
    lacking = next((c for c in "😀♔⚑" if STACK.font_index(c) == 1), None)
    assert lacking is not None, "expected DejaVu Sans to cover a symbol Noto CJK lacks"
    text, missing = cover(f"公示{lacking}", [STACK], "title")
    assert text == f"公示{lacking}" and missing == []
    assert face.runs(f"公示{lacking}") == [(0, "公示"), (1, lacking)]


def test_a_character_no_font_has_is_replaced_and_reported() -> None:
    rare = "\U0002A6A5"  # 𪚥, CJK Extension B: not in Noto Sans CJK SC nor DejaVu Sans
    if STACK.font_index(rare) is not None:
        pytest.skip("an installed font has U+2A6A5 after all")
    text, missing = cover(f"村民{rare}某", [STACK], "title")
    assert text == "村民〓某"
    assert [(m.char, m.codepoint, m.field) for m in missing] == [(rare, "U+2A6A5", "title")]
