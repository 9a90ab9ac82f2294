"""Set board sheets with WeasyPrint: one page whenever the content allows.

A batch of sheets is laid out as one document, each sheet starting a page, at the configured
body size. A sheet that runs onto a second page is set again smaller, with the others that
overflowed: the first step is estimated from how far it ran over, then half a point at a time,
down to the minimum (14 pt: a board is read standing). A sheet that
still does not fit flows onto more pages in a document of its own, where every page after the
first repeats the title and the 编号, and every foot says "第2页 共2页".

Fonts are found once per process and subset once per document; the batch's PDF is then split
into one PDF per sheet (pypdfium2), each with a PNG proof of its pages.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from pipeline.errors import RenderError
from pipeline.renderers import png
from pipeline.renderers.board_content import SheetContent
from pipeline.renderers.newspaper_proof import reproducible
from pipeline.renderers.newspaper_subsetting import warn_if_slow_subsetting
from pipeline.renderers.weasy import block_html, weasyprint
from pipeline.templating import read_template_file

SHRINK_STEP_PT = 0.5
SEAL_MM = 42.0  # the seal of a town or village office (and the dashed circle for it)
PX_PER_MM = 96 / 25.4

# The user-agent rules the sheet markup needs (templates/board/sheets.html and the Markdown of
# a body). WeasyPrint's full HTML5 stylesheet is matched against every element of every sheet
# and of every shrinking round; this one is a fraction of it.
BOARD_UA_CSS = """
html, body, section, div, p, h1, h2, h3, h4, h5, h6, ol, ul, dl, dt, dd, blockquote, pre,
  hr, table, caption { display: block }
