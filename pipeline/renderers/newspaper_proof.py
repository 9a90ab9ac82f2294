"""One PDF per block out of the batch's PDF, and a grayscale PNG proof of each (pypdfium2).

The proof's PNG is written here rather than by Pillow: Pillow tries every PNG row filter on
every row, which takes longer than rendering the page. Unfiltered rows of a mostly white page
compress just as well.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from collections.abc import Sequence
from datetime import date

from PIL import Image

METRES_PER_INCH = 0.0254


def split_and_proof(pdf: bytes, dpi: int, dates: Sequence[date]
                    ) -> list[tuple[bytes, bytes, tuple[int, int]]]:
    """For each page of ``pdf``: a one-page PDF, its PNG proof at ``dpi`` and the proof size.

    ``dates`` (one per page) become the PDFs' creation dates, so that the same block is the
    same bytes on every build.
    """
    import pypdfium2

    source = pypdfium2.PdfDocument(pdf)
    outputs = []
    try:
        for index in range(len(source)):
            single = pypdfium2.PdfDocument.new()
            single.import_pages(source, [index])
            buffer = io.BytesIO()
            single.save(buffer)
            single.close()
            page = source[index]
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            page.close()
            outputs.append((reproducible(buffer.getvalue(), dates[index]), gray_png(image, dpi),
                            image.size))
    finally:
        source.close()
    return outputs


_CREATED = re.compile(rb"/CreationDate\(D:\d{14}[-+Z]\d{2}'\d{2}'\)")
_FILE_ID = re.compile(rb"/ID\[<([0-9A-F]{32})><([0-9A-F]{32})>\]")


def reproducible(pdf: bytes, created: date) -> bytes:
    """Replace pdfium's clock-based creation date and file ID by ones derived from the
    block, byte for byte the same length (the cross-reference offsets stay valid)."""
    stamp = f"/CreationDate(D:{created:%Y%m%d}000000+08'00')".encode()
    pdf = _CREATED.sub(lambda match: stamp if len(match.group(0)) == len(stamp)
                       else match.group(0), pdf, count=1)
    digest = hashlib.md5(_FILE_ID.sub(b"", pdf), usedforsecurity=False).hexdigest().upper()
    return _FILE_ID.sub(f"/ID[<{digest}><{digest}>]".encode(), pdf, count=1)


def gray_png(image: Image.Image, dpi: int) -> bytes:
    """An 8-bit grayscale PNG of ``image`` (mode L), with its resolution recorded."""
    width, height = image.size
    raw = image.tobytes()
    rows = b"".join(b"\x00" + raw[y * width:(y + 1) * width] for y in range(height))
    per_metre = round(dpi / METRES_PER_INCH)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
        _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        _chunk(b"IDAT", zlib.compress(rows, 1)),
        _chunk(b"IEND", b""),
    ))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))
