"""The Telegram caption of a notice's card: title, summary, publicity period, link.

Telegram allows 1024 characters in a photo caption, counted (as all Bot API lengths) in UTF-16
code units after entity parsing. The caption is sent as plain text, so there is no entity
markup to parse away, and counting UTF-16 units is exact: a character outside the Basic
Multilingual Plane (𠮷, an emoji) counts two. When a caption is too long, the summary is cut
first, at the end of a sentence if that keeps most of it, else at a character boundary; a
character is never cut in half (no lone surrogate) and an ellipsis marks the cut. The link is
never cut: a caption without its link is useless.
"""

from __future__ import annotations

import unicodedata
from datetime import date

from pipeline.model import Notice
from pipeline.renderers.card_facts import publicity_text

CAPTION_LIMIT = 1024
ELLIPSIS = "……"  # the Chinese ellipsis is two of U+2026
SENTENCE_ENDS = "。！？；!?;"
CORRECTION_MARK = "【更正】"
WITHDRAWN_MARK = "【已撤回】"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _joins_previous(char: str) -> bool:
    """A character that belongs to the one before it (combining mark, variation selector, ZWJ)."""
    return (unicodedata.category(char) in ("Mn", "Me")
            or "\ufe00" <= char <= "\ufe0f" or char == "\u200d")


def shorten(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` in at most ``limit`` UTF-16 units, cut with ``ellipsis`` if it had to be."""
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(ellipsis)
    if room <= 0:
        return ellipsis[: max(limit, 0)]
    cut, used = 0, 0
    while cut < len(text) and used + utf16_len(text[cut]) <= room:
        used += utf16_len(text[cut])
        cut += 1
    # Do not separate a character from its combining marks or an emoji from its modifiers.
    while cut > 0 and cut < len(text) and _joins_previous(text[cut]):
        cut -= 1
    if cut > 0 and text[cut - 1] == "\u200d":
        cut -= 1
    head = text[:cut]
    sentence_end = max(head.rfind(mark) for mark in SENTENCE_ENDS)
    if sentence_end >= 0 and sentence_end + 1 >= cut * 0.6:
        head = head[: sentence_end + 1]
    return head.rstrip(" ，、,：:") + ellipsis


def compose(title: str, summary: str, period: str | None, link: str, *,
            mark: str = "", note: str | None = None, limit: int = CAPTION_LIMIT) -> str:
    """Assemble a caption; ``mark`` (【更正】) leads, ``note`` (what changed) follows the title.

    The parts that may be shortened, in order: the note, the summary, then the title.
    """
    fixed_tail = []
    if period:
        fixed_tail.append(period)
    fixed_tail.append(f"查看全文：{link}")
    tail = "\n".join(fixed_tail)
    headline = f"{mark}{title}"
    parts = [headline, note or "", summary]

    def total() -> int:
        body = "\n\n".join(p for p in parts if p)
        return utf16_len(body) + 2 + utf16_len(tail)

    # Shrink the flexible parts one at a time, each to what is left for it.
    for index in (1, 2, 0):
        excess = total() - limit
        if excess <= 0:
            break
        if not parts[index]:
            continue
        keep = max(utf16_len(parts[index]) - excess, len(mark) + 4 if index == 0 else 0)
        parts[index] = shorten(parts[index], keep) if keep > 0 else ""
    body = "\n\n".join(p for p in parts if p)
    caption = f"{body}\n\n{tail}"
    return caption if utf16_len(caption) <= limit else shorten(caption, limit)


def notice_caption(notice: Notice, url: str, today: date, *,
                   limit: int = CAPTION_LIMIT) -> str:
    """The caption of a notice's card as the channel sends it."""
    mark, note = f"【{notice.kind.label}】", None
    if notice.is_correction and notice.correction is not None:
        mark = CORRECTION_MARK + mark
        note = f"更正说明：{notice.correction.note}"
    if notice.is_withdrawn and notice.withdrawal is not None:
        mark = WITHDRAWN_MARK + mark
        note = f"撤回原因：{notice.withdrawal.reason}"
    period = None
    if notice.publicity is not None:
        # A withdrawn notice is no longer 公示中, whatever the dates say.
        state = "已撤回" if notice.is_withdrawn else notice.publicity_state(today).label
        period = f"公示期：{publicity_text(notice, today)}，{state}"
    return compose(notice.title, notice.summary, period, url, mark=mark, note=note, limit=limit)


def with_mark(caption: str, mark: str, limit: int = CAPTION_LIMIT) -> str:
    """``caption`` starting with ``mark`` (once), still within ``limit``.

    The channel uses it when the event needs a mark the rendered caption lacks (a correction
    delivered from a caption rendered without one). The cut falls in the body, so the link at
    the end may be lost only if the caption is nothing but a link; that cannot happen with the
    captions ``notice_caption`` makes, which are well under the limit.
    """
    if caption.startswith(mark):
        return shorten(caption, limit)
    head, sep, link = caption.rpartition("\n\n")
    if not sep:
        return shorten(mark + caption, limit)
    room = limit - utf16_len(mark) - utf16_len(sep) - utf16_len(link)
    return f"{mark}{shorten(head, room)}{sep}{link}" if room > 8 else shorten(mark + caption,
                                                                               limit)