head, style, title, meta, script { display: none }
li { display: list-item }
ol { list-style-type: decimal }
ul { list-style-type: disc }
ol, ul { counter-reset: list-item }
table { display: table; box-sizing: border-box; border-collapse: separate }
caption { display: table-caption }
thead { display: table-header-group }
tbody { display: table-row-group }
tr { display: table-row }
td, th { display: table-cell }
th, b, strong { font-weight: bold }
em, i { font-style: italic }
img { display: inline-block }
br::before { content: "\\A"; white-space: pre-line }
"""
MIN_HEADLINE_PT = 22.0  # the headline is never smaller, whatever the body size
# Where a two-line headline breaks well (there is no word segmentation at hand).
BREAK_AFTER = frozenset("年市县区镇乡村的于和及与、，")
BREAK_BEFORE = ("财政", "项目", "资金", "工程", "建设", "扶贫", "公示", "公告", "关于", "《")


@dataclass(frozen=True)
class Paper:
    """A sheet size and its margins (the foot line lives in the bottom margin)."""

    name: str
    width_mm: float
    height_mm: float
    margin_top_mm: float
    margin_side_mm: float
    margin_bottom_mm: float
    default_body_pt: float


PAPERS: dict[str, Paper] = {
    "A4": Paper("A4", 210.0, 297.0, 13.0, 15.0, 14.0, default_body_pt=16.0),
    "A3": Paper("A3", 297.0, 420.0, 18.0, 21.0, 20.0, default_body_pt=22.0),
}


def headline_pt(body_pt: float) -> float:
    """The headline scales with the body, and never below 22 pt."""
    return max(MIN_HEADLINE_PT, round(body_pt * 1.625 * 2) / 2)


def _ems(text: str) -> list[float]:
    """The advance of each character in em: Latin letters and digits are about half wide."""
    return [0.58 if ord(ch) < 0x2000 else 1.0 for ch in text]


def fit_headline(text: str, body_pt: float, width_mm: float) -> tuple[float, tuple[str, ...]]:
    """The headline's size and lines: one line, made smaller (not below 22 pt) when that is
    all it takes; else two lines of about equal length, never a word or two left alone."""
    size = headline_pt(body_pt)
    width_pt = width_mm * 72 / 25.4 * 0.97  # room for letter spacing and rounding
    ems = _ems(text)
    total = sum(ems)
    if total * size <= width_pt:
        return size, (text,)
    if total * MIN_HEADLINE_PT <= width_pt:
        return max(MIN_HEADLINE_PT, int(width_pt / total * 2) / 2), (text,)
    best, best_cost, running = 1, float("inf"), 0.0
    for index in range(1, len(text)):
        running += ems[index - 1]
        if text[index - 1].isascii() and text[index].isascii():
            continue  # never inside a run of digits or letters
        # Near the middle, and between words rather than inside one: after a place, a year
        # or a particle, or before a word that starts a phrase.
        at_seam = text[index - 1] in BREAK_AFTER or text.startswith(BREAK_BEFORE, index)
        cost = abs(running - total / 2) - (3.0 if at_seam else 0.0)
        if max(running, total - running) * size > width_pt:
            cost += 100.0  # a line that would wrap again
        if cost < best_cost:
            best, best_cost = index, cost
    return size, (text[:best], text[best:])


@dataclass(frozen=True)
class SheetSpec:
    notice_id: str
    content: SheetContent
    qr_uri: str  # a data: URI of the QR code (one pixel per module)
    site: str  # the site's address as printed: gongshi.example.gov.cn
    body_pt: float
    min_body_pt: float
    created: date  # the PDF's creation date, so that a sheet is the same bytes every build


@dataclass(frozen=True)
class SetSheet:
    spec: SheetSpec  # with the body size it was set at
    pages: int
    pdf: bytes
    proofs: tuple[bytes, ...]  # one PNG per page
    proof_size: tuple[int, int]
    shrunk: bool

    @property
    def one_page(self) -> bool:
        return self.pages == 1


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string, safe inside a <style> element."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
               .replace("\n", " "))
    return Markup(f'"{escaped}"')


@cache
def _sheet_html() -> Any:
    """An HTML class with the lean user-agent stylesheet (made once per process)."""
    module = weasyprint()
    _, fonts = block_html()
    stylesheet = module.CSS(string=BOARD_UA_CSS, font_config=fonts)

    class SheetHTML(module.HTML):  # type: ignore[misc,name-defined]
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [stylesheet]

    return SheetHTML


def _document(specs: Sequence[SheetSpec], env: Environment, paper: Paper, *,
              paged: bool = False) -> Any:
    warn_if_slow_subsetting()
    _, fonts = block_html()  # one font configuration per process, shared with the newspaper
    sheets = []
    for index, spec in enumerate(specs):
        content = spec.content
        size, lines = fit_headline(content.headline, spec.body_pt,
                                   paper.width_mm - 2 * paper.margin_side_mm)
        # The closing block is as wide as the seal, or as the office's name or the date.
        widest = max(sum(_ems(content.issuer)), sum(_ems(content.date_text)))
        sign_mm = round(max(SEAL_MM + 2, widest * spec.body_pt * 25.4 / 72 + 2), 1)
        sheets.append({
            "content": content, "qr_uri": spec.qr_uri, "site": spec.site,
            "body_pt": spec.body_pt, "headline_pt": size, "headline": lines,
            "sign_mm": sign_mm,
            "page": f"sheet{index}", "foot": css_string(content.foot),
            "number": css_string(f"编号：{content.number}"),
            "running_title": css_string(content.subtitle or content.headline)})
    html = env.get_template("board/sheets.html").render(
        css=read_template_file(env, "board/sheet.css"), paper=paper, sheets=sheets,
        paged=paged)
    return _sheet_html()(string=html).render(font_config=fonts)


def _spans(document: Any, count: int) -> list[tuple[int, int, float]]:
    """(first page, page count, where the sheet ends on its last page, in px from the top)
    of each sheet of a batch document."""
    starts: dict[int, int] = {}
    ends: dict[int, tuple[int, float]] = {}
    for index, page in enumerate(document.pages):
        for anchor, position in page.anchors.items():
            kind, _, number = anchor.partition("-")
            if kind == "sheet":  # a section's id is an anchor on every page it spans
                starts.setdefault(int(number), index)
            elif kind == "end":
                ends[int(number)] = (index, float(position[1]))
    spans = []
    for sheet in range(count):
        if sheet not in starts or sheet not in ends:
            raise RenderError(None, f"board sheet {sheet} of the batch was not laid out")
        last, bottom = ends[sheet]
        spans.append((starts[sheet], last - starts[sheet] + 1, bottom))
    return spans


def _smaller(spec: SheetSpec, pages: int, bottom_px: float, paper: Paper) -> float:
    """The next body size to try for a sheet that ran onto ``pages`` pages.

    Text that wraps takes room as the square of its size; the closing block (QR, seal) does
    not shrink at all, so the square root of the overflow ratio never shrinks too far. It
    saves the rounds of half-point steps a long sheet would otherwise take, and is at least
    one step.
    """
    height = (paper.height_mm - paper.margin_top_mm - paper.margin_bottom_mm) * PX_PER_MM
    used = (pages - 1) * height + max(0.0, bottom_px - paper.margin_top_mm * PX_PER_MM)
    guess = spec.body_pt * math.sqrt(height / used) if used > 0 else spec.body_pt
    stepped = math.floor(guess / SHRINK_STEP_PT) * SHRINK_STEP_PT
    return max(spec.min_body_pt, min(spec.body_pt - SHRINK_STEP_PT, stepped))


def set_sheets(specs: Sequence[SheetSpec], env: Environment, paper: Paper, *,
               dpi: int) -> list[SetSheet]:
    """Set every sheet on one page if it can be (shrinking in steps), else on more pages."""
    current = list(specs)
    shrunk = [False] * len(specs)
    placed: dict[int, Any] = {}  # sheet -> its laid-out page
    pending = list(range(len(specs)))
    while pending:
        document = _document([current[i] for i in pending], env, paper)
        retry = []
        for sheet, (first, count, bottom) in zip(pending, _spans(document, len(pending)),
                                                 strict=True):
            spec = current[sheet]
            if count == 1:
                placed[sheet] = document.pages[first]
            elif spec.body_pt - SHRINK_STEP_PT >= spec.min_body_pt - 1e-9:
                current[sheet] = replace(spec, body_pt=_smaller(spec, count, bottom, paper))
                shrunk[sheet] = True
                retry.append(sheet)
        pending = retry
    results: dict[int, SetSheet] = {}
    order = sorted(placed)
    if order:
        # Pages of every round in one PDF: the fonts are subset and written once.
        pages = [placed[sheet] for sheet in order]
        pdf = document.copy(pages).write_pdf()
        outputs = _split(pdf, [(i, 1) for i in range(len(order))],
                         [current[sheet].created for sheet in order], dpi)
        for sheet, (single, proofs, size) in zip(order, outputs, strict=True):
            results[sheet] = SetSheet(current[sheet], 1, single, proofs, size, shrunk[sheet])
    for sheet, spec in enumerate(current):
        if sheet not in results:  # too long for one page even at the minimum size
            document = _document([spec], env, paper, paged=True)
            pdf = document.write_pdf()
            [(whole, proofs, size)] = _split(pdf, [(0, len(document.pages))], [spec.created],
                                             dpi)
            results[sheet] = SetSheet(spec, len(document.pages), whole, proofs, size,
                                      shrunk[sheet])
    return [results[i] for i in range(len(specs))]


def _split(pdf: bytes, spans: Sequence[tuple[int, int]], dates: Sequence[date], dpi: int
           ) -> list[tuple[bytes, tuple[bytes, ...], tuple[int, int]]]:
    """For each (first page, count) of ``pdf``: a PDF of those pages and a PNG per page."""
    import pypdfium2

    source = pypdfium2.PdfDocument(pdf)
    outputs = []
    try:
        for (first, count), created in zip(spans, dates, strict=True):
            single = pypdfium2.PdfDocument.new()
            single.import_pages(source, list(range(first, first + count)))
            buffer = io.BytesIO()
            single.save(buffer)
            single.close()
            proofs = []
            size = (0, 0)
            for index in range(first, first + count):
                page = source[index]
                image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
                page.close()
                proofs.append(png.encode(image, dpi))
                size = size if size != (0, 0) else image.size
            outputs.append((reproducible(buffer.getvalue(), created), tuple(proofs), size))
    finally:
        source.close()
    return outputs
