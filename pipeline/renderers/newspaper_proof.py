"""One PDF per block out of the batch's PDF, and a grayscale PNG proof of each (pypdfium2).

The proof's PNG is written by ``png.encode``, not by Pillow: Pillow tries every PNG row filter
on every row, which takes longer than rendering the page. Unfiltered rows of a mostly white
page compress just as well.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from datetime import date

from pipeline.renderers import png


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
            outputs.append((reproducible(buffer.getvalue(), dates[index]), png.encode(image, dpi),
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
