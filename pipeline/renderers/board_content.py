"""What a notice board sheet (公示栏) says: a notice turned into the parts of a posted sheet.

Three kinds of sheet:

* ``notice``: the notice as the board carries it: title, body, the facts table the
  regulations ask for, the publicity period in large type, the phones to call and the QR code;
* ``correction`` (revision >= 2): headed 更正公示, it names what changed and which sheet it
  replaces, then carries the corrected notice in full (it is the sheet that stays up);
* ``withdrawal``: a short 撤回公告 that says which sheet to take down and why.

Every sheet ends with the closing block of an official notice: the issuing office, the date
in Chinese and a marked space for the seal (盖章处). Nothing on a sheet depends on the day it
is printed (no 公示中 badge: paper cannot update itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from markupsafe import Markup

from pipeline.model import DateRange, Notice, format_date, format_wan
from pipeline.renderers import markdown
from pipeline.renderers.newspaper_content import join_lines

SheetKind = Literal["notice", "correction", "withdrawal"]

# The foot line of every sheet: a posted notice must stay up for its whole period.
KEEP_POSTED = "公示期满前请勿撕毁"
KEEP_POSTED_WITHDRAWAL = "本公告张贴期间请勿撕毁"


# Labels longer than the label column break where a clerk would break them.
LABEL_BREAKS = {
    "实施单位及责任人": ("实施单位", "及责任人"),
    "资金来源及规模": ("资金来源", "及规模"),
    "带贫减贫机制": ("带贫减贫", "机制"),
}


@dataclass(frozen=True)
class Fact:
    label: str
    lines: tuple[str, ...]  # one value per line (fund sources, a person and a phone)

    @property
    def label_lines(self) -> tuple[str, ...]:
        return LABEL_BREAKS.get(self.label, (self.label,))


@dataclass(frozen=True)
class SheetContent:
    notice_id: str
    revision: int
    kind: SheetKind
    headline: str  # the big line: the title, 更正公示 or 撤回公告
    subtitle: str | None  # under the headline: the corrected or withdrawn notice's title
    number: str  # 编号 as printed: "sf-2018-0012" or "sf-2018-0013（第2版）"
    notes: tuple[str, ...]  # correction / withdrawal statements, before the body
    changes: tuple[str, ...]  # what a correction changed, one line each
    body_html: Markup  # the office's text, sanitised HTML; empty on a withdrawal
    facts: tuple[Fact, ...]
    publicity: str | None  # "2018年7月4日至7月14日"
    phones: tuple[tuple[str, str], ...]
    url: str
    issuer: str
    dated: date
    foot: str

    @property
    def date_text(self) -> str:
        return format_date(self.dated)


def body_html(text: str) -> Markup:
    """Markdown -> sanitised HTML for the sheet; headings become h3 and below."""
    # As the web page's parser (raw HTML off, tables on; a wrapped line in the YAML is not a
    # line break on paper).
    parser = markdown.make_parser()
    tokens = parser.parse(text)
    markdown.join_soft_breaks(tokens)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
        elif token.type in ("th_open", "td_open") and "right" in str(token.attrGet("style")):
            token.attrs = {"align": "right"}  # the sanitiser keeps align, not style
    return Markup(markdown.clean(parser.renderer.render(tokens, parser.options, {})))


def period_text(period: DateRange) -> str:
    """2018年7月4日至7月14日: the end's year is left out when it is the start's."""
    end = period.end
    tail = format_date(end) if end.year != period.start.year else f"{end.month}月{end.day}日"
    return f"{format_date(period.start)}至{tail}"


def plain_title(notice: Notice) -> str:
    """The title without a trailing （更正）, which the 更正公示 headline says already."""
    title = notice.title
    for suffix in ("（更正）", "(更正)", "（更正公示）"):
        if title.endswith(suffix) and len(title) > len(suffix):
            return title[: -len(suffix)]
    return title


def number_text(notice: Notice) -> str:
    return notice.id if notice.revision == 1 else f"{notice.id}（第{notice.revision}版）"


def project_facts(notice: Notice) -> tuple[Fact, ...]:
    """The rows the regulations ask for, in their order (项目名称 … 受益户数)."""
    project = notice.project
    if project is None:
        return ()
    facts = [Fact("项目名称", (project.name,)), Fact("实施地点", (project.location,)),
             Fact("建设内容", (project.content,))]
    if project.subsidy_standard:
        facts.append(Fact("补助标准", (project.subsidy_standard,)))
    if project.period:
        facts.append(Fact("实施期限", (period_text(project.period),)))
    person = project.responsible
    responsible = f"责任人：{person.name}" + (f"（{person.phone}）" if person.phone else "")
    facts.append(Fact("实施单位及责任人", (project.implementer, responsible)))
    # The sources run on as one sentence and the total has its own line: a list of four
    # sources, one a line, would cost the sheet the room it needs to stay on one page.
    funds = "；".join(f"{fund.source}{format_wan(fund.amount)}" for fund in project.funds)
    total = f"合计{project.total_display}"
    facts.append(Fact("资金来源及规模", (funds, total) if len(project.funds) > 1 else
                      (funds,)))
    if project.performance_goal:
        facts.append(Fact("绩效目标", (project.performance_goal,)))
    if project.poverty_mechanism:
        facts.append(Fact("带贫减贫机制", (project.poverty_mechanism,)))
    if project.beneficiaries:
        b = project.beneficiaries
        people = f"，{b.people}人" if b.people else ""
        facts.append(Fact("受益户数", (f"{b.households}户（其中贫困户{b.poor_households}户）"
                                        f"{people}",)))
    return tuple(facts)


def sheet_content(notice: Notice, url: str, today: date) -> SheetContent:
    """The sheet of ``notice``; ``today`` dates a withdrawal that names no day of its own."""
    phones = tuple(notice.contact.phones())
    common = {"notice_id": notice.id, "revision": notice.revision, "url": url,
              "issuer": notice.issuer, "phones": phones, "number": number_text(notice)}
    if notice.is_withdrawn and notice.withdrawal is not None:
        day = notice.withdrawal.on or today
        period = f"，公示期{period_text(notice.publicity)}" if notice.publicity else ""
        notes = (
            f"本单位于{format_date(notice.published_date)}发布的《{plain_title(notice)}》"
            f"（编号：{notice.id}{period}）现予撤回。",
            f"撤回原因：{join_lines(notice.withdrawal.reason)}",
            "请将原公示从公示栏揭下，并将本公告张贴于原处。",
        )
        return SheetContent(kind="withdrawal", headline="撤回公告",
                            subtitle=f"关于撤回《{plain_title(notice)}》的公告", notes=notes,
                            changes=(), body_html=Markup(""), facts=(), publicity=None,
                            dated=day, foot=KEEP_POSTED_WITHDRAWAL, **common)
    body = body_html(notice.body)
    if notice.interpretation:
        body += Markup("<h3>政策解读</h3>") + body_html(notice.interpretation)
    publicity = period_text(notice.publicity) if notice.publicity else None
    if notice.correction is not None:
        earlier = (f"第{notice.revision - 1}版" if notice.revision > 2 else "原")
        notes = (
            f"{join_lines(notice.correction.note)}本更正公示替换{earlier}公示，"
            f"请将{earlier}公示揭下，以本公示为准。更正事项：",
        )
        return SheetContent(kind="correction", headline="更正公示",
                            subtitle=plain_title(notice), notes=notes,
                            changes=tuple(join_lines(c) for c in notice.correction.changes),
                            body_html=body, facts=project_facts(notice), publicity=publicity,
                            dated=notice.published_date, foot=KEEP_POSTED, **common)
    return SheetContent(kind="notice", headline=notice.title, subtitle=None, notes=(),
                        changes=(), body_html=body, facts=project_facts(notice),
                        publicity=publicity, dated=notice.published_date, foot=KEEP_POSTED,
                        **common)
