"""The text a notice's page shows, as plain strings: what search indexes and the JSON carries.

Search must find every word a reader can see on the page, so its text is taken from the same
fields, in the same wording (amounts as 40万元, dates as 2018年7月4日, phones as printed), and
the body as the rendered Markdown minus its tags. ``tests/test_web_search.py`` checks that each
text node of a rendered notice page is contained in ``page_text``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from pipeline.model import Notice, format_date
from pipeline.renderers import markdown

_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|li|h[1-6]|tr|td|th|dt|dd|pre|blockquote)>|<br\s*/?>")


def markdown_text(text: str) -> str:
    """A Markdown body as the words a browser shows, one line per block."""
    rendered = _BLOCK_END.sub("\n", markdown.to_html(text))
    return html.unescape(_TAG.sub("", rendered)).strip()


@dataclass(frozen=True)
class PageText:
    """``heading``: title, place, issuer (ranked first); ``body``: everything else shown."""

    heading: str
    body: str

    @property
    def full(self) -> str:
        return f"{self.heading}\n{self.body}"


def page_text(notice: Notice) -> PageText:
    heading = [notice.title, notice.place, *notice.area_parts, notice.issuer]
    parts = [notice.kind.label, notice.level.label, notice.id, notice.summary,
             f"{format_date(notice.published_date)} {notice.published:%H:%M}"]
    if notice.publicity:
        parts += [notice.publicity.display, f"{notice.publicity.days}天"]
    if notice.correction:
        parts += [notice.correction.note, *notice.correction.changes]
    if notice.withdrawal:
        parts += ["已撤回", notice.withdrawal.reason]
        if notice.withdrawal.on:
            parts.append(format_date(notice.withdrawal.on))
    if notice.project is not None:
        p = notice.project
        parts += [p.code or "", p.name, p.location, p.content, p.subsidy_standard or "",
                  p.period.display if p.period else "", p.implementer, p.responsible.name,
                  p.responsible.phone or "", p.total_display,
                  p.performance_goal or "", p.poverty_mechanism or ""]
        for fund in p.funds:
            parts += [fund.source, fund.amount_display]
        if p.beneficiaries:
            b = p.beneficiaries
            parts.append(f"{b.households}户，其中贫困户{b.poor_households}户"
                         + (f"，受益{b.people}人" if b.people is not None else ""))
    parts.append(markdown_text(notice.body))
    if notice.interpretation:
        parts.append(markdown_text(notice.interpretation))
    parts += [a.title for a in notice.attachments]
    parts += [f"{label}：{number}" for label, number in notice.contact.phones()]
    if notice.contact.address:
        parts.append(f"地址：{notice.contact.address}")
    parts += list(notice.tags)
    return PageText("\n".join(heading), "\n".join(p for p in parts if p))
