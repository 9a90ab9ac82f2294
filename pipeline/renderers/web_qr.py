"""The QR code on each notice page, as a small inline SVG.

The shared ``qr.svg`` takes ~14 ms a code: qrcode tries all eight mask patterns and scores
each, then builds an SVG through its image classes. Ten thousand pages would spend most of a
build there. Here the mask is fixed (the standard lets an encoder use any of the eight; the
score only makes a code slightly easier to read, and the quiet zone and error correction M of
``qr.py`` are kept), and the SVG is one path written from the module matrix, with one
rectangle per run of dark modules: ~1.5 ms a code, and about a third of the bytes.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

import qrcode

from pipeline.renderers.qr import ERROR_CORRECTION, QUIET_ZONE

FIXED_MASK = 2


@lru_cache(maxsize=1024)
def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE,
                         mask_pattern=FIXED_MASK)
    code.add_data(url)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def qr_svg(url: str, label: str = "本页二维码") -> str:
    rows = qr_matrix(url)
    size = len(rows)
    path: list[str] = []
    for y, row in enumerate(rows):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                path.append(f"M{start} {y}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" '
            f'aria-label="{escape(label)}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(path)}"/></svg>')
