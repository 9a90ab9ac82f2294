"""The print pack of a board: every sheet the board must carry on a date, behind a cover page.

A board carries the notices of its own area ("分配到哪里、公开到哪里"): a sheet goes up when its
notice is published and stays for the notice's publicity period, counted from the day it was
posted when the ledger knows that day (the period counts from posting). A notice without a
period stays for ``rules.min_publicity_days``; a withdrawal's 撤回公告 as long. The cover lists
the sheets (new, correction, withdrawal, still up) and those whose time is over, so that the
clerk prints once and knows what to put up and what to take down.

Pure: notices, postings and a date in, one PDF out.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.model import Notice, Status, format_date
from pipeline.renderers.base import RenderContext
from pipeline.renderers.board_content import period_text, plain_title
from pipeline.renderers.board_layout import SetSheet
from pipeline.renderers.newspaper_proof import reproducible
from pipeline.templating import read_template_file

TAKE_DOWN_DAYS = 7  # how long the cover keeps listing a sheet whose time is over


@dataclass(frozen=True)
class Posting:
    """What the ledger knows of one sheet on one board."""

    posted: date | None = None
    taken_down: date | None = None


def board_days(notice: Notice, min_days: int) -> int:
    """How many days the sheet stays up: the publicity period's length, at least the rule's."""
    if notice.publicity is not None and not notice.is_withdrawn:
        return max(notice.publicity.days, 1)
    return min_days


def board_end(notice: Notice, min_days: int, posted: date | None = None) -> date:
    """The last day the sheet must stay up: counted from posting when it was posted."""
    if notice.is_withdrawn and notice.withdrawal is not None:
        start = posted or notice.withdrawal.on or notice.published_date
        return start + timedelta(days=min_days - 1)
    if posted is not None:
        return posted + timedelta(days=board_days(notice, min_days) - 1)
    if notice.publicity is not None:
        return notice.publicity.end
    return notice.published_date + timedelta(days=min_days - 1)


def carried_on(notice: Notice, day: date, min_days: int, posting: Posting | None = None) -> bool:
    """Whether the board carries the notice's sheet on ``day``."""
    if notice.status is Status.draft or notice.published_date > day:
        return False
    if posting is not None and posting.taken_down is not None:
        return False
    posted = posting.posted if posting else None
    return day <= board_end(notice, min_days, posted)


@dataclass(frozen=True)
class PackEntry:
    notice: Notice
    action: str  # 新张贴 / 更正张贴 / 撤回公告 / 继续张贴 / 可以揭下
    until: date
    posted: date | None = None
    pages: int = 0

    @property
    def number(self) -> str:
        notice = self.notice
        return notice.id if notice.revision == 1 else f"{notice.id}（第{notice.revision}版）"

    @property
    def title(self) -> str:
        return plain_title(self.notice)

    @property
    def period(self) -> str:
        publicity = self.notice.publicity
        return period_text(publicity) if publicity and not self.notice.is_withdrawn else ""


def pack_entries(notices: Sequence[Notice], area: str, day: date, min_days: int,
                 postings: Mapping[tuple[str, int], Posting] | None = None
                 ) -> tuple[list[PackEntry], list[PackEntry]]:
    """(the sheets the board carries on ``day``, those that may come down), in board order."""
    postings = postings or {}
    carried, done = [], []
    for notice in sorted((n for n in notices if n.area == area),
                         key=lambda n: (n.published, n.id)):
        posting = postings.get((notice.id, notice.revision))
        posted = posting.posted if posting else None
        end = board_end(notice, min_days, posted)
        if carried_on(notice, day, min_days, posting):
            new = notice.published_date == day or (
                notice.is_withdrawn and notice.withdrawal is not None
                and notice.withdrawal.on == day)
            action = ("撤回公告" if notice.is_withdrawn
                      else "继续张贴" if posted is not None and not new
                      else "更正张贴" if notice.is_correction else "新张贴")
            carried.append(PackEntry(notice, action, end, posted))
        elif notice.status is not Status.draft and notice.published_date <= day and \
                end < day <= end + timedelta(days=TAKE_DOWN_DAYS) and \
                not (posting and posting.taken_down):
            done.append(PackEntry(notice, "可以揭下", end, posted))
    return carried, done


@dataclass(frozen=True)
class Pack:
    pdf: bytes
    entries: tuple[PackEntry, ...]
    take_down: tuple[PackEntry, ...]
    pages: int


def make_pack(notices: Sequence[Notice], area: str, day: date, ctx: RenderContext, *,
              board_name: str | None = None, clerk: str | None = None,
              postings: Mapping[tuple[str, int], Posting] | None = None) -> Pack:
    """The pack of the board of ``area`` for ``day``: a cover page, then every sheet."""
    from pipeline.renderers.board import paper_of, set_notices

    min_days = ctx.config.rules.min_publicity_days
    carried, done = pack_entries(notices, area, day, min_days, postings)
    sheets = set_notices([e.notice for e in carried], ctx)
    entries = tuple(PackEntry(e.notice, e.action, e.until, e.posted, s.pages)
                    for e, s in zip(carried, sheets, strict=True))
    cover = _cover(entries, tuple(done), area, day, ctx, board_name, clerk, paper_of(ctx.config))
    pdf, pages = _merge(cover, sheets, day)
    return Pack(pdf, entries, tuple(done), pages)


def _cover(entries: tuple[PackEntry, ...], done: tuple[PackEntry, ...], area: str, day: date,
           ctx: RenderContext, board_name: str | None, clerk: str | None, paper: object
           ) -> bytes:
    from pipeline.renderers.weasy import block_html, weasyprint

    _, fonts = block_html()
    html = ctx.templates.get_template("board/cover.html").render(
        css=read_template_file(ctx.templates, "board/sheet.css"), paper=paper,
        entries=entries, take_down=done, board=board_name or f"{area.replace('/', '')}公示栏",
        area=area, day=format_date(day), clerk=clerk, office=ctx.config.office.name,
        sheets=sum(e.pages for e in entries))
    return weasyprint().HTML(string=html).write_pdf(font_config=fonts)


def _merge(cover: bytes, sheets: Sequence[SetSheet], day: date) -> tuple[bytes, int]:
    import pypdfium2

    pack = pypdfium2.PdfDocument.new()
    sources = [pypdfium2.PdfDocument(cover)] + [pypdfium2.PdfDocument(s.pdf) for s in sheets]
    try:
        for source in sources:
            pack.import_pages(source)
        buffer = io.BytesIO()
        pack.save(buffer)
        pages = len(pack)
    finally:
        for source in sources:
            source.close()
        pack.close()
    return reproducible(buffer.getvalue(), day), pages
