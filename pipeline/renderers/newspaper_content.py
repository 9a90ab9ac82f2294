"""What a newspaper block says: a notice turned into plain paragraphs and a facts table.

Paragraphs are plain text with a style (body, heading, list item, note), not HTML: a printed
notice reads flat, inline emphasis is dropped, and Markdown tables become one line per row
(a block has no room for a grid). ``newspaper_layout`` deals their lines into text columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from markdown_it import MarkdownIt

from pipeline.model import Notice, format_date, format_wan

_MARKDOWN = MarkdownIt("commonmark").enable("table")
_CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


@dataclass(frozen=True)
class Paragraph:
    text: str
    style: str = "p"  # "p" body text, "h" a heading line, "li" a list item, "note" 更正说明


@dataclass(frozen=True)
class BlockContent:
    notice_id: str
    label: str | None  # 更正 / 撤回 / 紧急
    kicker: str  # 项目公示 · 村级
    title: str
    dateline: str  # issuer and date
    paragraphs: tuple[Paragraph, ...]
    facts: tuple[tuple[str, str], ...]
    funds: tuple[tuple[str, str], ...]
    funds_total: str | None
    publicity: str | None
    phones: tuple[tuple[str, str], ...]
    url: str
    withdrawn: bool
    issue_date: date


def join_lines(text: str) -> str:
    """Join the lines of one paragraph: no space between Chinese characters, one otherwise."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    joined = lines[0]
    for line in lines[1:]:
        cjk_seam = _CJK.match(joined[-1]) or _CJK.match(line[0])
        joined += line if cjk_seam else f" {line}"
    return re.sub(r"[ \t]+", " ", joined)


def markdown_paragraphs(source: str) -> list[Paragraph]:
    """Markdown body -> plain paragraphs; inline emphasis is dropped (a notice reads flat)."""
    paragraphs: list[Paragraph] = []
    style, number, ordered = "p", 0, False
    row: list[str] | None = None
    for token in _MARKDOWN.parse(source):
        if token.type == "heading_open":
            style = "h"
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            ordered, number = token.type == "ordered_list_open", 0
        elif token.type == "list_item_open":
            style, number = "li", number + 1
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(join_lines(_inline_text(token)))
        elif token.type == "tr_close" and row is not None:
            # A table row reads as one line of its cells: a block has no room for a grid.
            paragraphs.append(Paragraph("　".join(cell for cell in row if cell), "li"))
            row = None
        elif token.type == "inline":
            text = join_lines(_inline_text(token))
            if style == "li":
                text = f"{number}. {text}" if ordered else f"・{text}"
            if text:
                paragraphs.append(Paragraph(text, style))
            if style == "h":
                style = "p"
        elif token.type == "list_item_close":
            style = "p"
    return paragraphs


def _inline_text(token: object) -> str:
    parts: list[str] = []
    for child in getattr(token, "children", None) or ():
        if child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
    return "".join(parts)


def block_content(notice: Notice, url: str) -> BlockContent:
    label = ("撤回" if notice.is_withdrawn else "更正" if notice.is_correction
             else "紧急" if notice.is_urgent else None)
    paragraphs: list[Paragraph] = []
    if notice.is_withdrawn and notice.withdrawal is not None:
        day = notice.withdrawal.on
        when = f"于{format_date(day)}" if day else ""
        paragraphs.append(Paragraph(
            f"本单位{when}撤回《{notice.title}》。撤回原因：{join_lines(notice.withdrawal.reason)}",
            "note"))
    elif notice.correction is not None:
        paragraphs.append(Paragraph(f"更正说明：{join_lines(notice.correction.note)}", "note"))
        paragraphs.extend(Paragraph(f"・{join_lines(c)}", "note")
                          for c in notice.correction.changes)
    if not notice.is_withdrawn:
        paragraphs.extend(markdown_paragraphs(notice.body))
        if notice.interpretation:
            paragraphs.append(Paragraph("政策解读", "h"))
            paragraphs.extend(markdown_paragraphs(notice.interpretation))
    facts: list[tuple[str, str]] = []
    funds: list[tuple[str, str]] = []
    total = None
    project = notice.project
    if project is not None and not notice.is_withdrawn:
        facts.append(("项目名称", project.name))
        facts.append(("实施地点", project.location))
        facts.append(("建设内容", project.content))
        if project.subsidy_standard:
            facts.append(("补助标准", project.subsidy_standard))
        if project.period:
            facts.append(("实施期限", project.period.display))
        facts.append(("实施单位", project.implementer))
        person = project.responsible
        facts.append(("责任人", f"{person.name} {person.phone}" if person.phone else person.name))
        if project.performance_goal:
            facts.append(("绩效目标", project.performance_goal))
        if project.poverty_mechanism:
            facts.append(("带贫减贫机制", project.poverty_mechanism))
        if project.beneficiaries:
            b = project.beneficiaries
            facts.append(("受益户数", f"{b.households}户（其中贫困户{b.poor_households}户）"))
        funds = [(f.source, format_wan(f.amount)) for f in project.funds]
        total = project.total_display
    return BlockContent(
        notice_id=notice.id,
        label=label,
        kicker=f"{notice.kind.label} · {notice.level.label} · {notice.place}",
        title=notice.title,
        dateline=f"{notice.issuer}　{format_date(notice.published_date)}",
        paragraphs=tuple(paragraphs),
        facts=tuple(facts),
        funds=tuple(funds),
        funds_total=total,
        publicity=notice.publicity.display if notice.publicity and not notice.is_withdrawn
        else None,
        phones=tuple(notice.contact.phones()),
        url=url,
        withdrawn=notice.is_withdrawn,
        issue_date=notice.published_date,
    )
