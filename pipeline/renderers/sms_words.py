"""The words of one SMS item, as a villager says them, and the one rule that shortens them.

An item says where, what, how much and until when::

    马祖村 产业道路硬化 68.5万元 公示至7月14日
    【更正】宏达村 蔬菜大棚产业扶贫 公示至7月11日 总投资更正为47.8万元
    【撤回】高槐村 农田水利设施建设 28.6万元 7月3日撤回 原因：项目实施地点由3组调整为5组

* **where** is the notice's own area, after the county and town names the subscriber shares:
  a villager of 什邡市/师古镇/马祖村 reads 马祖村 for their village, 红豆村 would be 红豆村,
  师古镇 for their town and 什邡市 for their county; a county official reads 师古镇马祖村.
* **what** is the project's name without the place names it starts with and without a closing
  项目 or 工程 (when four characters or more remain); a notice without a project (urgent,
  announcements) gives its title without 关于, 紧急提醒： and endings such as 的紧急通知.
* **how much** is the total of the funds in 万元; **until when** is 公示至7月14日, or the day
  it was published (发布) or withdrawn (撤回).
* a correction says what changed (``correction.sms_summary``, else its note), without the
  amount when that already names it; a withdrawal says why (``withdrawal.reason``).

When a text is too long, names and notes are cut to one length with …; the cut never falls
inside a number, a date or a phone number (it moves back to before it), so every number in a
text is a number of the notice. ``pipeline.renderers.sms`` decides the length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from pipeline.model import Notice, format_short_date

ELLIPSIS = "…"
# A name or note is never cut shorter than this (seven characters and the ellipsis): an item
# that does not fit then is counted in the closing line instead of being cut to nothing.
MIN_CUT = 8
_SUFFIXES = ("项目", "工程")
_TITLE_PREFIXES = ("关于", "紧急提醒：", "紧急通知：")
_TITLE_ENDINGS = ("项目公示", "竣工公示", "公示公告", "公示", "公告", "的紧急通知", "紧急通知",
                  "的通知", "通知")
# What a cut must keep whole: dates, then numbers with their unit (68.5万元), phone numbers
# (0838-8202012, +8613800000001) and plain numbers (2018, 12317).
WHOLE = re.compile(
    r"(?:\d+年)?\d+月\d+日|\d+年\d+月"
    r"|\+?\d+(?:[.\-]\d+)*(?:万元|元)?"
)
# Punctuation that reads badly just before the ellipsis.
_DANGLING = "，、；：,;:（(“\"'- "
MARKS: dict[str, str] = {"correction": "【更正】", "withdrawal": "【撤回】", "expiry": "【结束】"}


@dataclass(frozen=True)
class ItemWords:
    """The parts of one item, before the template joins them."""

    marks: str
    where: str
    what: str
    amount: str
    when: str
    note: str
    link: str
    event: str

    urgent: bool = False

    @property
    def longest(self) -> int:
        """The length a cut starts from: the longer of the name and the note."""
        return max(len(self.what), len(self.note))

    @property
    def shown_amount(self) -> str:
        """The amount, unless the note already names it (总投资更正为47.8万元)."""
        return "" if self.amount and self.amount in self.note else self.amount

    def cut_to(self, limit: int | None) -> ItemWords:
        """The name and the note cut to at most ``limit`` characters (None: as they are)."""
        if limit is None:
            return self
        return replace(self, what=cut(self.what, limit), note=cut(self.note, limit))


def item_words(notice: Notice, event: str, area: str, today: date, link: str = "") -> ItemWords:
    """The words of ``notice`` for a subscriber of ``area``, for this ``event``."""
    marks = MARKS.get(event, "")
    if notice.is_urgent and event == "publish":
        marks = "【紧急】"
    amount = notice.total_display or ""
    note = ""
    if event == "correction" and notice.correction is not None:
        note = _sentence(notice.correction.sms_summary or notice.correction.note)
    elif event == "withdrawal" and notice.withdrawal is not None:
        note = _sentence(notice.withdrawal.reason)
    return ItemWords(marks=marks, where=place_for(notice.area, area), what=plain_name(notice),
                     amount=amount, when=until(notice, event, today), note=note, link=link,
                     event=event, urgent=notice.is_urgent)


def place_for(notice_area: str, subscriber_area: str) -> str:
    """The notice's area as the subscriber names it: without the county and town they share,
    never without the notice's own place."""
    names = notice_area.split("/")
    theirs = subscriber_area.split("/")
    kept = [name for depth, name in enumerate(names[:-1])
            if depth >= len(theirs) or theirs[depth] != name]
    return "".join([*kept, names[-1]])


def plain_name(notice: Notice) -> str:
    """The project's name without its leading place names and its 项目/工程 ending; without a
    project, the title without 关于 and its generic ending (公示, 的紧急通知…)."""
    if notice.project is None:
        return _headline(notice.title, notice.area_parts)
    name = _without_places(notice.project.name, notice.area_parts)
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 4:
            return name[: -len(suffix)]
    return name


def _headline(title: str, places: tuple[str, ...]) -> str:
    title = _without_places(_sentence(title), places)
    for prefix in _TITLE_PREFIXES:
        if title.startswith(prefix) and len(title) > len(prefix):
            title = title[len(prefix):]
    for ending in _TITLE_ENDINGS:
        if title.endswith(ending) and len(title) > len(ending) + 1:
            return title[: -len(ending)]
    return title


def _without_places(name: str, places: tuple[str, ...]) -> str:
    """``name`` without the place names it starts with (师古镇马祖村…)."""
    stripped = True
    while stripped:
        stripped = False
        for place in places:
            if name.startswith(place) and len(name) > len(place):
                name, stripped = name[len(place):], True
    return name


def until(notice: Notice, event: str, today: date) -> str:
    """公示至7月14日; without a publicity period, the day it was published; for a withdrawal,
    the day it was withdrawn."""
    if event == "withdrawal" and notice.withdrawal is not None:
        return f"{format_short_date(notice.withdrawal.on or today)}撤回"
    if notice.publicity is not None:
        return f"公示至{format_short_date(notice.publicity.end)}"
    return f"{format_short_date(notice.published_date)}发布"


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, the last an ellipsis; never inside a number,
    a date or a phone number, and never shorter than ``MIN_CUT`` allows."""
    limit = max(limit, MIN_CUT)
    if len(text) <= limit:
        return text
    end = limit - 1
    for match in WHOLE.finditer(text):
        if match.start() >= end:
            break
        if match.start() < end < match.end():
            # Back to before the number; one that opens the text is kept whole instead.
            end = match.start() or match.end()
            break
    if end >= len(text):
        return text
    return text[:end].rstrip(_DANGLING) + ELLIPSIS


def _sentence(text: str) -> str:
    """One line without its closing full stop (an item ends where its line does)."""
    return " ".join(text.split()).rstrip("。.")
