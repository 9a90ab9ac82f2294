"""The web page's fast QR encoder: module for module what qrcode makes, and it scans."""

from __future__ import annotations

import re

import pytest
import qrcode

from pipeline.renderers.qr import ERROR_CORRECTION, QUIET_ZONE
from pipeline.renderers.web_qr import FIXED_MASK, _version_for, qr_matrix, qr_svg

URLS = [
    "http://x",
    "https://gongshi.example.gov.cn/notices/sf-2018-0012/",
    "https://gongshi.example.gov.cn/notices/" + "a-very-long-notice-id-" * 3 + "/",
    "https://例子.政务.cn/公告/马祖村/",
    *("https://h/" + "x" * n for n in (5, 17, 40, 77, 120, 200, 400, 900)),
]


def reference(url: str) -> tuple[tuple[bool, ...], ...]:
    code = qrcode.QRCode(version=_version_for(len(url.encode())),
                         error_correction=ERROR_CORRECTION, border=QUIET_ZONE,
                         mask_pattern=FIXED_MASK)
    code.add_data(url, optimize=0)
    code.make(fit=False)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


@pytest.mark.parametrize("url", URLS)
def test_same_modules_as_qrcode(url: str) -> None:
    assert qr_matrix(url) == reference(url)


@pytest.mark.parametrize("url", URLS[:4])
def test_decoder_reads_it_back(url: str) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    rows = qr_matrix(url)
    size = len(rows)
    image = Image.new("L", (size, size), 255)
    image.putdata([0 if dark else 255 for row in rows for dark in row])
    image = image.resize((size * 6, size * 6), Image.Resampling.NEAREST)
    [result] = zxingcpp.read_barcodes(image)
    assert result.text == url


def dark_modules_drawn(svg: str) -> set[tuple[int, int]]:
    """Follow the path's pen: 'h1' strokes one module, 'm' moves without drawing."""
    [d] = re.findall(r' d="([^"]+)"', svg)
    start = re.match(r"M(\d+) (\d+)\.5", d)
    assert start is not None
    x, y = int(start.group(1)), int(start.group(2))
    drawn = set()
    for command, dx, dy in re.findall(r"([hm])(-?\d+)(?: (-?\d+))?", d[start.end():]):
        if command == "h":
            drawn.update((y, x + i) for i in range(int(dx)))
            x += int(dx)
        else:
            x, y = x + int(dx), y + int(dy)
    return drawn


def test_svg_draws_exactly_the_dark_modules() -> None:
    url = URLS[1]
    svg = qr_svg(url, label='a "label"')
    assert 'aria-label="a &quot;label&quot;"' in svg
    expected = {(y, x) for y, row in enumerate(qr_matrix(url)) for x, dark in enumerate(row)
                if dark}
    assert dark_modules_drawn(svg) == expected
