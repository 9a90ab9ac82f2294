"""The QR code on each notice page, as a small inline SVG, made fast enough for 10,000 pages.

The shared ``qr.svg`` takes 7-14 ms a code (qrcode scores all eight mask patterns, computes
Reed-Solomon codes with a general polynomial class, and builds the SVG through its image
classes); ten thousand pages would spend most of a build there. This module keeps what
matters from ``qr.py`` (error correction M, the 4-module quiet zone) and makes the rest cheap:

* byte mode, one segment: a URL is ASCII, and one mode keeps the encoder short;
* a fixed mask pattern: the standard lets an encoder use any of the eight (the penalty score
  only picks the one that is a little easier to read), and a decoder reads the mask from the
  format bits;
* the function patterns and the order of the data modules are computed once per version (with
  qrcode's own code), so placing a code is one loop over precomputed positions;
* Reed-Solomon with log/antilog tables.

A test checks that every module is identical to qrcode's output for the same input, mask and
version, and that a decoder reads it back.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from html import escape

import qrcode
import qrcode.util
from qrcode.base import rs_blocks

from pipeline.renderers.qr import ERROR_CORRECTION, QUIET_ZONE

FIXED_MASK = 2
MAX_VERSION = 40

# GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _i in range(255):
    _EXP[_i] = _value
    _LOG[_value] = _i
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


@cache
def _generator(degree: int) -> tuple[int, ...]:
    """Coefficients (highest first, leading 1 dropped) of prod (x - a^i), i < degree."""
    poly = [1]
    for i in range(degree):
        nxt = [0] * (len(poly) + 1)
        for j, coef in enumerate(poly):
            nxt[j] ^= coef
            if coef:
                nxt[j + 1] ^= _EXP[_LOG[coef] + i]
        poly = nxt
    return tuple(poly[1:])


@cache
def _products(degree: int) -> tuple[tuple[int, ...], ...]:
    """For each byte value f, f times each generator coefficient: the LFSR's feedback rows."""
    logs = [_LOG[g] for g in _generator(degree)]  # generator coefficients are never 0
    rows = [tuple([0] * degree)]
    rows += [tuple(_EXP[_LOG[f] + g] for g in logs) for f in range(1, 256)]
    return tuple(rows)


def _ec_codewords(data: list[int], degree: int) -> list[int]:
    """The remainder of data * x^degree divided by the generator (an LFSR, table-driven)."""
    products = _products(degree)
    remainder = [0] * degree
    for byte in data:
        row = products[byte ^ remainder[0]]
        remainder = [r ^ g for r, g in zip([*remainder[1:], 0], row, strict=True)]
    return remainder


@cache
def _blocks(version: int) -> tuple[tuple[int, int], ...]:
    """(total codewords, data codewords) of each Reed-Solomon block."""
    return tuple((b.total_count, b.data_count) for b in rs_blocks(version, ERROR_CORRECTION))


def _capacity_bits(version: int) -> int:
    return 8 * sum(data for _, data in _blocks(version))


def _count_bits(version: int) -> int:
    return 8 if version < 10 else 16


def _version_for(length: int) -> int:
    for version in range(1, MAX_VERSION + 1):
        if 4 + _count_bits(version) + 8 * length <= _capacity_bits(version):
            return version
    raise ValueError(f"{length} bytes do not fit in a QR code at error correction M")


def _codewords(payload: bytes, version: int) -> list[int]:
    """Data codewords with padding, then EC codewords, interleaved as the standard says."""
    # The bit stream as one integer: mode, count, payload, then terminator and byte padding.
    count_bits = _count_bits(version)
    capacity = _capacity_bits(version)
    value = (0b0100 << count_bits) | len(payload)
    value = (value << 8 * len(payload)) | int.from_bytes(payload, "big")
    used = 4 + count_bits + 8 * len(payload)
    terminator = min(4, capacity - used)
    used += terminator
    padding = -used % 8
    value <<= terminator + padding
    data = list(value.to_bytes((used + padding) // 8, "big"))
    pad = (0xEC, 0x11)
    data += [pad[i % 2] for i in range(capacity // 8 - len(data))]

    data_blocks: list[list[int]] = []
    ec_blocks: list[list[int]] = []
    offset = 0
    for total, count in _blocks(version):
        block = data[offset:offset + count]
        offset += count
        data_blocks.append(block)
        ec_blocks.append(_ec_codewords(block, total - count))
    out: list[int] = []
    for blocks in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in blocks)):
            out.extend(b[i] for b in blocks if i < len(b))
    return out


@cache
def _template(version: int) -> tuple[tuple[tuple[int | None, ...], ...],
                                     tuple[tuple[int, int, int], ...]]:
    """The function patterns of ``version`` (None: a data module) and the data module order.

    Both come from qrcode's own code, so the layout is exactly the library's.
    """
    code = qrcode.QRCode(version=version, error_correction=ERROR_CORRECTION,
                         mask_pattern=FIXED_MASK, border=0)
    size = code.modules_count = version * 4 + 17
    code.modules = [[None] * size for _ in range(size)]
    code.setup_position_probe_pattern(0, 0)
    code.setup_position_probe_pattern(size - 7, 0)
    code.setup_position_probe_pattern(0, size - 7)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    code.setup_type_info(False, FIXED_MASK)
    if version >= 7:
        code.setup_type_number(False)
    mask = qrcode.util.mask_func(FIXED_MASK)
    order: list[tuple[int, int, int]] = []
    row, step = size - 1, -1
    for col in range(size - 1, 0, -2):
        if col <= 6:
            col -= 1
        while True:
            for c in (col, col - 1):
                if code.modules[row][c] is None:
                    order.append((row, c, int(mask(row, c))))
            row += step
            if row < 0 or row >= size:
                row -= step
                step = -step
                break
    fixed = tuple(tuple(None if m is None else int(m) for m in r) for r in code.modules)
    return fixed, tuple(order)


_BITS = [tuple((byte >> i) & 1 for i in range(7, -1, -1)) for byte in range(256)]


def _modules(url: str) -> list[list[int]]:
    """The module matrix of ``url`` without the quiet zone, 1 for dark."""
    payload = url.encode("utf-8")
    version = _version_for(len(payload))
    fixed, order = _template(version)
    modules = [list(row) for row in fixed]
    bits = [bit for byte in _codewords(payload, version) for bit in _BITS[byte]]
    bits += [0] * (len(order) - len(bits))  # remainder bits
    for (row, col, masked), bit in zip(order, bits, strict=True):
        modules[row][col] = bit ^ masked
    return modules


@lru_cache(maxsize=256)
def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The module matrix of ``url``, quiet zone included (True is dark), like ``qr.matrix``."""
    edge = [False] * QUIET_ZONE
    body = [tuple(edge + [bool(m) for m in row] + edge) for row in _modules(url)]
    blank = tuple([False] * len(body[0]))
    return (blank,) * QUIET_ZONE + tuple(body) + (blank,) * QUIET_ZONE


_DARK_RUN = re.compile(rb"\x01+")


def qr_svg(url: str, label: str = "本页二维码") -> str:
    """One stroked path, one horizontal segment per run of dark modules; scales with CSS."""
    modules = _modules(url)
    size = len(modules) + 2 * QUIET_ZONE
    path: list[str] = []
    for y, row in enumerate(modules, start=QUIET_ZONE):
        for run in _DARK_RUN.finditer(bytes(row)):
            start, end = run.span()
            path.append(f"M{start + QUIET_ZONE} {y}.5h{end - start}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" '
            f'aria-label="{escape(label)}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path stroke="#000" stroke-width="1" d="{"".join(path)}"/></svg>')
