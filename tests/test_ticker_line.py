"""The ticker line: composed by kind, cut at a clause boundary, never inside a number."""

from __future__ import annotations

import re

import pytest
from test_ticker import make_notice

from pipeline.renderers.ticker_line import compose_line, cut_safely, fit_text

NUMBERS = re.compile(r"\d[\d.\-]*\d|\d")


def test_project_notice_line_matches_the_issue_example() -> None:
    notice = make_notice(contact={"supervision_phone": "0838-1234567"})
    assert compose_line(notice, 80) == (
        "【公示】马祖村产业道路硬化工程，总投资68.5万元，公示期7月4日至7月14日，"
        "监督电话0838-1234567")


def test_phone_falls_back_to_the_office_then_to_12317() -> None:
    notice = make_notice(contact={})
    assert compose_line(notice, 80, "0838-8202012").endswith("监督电话0838-8202012")
    assert compose_line(notice, 80, None).endswith("监督电话12317")


@pytest.mark.parametrize(("kind", "expected"), [
    ("fund_allocation", "【资金】马祖村产业道路硬化工程，下达资金68.5万元"),
    ("project_plan", "【计划】马祖村产业道路硬化工程，计划投资68.5万元"),
    ("completion_notice", "【竣工】马祖村产业道路硬化工程已竣工，总投资68.5万元"),
])
def test_fund_kinds_are_composed_from_the_project(kind: str, expected: str) -> None:
    assert compose_line(make_notice(kind=kind), 80).startswith(expected)


def test_other_kinds_use_the_summary_without_its_full_stop() -> None:
    notice = make_notice(kind="announcement", project=None, publicity=None,
                         summary="新华村定于7月12日召开村民代表大会，请代表准时参加。")
    assert compose_line(notice, 80) == "【公告】新华村定于7月12日召开村民代表大会，请代表准时参加"


def test_enumeration_commas_survive() -> None:
    notice = make_notice(kind="announcement", project=None, publicity=None,
                         summary="城口县建立县、乡、村三级台账。")
    assert compose_line(notice, 80) == "【公告】城口县建立县、乡、村三级台账"


def test_a_correction_says_so() -> None:
    notice = make_notice(revision=2, correction={"note": "更正投资额"})
    assert compose_line(notice, 80).startswith("【公示】更正：马祖村")


def test_long_lines_lose_whole_clauses_from_the_end() -> None:
    notice = make_notice(contact={"supervision_phone": "0838-1234567"})
    full = compose_line(notice, 200)
    for limit in range(20, len(full) + 1):
        line = compose_line(notice, limit)
        assert len(line) <= limit
        # Every shorter line is a run of whole clauses of the full one.
        assert full.startswith(line)
        rest = full[len(line):]
        assert rest == "" or rest.startswith("，")


def test_numbers_and_phones_are_never_cut() -> None:
    text = "监督电话0838-1234567总投资68.5万元受益326户请大家相互转告并积极监督"
    numbers = NUMBERS.findall(text)
    for limit in range(2, len(text) + 1):
        cut = cut_safely(text, limit)
        assert len(cut) <= limit
        for found in NUMBERS.findall(cut):
            assert found in numbers, f"{cut!r} splits a number at {limit}"


def test_a_clause_boundary_inside_brackets_is_not_one() -> None:
    text = "香溪村中药材（独活，党参）种植基地建设项目，总投资39.6万元"
    assert fit_text(text, 25) == "香溪村中药材（独活，党参）种植基地建设项目"
    assert fit_text(text, 10) == "香溪村中药材…"


def test_the_maximum_comes_from_the_config() -> None:
    from datetime import date

    from test_ticker import context

    from pipeline.renderers.ticker import TickerRenderer

    ctx = context(today=date(2018, 7, 8), max_chars=30)
    line = TickerRenderer().line(make_notice(), ctx)
    assert len(line) <= 30
    assert line == "【公示】马祖村产业道路硬化工程，总投资68.5万元"
