"""Which key facts a card shows, by kind of notice, most important first.

A fund notice leads with the money and where it goes; a policy with who issued it and where it
applies; an urgent notice with when. The card shows as many as fit, never fewer than three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipeline.model import DateRange, Kind, Notice, format_date


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    emphasis: bool = False  # the total amount: larger, in the accent colour


def period_text(period: DateRange) -> str:
    """2018年7月4日至7月14日: the year once when both ends share it."""
    if period.start.year == period.end.year:
        return f"{format_date(period.start)}至{period.end.month}月{period.end.day}日"
    return period.display


def publicity_text(notice: Notice, today: date) -> str:
    if notice.publicity is None:
        return "长期公开"
    return f"{period_text(notice.publicity)}（{notice.publicity.days}天）"


def key_facts(notice: Notice, today: date) -> list[Fact]:
    facts: list[Fact] = []
    project = notice.project
    if notice.kind.is_fund_notice and project is not None:
        facts.append(Fact("资金总额", project.total_display, emphasis=True))
        if notice.kind is Kind.fund_allocation:
            first = project.funds[0].source
            more = f"等{len(project.funds)}项" if len(project.funds) > 1 else ""
            facts.append(Fact("资金来源", first + more))
            facts.append(Fact("涉及地区", notice.place))
        else:
            facts.append(Fact("实施地点", project.location))
        facts.append(Fact("公示期", publicity_text(notice, today)))
        if project.period is not None:
            label = "建设期限" if notice.kind is Kind.completion_notice else "实施期限"
            facts.append(Fact(label, period_text(project.period)))
        facts.append(Fact("实施单位", project.implementer))
        if project.beneficiaries is not None:
            b = project.beneficiaries
            facts.append(Fact("受益农户", f"{b.households}户，其中贫困户{b.poor_households}户"))
        return facts[:6]

    facts.append(Fact("发布单位", notice.issuer))
    facts.append(Fact("涉及地区", notice.place))
    if notice.kind is Kind.urgent:
        published = notice.published
        facts.append(Fact("发布时间", f"{format_date(published.date())} "
                                      f"{published.hour:02d}:{published.minute:02d}"))
    facts.append(Fact("公示期" if notice.publicity else "公开期限", publicity_text(notice, today)))
    if notice.kind is Kind.policy and notice.interpretation:
        facts.append(Fact("政策解读", "附政策解读，扫码阅读全文"))
    if notice.contact.office_phone:
        facts.append(Fact("咨询电话", notice.contact.office_phone))
    return facts[:6]
