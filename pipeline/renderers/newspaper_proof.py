"""One PDF per block out of the batch's PDF, and a grayscale PNG proof of each (pypdfium2).

The proof's PNG is written here rather than by Pillow: Pillow tries every PNG row filter on
every row, which takes longer than rendering the page. Unfiltered rows of a mostly white page
compress just as well.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

METRES_PER_INCH = 0.0254


def split_and_proof(pdf: bytes, dpi: int) -> list[tuple[bytes, bytes, tuple[int, int]]]:
    """For each page of ``pdf``: a one-page PDF, its PNG proof at ``dpi`` and the proof size."""
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
            outputs.append((buffer.getvalue(), gray_png(image, dpi), image.size))
    finally:
        source.close()
    return outputs


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
