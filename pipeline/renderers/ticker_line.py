"""One notice, one short line for the LED strip and the TV crawl.

A line is the kind's badge and a few clauses: 【公示】马祖村产业道路硬化工程，总投资68.5万元，
公示期7月4日至7月14日，监督电话0838-1234567. Fund notices are composed from their project facts,
because those facts (amount, period, supervision phone) are what a passer-by must be able to
check; the other kinds have no such facts and use the office's one-sentence summary.

A line longer than the configured maximum loses whole clauses from its end. Only when the first
clause alone is too long is it cut inside, and then never inside a number, an amount or a phone
number: half a phone number on a public screen is worse than none.
"""

from __future__ import annotations

import re

from pipeline.model import Kind, Notice

# Where a line may end: after Chinese clause punctuation. Not after 、 (an enumeration: "县、乡、"
# would dangle) and not after an ASCII comma (1,200 is one number).
_CLAUSE_END = "，；。！？："
_ELLIPSIS = "…"
# Runs that must stay whole: numbers with their unit (68.5万元, 12%), phone numbers
# (0838-1234567), Latin words (C25) and anything in brackets or quotes (独活，党参).
_UNBREAKABLE = re.compile(
    r"[0-9A-Za-z][0-9A-Za-z.\-+/%]*(?:万元|亿元|万|亿|元|公里|米|户|人)?"
    r"|（[^）]*）|\([^)]*\)|“[^”]*”|《[^》]*》|「[^」]*」")


def supervision_phone(notice: Notice, office_phone: str | None = None) -> str:
    """The number people should call about this notice: its own, the office's, or 12317."""
    return notice.contact.supervision_phone or office_phone or notice.contact.hotline


def line_text(notice: Notice, office_phone: str | None = None) -> str:
    """What the line says after its badge, before any cutting."""
    if notice.kind.is_fund_notice and notice.project is not None:
        return _fund_text(notice, office_phone)
    return notice.summary.strip().rstrip("。")


def _fund_text(notice: Notice, office_phone: str | None) -> str:
    project = notice.project
    assert project is not None
    total = project.total_display
    clauses = [{
        Kind.fund_allocation: f"{project.name}，下达资金{total}",
        Kind.project_plan: f"{project.name}，计划投资{total}",
        Kind.project_notice: f"{project.name}，总投资{total}",
        Kind.completion_notice: f"{project.name}已竣工，总投资{total}",
    }[notice.kind]]
    if notice.publicity is not None:
        clauses.append(f"公示期{notice.publicity.short_display}")
    clauses.append(f"监督电话{supervision_phone(notice, office_phone)}")
    return "，".join(clauses)


def badge_for(notice: Notice) -> str:
    badge = f"【{notice.kind.badge}】"
    # A correction says so: people who read the old line should notice the new one.
    return f"{badge}更正：" if notice.is_correction else badge


def compose_line(notice: Notice, max_chars: int, office_phone: str | None = None) -> str:
    """The ticker line of a notice, at most ``max_chars`` characters long."""
    badge = badge_for(notice)
    return badge + fit_text(line_text(notice, office_phone), max_chars - len(badge))


def fit_text(text: str, max_chars: int) -> str:
    """``text`` if it fits; else its longest run of whole clauses that fits; else a safe cut."""
    if len(text) <= max_chars:
        return text
    protected = _protected_spans(text)
    ends = [i for i, char in enumerate(text) if char in _CLAUSE_END and i <= max_chars
            and not _inside(i, protected)]
    if ends:
        return text[:ends[-1]]  # the clause ends before its punctuation, which is dropped
    return cut_safely(text, max_chars)


def cut_safely(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters (with '…'), never inside a number."""
    if len(text) <= max_chars:
        return text
    protected = _protected_spans(text)
    cut = max(0, max_chars - len(_ELLIPSIS))
    while cut > 0 and _inside(cut, protected):
        cut -= 1
    return text[:cut].rstrip(_CLAUSE_END + "、 ") + _ELLIPSIS


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _UNBREAKABLE.finditer(text)]


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    """Whether cutting before ``position`` would split one of ``spans``."""
    return any(start < position < end for start, end in spans)
