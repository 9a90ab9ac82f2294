"""How a text is cut into SMS parts, exactly as 3GPP TS 23.038 / 23.040 count it.

* **GSM-7** when every character is in the GSM 7-bit default alphabet: the basic table costs
  one septet a character, the extension table (``^ { } \\ [ ] ~ | €`` and form feed) two (an
  ESC, then the character). 160 septets fit one message; a concatenated message carries a
  6-octet user data header, which leaves 153 septets a part.
* **UCS-2** as soon as one character is outside it (every Chinese text): 70 UTF-16 code units in
  one message, 67 a part. A character outside the BMP (most emoji) is a surrogate pair and
  costs two units; handsets decode the parts as UTF-16, so that is what they receive.

A cut never falls between the halves of a surrogate pair, between an ESC and its character (a
character is never split: it is one Python code point here), and never inside an extended
grapheme cluster (Unicode UAX #29 up to Unicode 15.0: combining marks, emoji ZWJ sequences,
skin tones, flags, keycaps, Hangul jamo, CR LF; the Indic conjunct rule GB9c of 15.1 is not
applied). Only a single cluster longer than a whole part (a "Zalgo" pile of marks) is cut
inside, because it cannot be sent otherwise. A caller may name spans to keep whole (a link, a
phone number): a cut that would fall inside one moves back to its start, unless the span
begins the part (then it is longer than a part, and is cut where it must be).

``segment`` is a pure function, quick enough for a whole subscriber run (and the benchmark of
100,000 mixed texts): it counts with regular expressions, finds each cut from the positions of
the two-unit characters alone, and decides the usual boundaries (between CJK, Latin or full-width
characters) without looking up a table.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)  # the 128 positions of the default alphabet, less 0x1B (ESC, the escape itself)
GSM7_EXTENSION = "\f^{}\\[~]|€"  # reached through ESC: two septets each

# (single message, per part of a concatenated message)
LIMITS: dict[str, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}

_NOT_GSM7 = re.compile("[^" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]")
_GSM7_EXTENSION = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Segmentation:
    """A text cut into SMS parts; ``"".join(parts) == text``."""

    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text
    parts: tuple[str, ...]
    part_units: tuple[int, ...]

    @property
    def segments(self) -> int:
        return len(self.parts)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def as_json(self) -> dict[str, Any]:
        """The shape `noticecast sms segment --json` prints."""
        return {"encoding": self.encoding, "units": self.units, "segments": self.segments,
                "parts": list(self.parts)}


_EMPTY = Segmentation("GSM-7", 0, (), ())


def encoding_of(text: str) -> Encoding:
    return "UCS-2" if _NOT_GSM7.search(text) else "GSM-7"


def units_of(text: str, encoding: Encoding | None = None) -> int:
    """Septets or UTF-16 units ``text`` costs in ``encoding`` (default: its own)."""
    if (encoding or encoding_of(text)) == "GSM-7":
        return len(text) + len(_GSM7_EXTENSION.findall(text))
    return len(text) + len(_ASTRAL.findall(text))


def segment(text: str, keep: Sequence[tuple[int, int]] = ()) -> Segmentation:
    """Cut ``text`` into the parts an SMS centre sends; see the module docstring.

    ``keep``: ``(start, end)`` spans of ``text``, in order and not overlapping, that no cut
    should fall inside when a part boundary can be moved back to their start.
    """
    encoding: Encoding = "UCS-2" if _NOT_GSM7.search(text) else "GSM-7"
    wide = _GSM7_EXTENSION if encoding == "GSM-7" else _ASTRAL
    single, per_part = LIMITS[encoding]
    # Characters that cost two units (extension characters, surrogate pairs), by position.
    wide_at = [match.start() for match in wide.finditer(text)] if wide.search(text) else []
    units = len(text) + len(wide_at)
    if units <= single:
        return Segmentation(encoding, units, (text,), (units,)) if text else _EMPTY
    wide_set = frozenset(wide_at)
    parts: list[str] = []
    sizes: list[int] = []
    start, end_of_text = 0, len(text)
    while start < end_of_text:
        end = _fill(start, per_part, end_of_text, wide_at, wide_set)
        if end < end_of_text:
            cut = end
            while cut > start and not is_grapheme_boundary(text, cut):
                cut -= 1
            if cut > start:  # else one cluster is longer than a part: cut it where it must
                end = cut
            if keep:
                end = _outside(keep, start, end)
        parts.append(text[start:end])
        sizes.append(end - start + bisect_left(wide_at, end) - bisect_left(wide_at, start))
        start = end
    return Segmentation(encoding, units, tuple(parts), tuple(sizes))


def _outside(keep: Sequence[tuple[int, int]], start: int, end: int) -> int:
    """``end``, or the start of the kept span it falls inside when that is after ``start``."""
    for low, high in keep:
        if low >= end:
            break
        if low < end < high and low > start:
            return low
    return end


def _fill(start: int, limit: int, length: int, wide_at: list[int],
          wide_set: frozenset[int]) -> int:
    """The furthest end such that ``text[start:end]`` costs at most ``limit`` units.

    Works on the positions of the two-unit characters only, so that a long text with a few
    of them costs a few bisections, not a walk over every character.
    """
    end = min(start + limit, length)
    if not wide_at:
        return end
    first = bisect_left(wide_at, start)
    used = end - start + bisect_left(wide_at, end) - first
    if used > limit:
        # Dropping k characters saves at least k units, so one step is enough...
        end -= used - limit
        used = end - start + bisect_left(wide_at, end) - first
        # ...but it may save too much where it dropped two-unit characters: take back.
        while end < length:
            step = 2 if end in wide_set else 1
            if used + step > limit:
                break
            end += 1
            used += step
    return end


# -- extended grapheme cluster boundaries (UAX #29) ---------------------------------------

# Grapheme_Cluster_Break values, as small ints for speed.
OTHER, CR, LF, CONTROL, EXTEND, ZWJ, RI, PREPEND, SPACING, L, V, T, LV, LVT = range(14)

_PREPEND = frozenset([
    *range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E, 0x110BD, 0x110CD,
    0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A, *range(0x11A84, 0x11A8A), 0x11D46,
])
# Extended_Pictographic, as ranges (emoji-data.txt, collapsed; unassigned code points in these
# blocks are reserved as pictographic by the standard too).
_PICTOGRAPHIC = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
    (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA), (0x231A, 0x231B), (0x2328, 0x2328),
    (0x2388, 0x2388), (0x23CF, 0x23CF), (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2),
    (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x27BF),
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
    (0x1F000, 0x1F0FF), (0x1F10D, 0x1F10F), (0x1F12F, 0x1F12F), (0x1F16C, 0x1F171),
    (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F1AD, 0x1F1E5),
    (0x1F201, 0x1F20F), (0x1F21A, 0x1F21A), (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A),
    (0x1F23C, 0x1F23F), (0x1F249, 0x1F3FA), (0x1F400, 0x1F53D), (0x1F546, 0x1F64F),
    (0x1F680, 0x1F6FF), (0x1F774, 0x1F77F), (0x1F7D5, 0x1F7FF), (0x1F80C, 0x1F80F),
    (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F), (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8FF),
    (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1FAFF), (0x1FC00, 0x1FFFD),
)


@lru_cache(maxsize=4096)
def break_property(char: str) -> int:
    """The Grapheme_Cluster_Break property of one code point (the values UAX #29 uses)."""
    cp = ord(char)
    if cp == 0x0D:
        return CR
    if cp == 0x0A:
        return LF
    if cp == 0x200D:
        return ZWJ
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return RI
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return T
    if 0xAC00 <= cp <= 0xD7A3:
        return LV if (cp - 0xAC00) % 28 == 0 else LVT
    if cp in _PREPEND:
        return PREPEND
    category = unicodedata.category(char)
    if (category in ("Mn", "Me") or cp == 0x200C or 0xFF9E <= cp <= 0xFF9F
            or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F):
        return EXTEND  # marks, ZWNJ, half-width sound marks, emoji skin tones, tag characters
    if category == "Mc" or cp in (0x0E33, 0x0EB3):
        return SPACING
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return CONTROL
    return OTHER


@lru_cache(maxsize=4096)
def is_pictographic(char: str) -> bool:
    cp = ord(char)
    return any(low <= cp <= high for low, high in _PICTOGRAPHIC)


def _plain(char: str) -> bool:
    """Latin, CJK and full-width characters, which neither extend nor are extended.

    (Controls are plain too: a cut is allowed on both sides of them, except inside CR LF.
    The ideographic tone marks U+302A-302F and the kana voicing marks U+3099-309A are not.)
    """
    return (char < "\u0300" or "\u3000" <= char < "\u302a" or "\u3030" <= char < "\u3099"
            or "\u309b" <= char < "\ua000" or "\uff00" <= char < "\uff9e")


def is_grapheme_boundary(text: str, index: int) -> bool:
    """Whether a cut between ``text[index - 1]`` and ``text[index]`` keeps clusters whole."""
    if index <= 0 or index >= len(text):
        return True
    before, after = text[index - 1], text[index]
    if _plain(before) and _plain(after):  # the common case, decided without a table
        return not (before == "\r" and after == "\n")
    if "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff":
        return False  # a surrogate pair that reached us as two code points
    left, right = break_property(before), break_property(after)
    if left == CR and right == LF:  # GB3
        return False
    if left in (CONTROL, CR, LF) or right in (CONTROL, CR, LF):  # GB4, GB5
        return True
    if left == L and right in (L, V, LV, LVT):  # GB6
        return False
    if left in (LV, V) and right in (V, T):  # GB7
        return False
    if left in (LVT, T) and right == T:  # GB8
        return False
    if right in (EXTEND, ZWJ, SPACING):  # GB9, GB9a
        return False
    if left == PREPEND:  # GB9b
        return False
    if left == ZWJ and is_pictographic(after):  # GB11: ExtPict Extend* ZWJ × ExtPict
        back = index - 2
        while back >= 0 and break_property(text[back]) == EXTEND:
            back -= 1
        return not (back >= 0 and is_pictographic(text[back]))
    if left == RI and right == RI:  # GB12, GB13: flags pair regional indicators
        count, back = 0, index - 1
        while back >= 0 and break_property(text[back]) == RI:
            count += 1
            back -= 1
        return count % 2 == 0
    return True  # GB999
