"""Chinese typesetting for pictures: glyph coverage, measured line breaking, fitting.

Pillow draws a string; it does not break lines, and it silently draws a .notdef box (tofu) for a
character its font lacks. This module does the rest, the way a Chinese typesetter would:

* **Coverage.** A ``FontStack`` is a primary family and its fallbacks. Before anything is
  measured, each character is given the first font whose cmap has it; a character no font has
  is replaced by a placeholder (〓, the printer's mark for a missing character) and reported, so
  the caller can raise a located warning instead of shipping tofu.
* **Breaking.** Lines break by measured advance widths, between CJK characters, at spaces and
  never inside a Latin word or a number (``C25``, ``68.5``, ``0838-8202012``). Kinsoku (禁则):
  closing punctuation (，。、；：？！）」』》…) never starts a line and opening punctuation
  (（「『《“) never ends one; the breaker achieves this by gluing them to their neighbour
  (推出, pushing the neighbour to the next line), so the rule holds by construction.
* **Fitting.** ``fit`` tries font sizes from large to small until the text fits in the allowed
  lines; at the smallest size it keeps what fits and ends with an ellipsis. Nothing is clipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pipeline.errors import RenderError
from pipeline.fonts import FontFile, find_font, pil_font
from pipeline.renderers import font_cmap

ELLIPSIS = "…"
PLACEHOLDER = "〓"  # 缺字符: the typesetter's mark for a character the type case lacks

# 行首禁则: may not start a line (closing brackets and quotes, pauses, stops, iteration marks).
CLOSING = frozenset(
    "，。、；：？！）」』》】〕〉〗〙］｝”’…‥·・〜～ー々〻ゝゞ％‰℃°"
    ",.;:?!)]}>%"
)
# 行尾禁则: may not end a line (opening brackets and quotes, currency signs before amounts).
OPENING = frozenset("（「『《【〔〈〖〘［｛“‘([{<￥$＄")

# An atom is the smallest piece a line may not be broken inside: a Latin word or number with
# its inner connectors (68.5, 0838-8202012, example.gov.cn), a run of dashes or ellipses
# (——, ……), a run of spaces, or any other single character.
_ATOM = re.compile(
    r"[A-Za-z0-9\u00C0-\u024F]+(?:[.,:/\-_@+&'?=#~%]+[A-Za-z0-9\u00C0-\u024F]+)*"
    r"|—+|…+|‥+|─+"
    r"|\s+"
    r"|.",
    re.S,
)


# Units and counters that stay with the number before them (7月 / 14日, never 7月14 / 日).
NUMBER_UNITS = frozenset("年月日时分秒万亿元角天户人组号个次条项米里吨亩斤岁")


def atoms(text: str) -> list[str]:
    return _ATOM.findall(text)


def _is_closing(atom: str) -> bool:
    return atom[0] in CLOSING and (len(atom) == 1 or atom[0] in "…‥")


def _is_opening(atom: str) -> bool:
    return len(atom) == 1 and atom in OPENING


def _glues_back(atom: str, previous: str) -> bool:
    """Whether ``atom`` must stay on the line of the unit before it."""
    if previous.isspace():
        return False
    return _is_closing(atom) or (atom in NUMBER_UNITS and previous[-1].isdigit())


def units(text: str) -> list[str]:
    """The text cut where a line may break: atoms with their kinsoku punctuation glued on."""
    result: list[str] = []
    opening = ""
    for atom in atoms(text):
        if atom.isspace():
            if opening:  # an opening bracket before a space: keep it with what came before
                result.append(opening)
                opening = ""
            result.append(atom)
        elif opening:
            opening += atom
            if not _is_opening(atom):
                result.append(opening)
                opening = ""
        elif _is_opening(atom):
            opening = atom
        elif result and _glues_back(atom, result[-1]):
            result[-1] += atom
        else:
            result.append(atom)
    if opening:
        result.append(opening)
    return result


Measure = Callable[[str], float]


def break_lines(text: str, width: float, measure: Measure) -> list[str]:
    """Greedy line breaking by measured width; spaces at a break are dropped.

    A unit wider than the whole line (a very long URL, say) is the only thing ever split inside,
    and then at character boundaries that still respect kinsoku where the characters allow it.
    """
    lines: list[str] = []
    line, used = "", 0.0
    space = ""
    for unit in units(text):
        if unit.isspace():
            space = unit if line else ""
            continue
        unit_width = measure(unit)
        gap = measure(space) if space else 0.0
        if line and used + gap + unit_width <= width:
            line, used = line + space + unit, used + gap + unit_width
        elif unit_width <= width:
            if line:
                lines.append(line)
            line, used = unit, unit_width
        else:
            if line:
                lines.append(line)
            pieces = _split_unit(unit, width, measure)
            lines.extend(pieces[:-1])
            line, used = pieces[-1], measure(pieces[-1])
        space = ""
    if line:
        lines.append(line)
    return lines


def _split_unit(unit: str, width: float, measure: Measure) -> list[str]:
    """Cut an over-wide unit at character boundaries, preferring kinsoku-clean cuts."""
    pieces: list[str] = []
    rest = unit
    while rest:
        end, used = 0, 0.0
        while end < len(rest) and used + measure(rest[end]) <= width:
            used += measure(rest[end])
            end += 1
        end = max(end, 1)  # a single character wider than the line still has to go somewhere
        cut = end
        # Move the cut left while it would start a line with a closing mark or end one with an
        # opening mark; keep the greedy cut if no clean one exists.
        while cut < len(rest) and cut > 1 and (
            rest[cut] in CLOSING or rest[cut - 1] in OPENING
        ):
            cut -= 1
        if cut < len(rest) and (rest[cut] in CLOSING or rest[cut - 1] in OPENING):
            cut = end
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces


def truncate_line(line: str, width: float, measure: Measure, ellipsis: str = ELLIPSIS) -> str:
    """``line`` shortened by whole units until it fits with ``ellipsis`` appended."""
    parts = units(line)
    while parts:
        candidate = "".join(parts).rstrip()
        # A pause or an opening mark right before the ellipsis reads badly: 道路，… -> 道路…
        candidate = candidate.rstrip("，、；：,;:（「『《【“‘([{")
        if candidate and measure(candidate + ellipsis) <= width:
            return candidate + ellipsis
        if len(parts) == 1:
            break
        parts.pop()
    # One unit wider than the line: cut it by characters.
    text = "".join(parts)
    while text and measure(text + ellipsis) > width:
        text = text[:-1]
    return text + ellipsis if measure(text + ellipsis) <= width else text


# -- fonts and coverage -----------------------------------------------------------------------

@cache
def _codepoints(font: FontFile) -> frozenset[int]:
    """The characters a font has glyphs for (its best cmap), read once per process."""
    return font_cmap.codepoints(font.path, font.index)


@dataclass(frozen=True)
class Missing:
    """A character that no font of the stack can draw, and the field it was in."""

    char: str
    field: str

    @property
    def codepoint(self) -> str:
        return f"U+{ord(self.char):04X}"


@dataclass(frozen=True)
class FontStack:
    """A primary family and its fallbacks, in one style ("Regular", "Bold")."""

    families: tuple[str, ...]
    style: str = "Regular"

    @property
    def installed(self) -> tuple[tuple[str, FontFile], ...]:
        """(family, file) of each family of the stack that is installed, in order."""
        return _stack_files(self.families, self.style)

    @property
    def description(self) -> str:
        return ", ".join(family for family, _ in self.installed)

    def font_index(self, char: str) -> int | None:
        """Which font of the stack draws ``char``: 0 is the primary; None: none of them."""
        return _font_index(self.families, self.style, char)

    def face(self, size: int) -> Face:
        return _face(self, size)


@cache
def _stack_files(families: tuple[str, ...], style: str) -> tuple[tuple[str, FontFile], ...]:
    files = []
    for number, family in enumerate(families):
        try:
            files.append((family, find_font(family, style)))
        except RenderError:
            if number == 0:
                raise  # without the primary font there is no card; the fallbacks are optional
    return tuple(files)


@cache
def _font_index(families: tuple[str, ...], style: str, char: str) -> int | None:
    for number, (_, font) in enumerate(_stack_files(families, style)):
        if ord(char) in _codepoints(font):
            return number
    return None


def cover(text: str, stacks: Iterable[FontStack], field_name: str,
          placeholder: str = PLACEHOLDER) -> tuple[str, list[Missing]]:
    """``text`` with characters that none of ``stacks`` can draw replaced by ``placeholder``.

    Every stack must have the character, because the same text may be drawn in more than one
    style (a title is bold on the card, regular in a list).
    """
    stacks = tuple(stacks)
    missing: list[Missing] = []
    out = []
    for char in text:
        if all(stack.font_index(char) is not None for stack in stacks):
            out.append(char)
            continue
        if not any(m.char == char for m in missing):
            missing.append(Missing(char, field_name))
        out.append(placeholder)
    return "".join(out), missing


@dataclass
class Face:
    """A font stack at one pixel size: measures text and draws it run by run."""

    stack: FontStack
    size: int
    fonts: tuple[Any, ...]  # Pillow FreeTypeFont, one per file of the stack
    ascent: int
    descent: int
    _widths: dict[str, float] = field(default_factory=dict)
    _lengths: dict[str, float] = field(default_factory=dict)

    def char_width(self, char: str) -> float:
        width = self._widths.get(char)
        if width is None:
            index = self.stack.font_index(char) or 0
            width = self._widths[char] = float(self.fonts[index].getlength(char))
        return width

    def measure(self, text: str) -> float:
        width = self._lengths.get(text)
        if width is None:
            width = sum(self.char_width(char) for char in text)
            if len(self._lengths) < 20000:  # labels and units recur; long lines rarely do
                self._lengths[text] = width
        return width

    def runs(self, text: str) -> list[tuple[int, str]]:
        """``text`` split into runs that one font draws: [(font index, text), ...]."""
        runs: list[tuple[int, str]] = []
        for char in text:
            index = self.stack.font_index(char) or 0
            if runs and runs[-1][0] == index:
                runs[-1] = (index, runs[-1][1] + char)
            else:
                runs.append((index, char))
        return runs

    @property
    def line_box(self) -> int:
        """Height that holds every glyph of the stack, ascender to descender."""
        return self.ascent + self.descent


@cache
def _face(stack: FontStack, size: int) -> Face:
    fonts = tuple(pil_font(family, stack.style, size) for family, _ in stack.installed)
    metrics = [font.getmetrics() for font in fonts]
    return Face(stack, size, fonts, max(m[0] for m in metrics), max(m[1] for m in metrics))


# -- fitting ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fitted:
    lines: tuple[str, ...]
    face: Face
    truncated: bool


def fit(text: str, stack: FontStack, width: float, max_lines: int,
        sizes: Sequence[int]) -> Fitted:
    """The largest of ``sizes`` at which ``text`` fits ``max_lines``; else the smallest, cut
    with an ellipsis after the last line that fits."""
    face = stack.face(sizes[-1])
    for size in sizes:
        face = stack.face(size)
        lines = break_lines(text, width, face.measure)
        if len(lines) <= max_lines:
            return Fitted(tuple(lines), face, False)
    lines = break_lines(text, width, face.measure)
    kept = lines[: max_lines - 1]
    rest = _rejoin(lines[max_lines - 1:])
    return Fitted((*kept, truncate_line(rest, width, face.measure)), face, True)


def _rejoin(lines: Sequence[str]) -> str:
    """Lines back into running text: the space dropped between two Latin words comes back."""
    text = ""
    for line in lines:
        if text and text[-1].isascii() and text[-1].isalnum() and line[:1].isascii() \
                and line[:1].isalnum():
            text += " "
        text += line
    return text


def size_steps(largest: int, smallest: int, step: int) -> list[int]:
    """[largest, largest - step, ..., smallest], always ending at ``smallest``."""
    sizes = list(range(largest, smallest, -max(step, 1)))
    return [*sizes, smallest] if smallest <= largest else [largest]
