"""Which characters a font has glyphs for, read straight from the cmap table of its file.

The card checks every character against its fonts before drawing, so that a character no font
has becomes a located warning, not a tofu box. fontTools can answer that, but for the Noto CJK
collections it decompiles the whole cmap and the glyph order first: about half a second per
face, paid by every worker process before its first card. The answer needs only the cmap's
ranges, which this module reads with ``struct`` from a memory map of the file (formats 12 and
4, the ones fonts use for Unicode; anything else falls back to fontTools).
"""

from __future__ import annotations

import mmap
import struct
from itertools import chain
from pathlib import Path

# fontTools' getBestCmap() order: full Unicode first, then the Basic Multilingual Plane.
PREFERRED_SUBTABLES = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))


class UnsupportedCmap(Exception):
    """The file or its best cmap subtable is of a kind this reader does not parse."""


def codepoints(path: Path, index: int = 0) -> frozenset[int]:
    """The code points of face ``index`` of ``path`` (a .ttf/.otf, or a .ttc/.otc collection)
    that map to a glyph other than .notdef."""
    try:
        return _read(path, index)
    except (UnsupportedCmap, struct.error, IndexError):
        return _with_fonttools(path, index)


def _read(path: Path, index: int) -> frozenset[int]:
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        directory = 0
        if data[:4] == b"ttcf":
            count = struct.unpack_from(">I", data, 8)[0]
            if not 0 <= index < count:
                raise UnsupportedCmap(f"no face {index}")
            directory = struct.unpack_from(">I", data, 12 + 4 * index)[0]
        cmap = _table_offset(data, directory, b"cmap")
        subtable = _best_subtable(data, cmap)
        kind = struct.unpack_from(">H", data, subtable)[0]
        if kind == 12:
            return _format_12(data, subtable)
        if kind == 4:
            return _format_4(data, subtable)
        raise UnsupportedCmap(f"cmap format {kind}")


def _table_offset(data: mmap.mmap, directory: int, tag: bytes) -> int:
    count = struct.unpack_from(">H", data, directory + 4)[0]
    for record in range(directory + 12, directory + 12 + 16 * count, 16):
        if data[record:record + 4] == tag:
            return int(struct.unpack_from(">I", data, record + 8)[0])
    raise UnsupportedCmap(f"no {tag.decode()} table")


def _best_subtable(data: mmap.mmap, cmap: int) -> int:
    count = struct.unpack_from(">H", data, cmap + 2)[0]
    found = {}
    for platform, encoding, offset in struct.iter_unpack(
            ">HHI", data[cmap + 4:cmap + 4 + 8 * count]):
        found.setdefault((platform, encoding), cmap + offset)
    for key in PREFERRED_SUBTABLES:
        if key in found:
            return found[key]
    raise UnsupportedCmap("no Unicode cmap subtable")


def _format_12(data: mmap.mmap, at: int) -> frozenset[int]:
    groups = struct.unpack_from(">I", data, at + 12)[0]
    start = at + 16
    ranges = struct.iter_unpack(">III", data[start:start + 12 * groups])
    # A group mapped from glyph 0 has .notdef for its first character only.
    return frozenset(chain.from_iterable(
        range(first + (glyph == 0), last + 1) for first, last, glyph in ranges))


def _format_4(data: mmap.mmap, at: int) -> frozenset[int]:
    segments = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", data, at + 14)
    starts_at = at + 16 + 2 * segments
    starts = struct.unpack_from(f">{segments}H", data, starts_at)
    deltas = struct.unpack_from(f">{segments}h", data, starts_at + 2 * segments)
    range_offsets_at = starts_at + 4 * segments
    range_offsets = struct.unpack_from(f">{segments}H", data, range_offsets_at)
    found: set[int] = set()
    for segment, (first, last) in enumerate(zip(starts, ends, strict=True)):
        if first == 0xFFFF:
            continue
        offset = range_offsets[segment]
        for char in range(first, last + 1):
            if offset == 0:
                glyph = (char + deltas[segment]) & 0xFFFF
            else:
                # idRangeOffset counts from its own place in the file (the spec's pointer trick).
                where = range_offsets_at + 2 * segment + offset + 2 * (char - first)
                glyph = struct.unpack_from(">H", data, where)[0]
                glyph = (glyph + deltas[segment]) & 0xFFFF if glyph else 0
            if glyph:
                found.add(char)
    return frozenset(found)


def _with_fonttools(path: Path, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() in (".ttc", ".otc"):
        face = TTCollection(str(path), lazy=True)[index]
    else:
        face = TTFont(str(path), lazy=True, fontNumber=index)
    return frozenset(face.getBestCmap() or {})
