"""QR codes of canonical notice URLs, shared by the web page, the card and the newspaper block.

Error correction M (15 %) survives a forwarded, re-compressed screenshot; the 4-module quiet zone
is what the QR standard requires for reliable scanning.
"""

from __future__ import annotations

from functools import lru_cache

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage

QUIET_ZONE = 4
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
# Choosing the best of the eight masks costs ~10 ms of pure Python per code, the largest part
# of rendering a card; a fixed mask costs ~1 ms. Any mask is valid to the standard and the
# tests decode every demo code, including after JPEG re-compression.
MASK_PATTERN = 2


@lru_cache(maxsize=4096)
def matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The module matrix of ``url``, quiet zone included (True is dark)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE,
                         mask_pattern=MASK_PATTERN)
    code.add_data(url)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def modules(url: str) -> int:
    """Modules per side, quiet zone included."""
    return len(matrix(url))


def svg(url: str, *, title: str = "二维码") -> str:
    """An inline SVG (one path, scales to any size) for HTML pages."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE,
                         image_factory=SvgPathImage, mask_pattern=MASK_PATTERN)
    code.add_data(url)
    code.make(fit=True)
    text = code.make_image().to_string(encoding="unicode")
    return text.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def image(url: str, module_px: int) -> object:
    """A 1-bit Pillow image at exactly ``module_px`` pixels per module."""
    from PIL import Image

    rows = matrix(url)
    size = len(rows)
    small = Image.new("1", (size, size), 1)
    small.putdata([0 if dark else 1 for row in rows for dark in row])
    return small.resize((size * module_px, size * module_px), Image.Resampling.NEAREST)
