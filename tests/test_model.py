"""The notice model: its derived values (万元, dates, publicity state) and its own rules."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.model import (
    DateRange,
    Kind,
    Level,
    Notice,
    PublicityState,
    Status,
    format_date,
    format_short_date,
    format_wan,
    is_plausible_phone,
)


def notice_data(**changes: Any) -> dict[str, Any]:
    """A valid village project notice as the YAML loader would hand it over."""
    data: dict[str, Any] = {
        "id": "sf-2018-0012",
        "kind": "project_notice",
        "title": "师古镇马祖村产业道路硬化工程项目公示",
        "issuer": "什邡市师古镇人民政府",
        "level": "village",
        "area": "什邡市/师古镇/马祖村",
        "published": datetime(2018, 7, 4, 9, 0),
        "publicity": {"start": date(2018, 7, 4), "end": date(2018, 7, 13)},
        "project": {
            "name": "马祖村产业道路硬化工程",
            "location": "什邡市师古镇马祖村3组至5组",
            "content": "新建C25混凝土产业道路2.3公里",
            "implementer": "什邡市师古镇人民政府",
            "responsible": {"name": "李明华", "phone": 13908101234},
            "funds": [
                {"source": "中央财政专项扶贫资金", "amount": 400000},
                {"source": "省级财政专项扶贫资金", "amount": 200000},
                {"source": "市级财政配套资金", "amount": 85000},
            ],
            "total": 685000,
        },
        "summary": "马祖村产业道路硬化工程总投资68.5万元。",
        "body": "现予公示。",
        "status": "approved",
    }
    data.update(changes)
    return data


def make(**changes: Any) -> Notice:
    return Notice.model_validate(notice_data(**changes))


# -- 万元 and dates ---------------------------------------------------------------------------

@pytest.mark.parametrize(("yuan", "shown"), [
    ("685000", "68.5万元"),
    ("1234567.89", "123.456789万元"),
    ("10000", "1万元"),
    ("100000000", "10000万元"),
    ("116597891.25", "11659.789125万元"),
    ("5", "0.0005万元"),
    ("0.01", "0.000001万元"),
    ("0", "0万元"),
    ("300000.00", "30万元"),
])
def test_format_wan_is_exact_and_has_no_trailing_zeros(yuan: str, shown: str) -> None:
    assert format_wan(Decimal(yuan)) == shown


def test_format_wan_never_uses_exponent_notation() -> None:
    # Decimal("1E+5").normalize() prints as 1E+1 in 万; the display must stay plain digits.
    assert format_wan(Decimal("1E+5")) == "10万元"
    assert "E" not in format_wan(Decimal("123400000000"))


def test_chinese_dates() -> None:
    assert format_date(date(2018, 7, 4)) == "2018年7月4日"
    assert format_date(date(2018, 12, 31)) == "2018年12月31日"
    assert format_short_date(date(2018, 7, 4)) == "7月4日"


def test_funds_total_and_display() -> None:
    notice = make()
    assert notice.total_funds == Decimal("685000")
    assert notice.total_display == "68.5万元"
    assert [f.amount_display for f in notice.project.funds] == ["40万元", "20万元", "8.5万元"]


def test_cents_are_kept_exactly() -> None:
    project = notice_data()["project"] | {
        "funds": [{"source": "中央", "amount": 1234567.89}, {"source": "市级", "amount": "0.11"}],
        "total": "1234568.00",
    }
    notice = make(project=project)
    assert notice.total_funds == Decimal("1234568.00")
    assert notice.total_display == "123.4568万元"


def test_a_notice_without_project_has_no_total() -> None:
    notice = make(kind="announcement", project=None, publicity=None)
    assert notice.total_funds is None
    assert notice.total_display is None


# -- publicity ------------------------------------------------------------------------------

def test_publicity_days_count_both_ends() -> None:
    period = DateRange(start=date(2018, 7, 4), end=date(2018, 7, 13))
    assert period.days == 10
    assert DateRange(start=date(2018, 7, 4), end=date(2018, 7, 4)).days == 1
    assert period.display == "2018年7月4日至2018年7月13日"
    assert period.short_display == "7月4日至7月13日"


@pytest.mark.parametrize(("today", "state"), [
    (date(2018, 7, 3), PublicityState.not_started),
    (date(2018, 7, 4), PublicityState.running),  # the first day counts
    (date(2018, 7, 8), PublicityState.running),
    (date(2018, 7, 13), PublicityState.running),  # and so does the last
    (date(2018, 7, 14), PublicityState.ended),
])
def test_publicity_state_on_a_given_day(today: date, state: PublicityState) -> None:
    assert make().publicity_state(today) is state


def test_publicity_state_labels() -> None:
    assert PublicityState.not_started.label == "未开始"
    assert PublicityState.running.label == "公示中"
    assert PublicityState.ended.label == "已结束"


def test_no_publicity_period_means_long_term() -> None:
    notice = make(kind="policy", project=None, publicity=None, level="county", area="什邡市")
    assert notice.publicity_state(date(2018, 7, 8)) is PublicityState.none
    assert notice.publicity_state(date(2018, 7, 8)).label == "长期公开"


def test_publicity_end_before_start_is_refused() -> None:
    with pytest.raises(ValidationError, match="end 2018-07-01 is before"):
        make(publicity={"start": date(2018, 7, 4), "end": date(2018, 7, 1)})


# -- time -----------------------------------------------------------------------------------

def test_published_is_made_aware_in_the_configured_zone() -> None:
    notice = make()
    assert notice.published.utcoffset() == timedelta(hours=8)
    assert notice.published_date == date(2018, 7, 4)
    other = Notice.model_validate(notice_data(), context={"timezone": "Asia/Urumqi"})
    assert other.published.utcoffset() == timedelta(hours=6)


def test_a_bare_date_is_published_at_nine() -> None:
    notice = make(published=date(2018, 7, 4))
    assert (notice.published.hour, notice.published.utcoffset()) == (9, timedelta(hours=8))


def test_is_due_needs_approval_and_time() -> None:
    approved = make()
    before = datetime.fromisoformat("2018-07-04T08:59:00+08:00")
    after = datetime.fromisoformat("2018-07-04T09:00:00+08:00")
    assert not approved.is_due(before)
    assert approved.is_due(after)
    assert not make(status="draft").is_due(after)


# -- enums, in English or Chinese -------------------------------------------------------------

def test_chinese_labels_are_accepted() -> None:
    notice = make(kind="项目公示", level="村级", status="已审核")
    assert notice.kind is Kind.project_notice
    assert notice.level is Level.village
    assert notice.status is Status.approved
    assert make(kind=" 竣工公示 ").kind is Kind.completion_notice


def test_every_kind_has_label_and_badge() -> None:
    for kind in Kind:
        assert kind.label and kind.badge
    assert Kind.urgent.badge == "紧急"
    assert {k for k in Kind if k.is_fund_notice} == {
        Kind.fund_allocation, Kind.project_plan, Kind.project_notice, Kind.completion_notice}


def test_unknown_kind_lists_both_spellings() -> None:
    with pytest.raises(ValidationError) as caught:
        make(kind="新闻")
    message = str(caught.value)
    assert "'新闻' is not a known kind" in message
    assert "project_notice (项目公示)" in message


def test_parse_leaves_unknown_values_for_callers_to_judge() -> None:
    assert Kind.parse("紧急") is Kind.urgent
    assert Kind.parse("nothing") == "nothing"


# -- areas ----------------------------------------------------------------------------------

def test_area_chain_and_place() -> None:
    notice = make()
    assert notice.area_parts == ("什邡市", "师古镇", "马祖村")
    assert notice.area_chain == ("什邡市", "什邡市/师古镇", "什邡市/师古镇/马祖村")
    assert notice.place == "什邡市师古镇马祖村"


def test_area_is_normalised() -> None:
    assert make(area=" 什邡市 / 师古镇 / 马祖村 ").area == "什邡市/师古镇/马祖村"


def test_level_must_match_area_depth() -> None:
    with pytest.raises(ValidationError, match="needs an area of 2 name"):
        make(level="town")


# -- the rules the model enforces itself -------------------------------------------------------

def test_funds_must_add_up_to_a_stated_total() -> None:
    project = notice_data()["project"] | {"total": 700000}
    with pytest.raises(ValidationError, match="add up to 685000 yuan"):
        make(project=project)


def test_a_correction_needs_its_note() -> None:
    with pytest.raises(ValidationError, match="revision 2 needs a 'correction'"):
        make(revision=2)
    corrected = make(revision=2,
                     correction={"note": "更正总投资", "changes": ["总投资更正为68.5万元"]})
    assert corrected.is_correction


def test_a_withdrawal_needs_its_reason() -> None:
    with pytest.raises(ValidationError, match="withdrawal"):
        make(status="withdrawn")
    withdrawn = make(status="withdrawn", withdrawal={"reason": "地点调整", "on": date(2018, 7, 5)})
    assert withdrawn.is_withdrawn
    assert withdrawn.is_due(datetime.fromisoformat("2018-07-06T00:00:00+08:00"))


def test_fund_notices_need_a_project() -> None:
    with pytest.raises(ValidationError, match="needs a 'project:'"):
        make(project=None)


@pytest.mark.parametrize("bad", ["SF-2018", "sf 2018", "sf--2018", "-sf", "sf/2018", ""])
def test_id_must_be_a_slug(bad: str) -> None:
    with pytest.raises(ValidationError):
        make(id=bad)


def test_numeric_id_is_text() -> None:
    assert make(id=20180012).id == "20180012"


@pytest.mark.parametrize("number", [
    "0838-8202012", "08388202012", "023-59222316", "0826-2338101", "010-12345678",
    "0838-8202012-806", "13908101234", "+8613908101234", "12317", "110", "12345",
])
def test_plausible_phones(number: str) -> None:
    assert is_plausible_phone(number)


@pytest.mark.parametrize("number", [
    "8202012", "0838-82020", "1390810123", "23908101234", "12", "phone", "0838-820201234",
])
def test_implausible_phones(number: str) -> None:
    assert not is_plausible_phone(number)


def test_unquoted_hotline_number_is_text() -> None:
    notice = make(contact={"office_phone": "0838-8512345", "hotline": 12317})
    assert notice.contact.hotline == "12317"
    assert notice.contact.phones() == [("咨询电话", "0838-8512345"), ("扶贫监督举报电话", "12317")]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="titel"):
        make(titel="x")


# -- identity -------------------------------------------------------------------------------

def test_notices_are_frozen() -> None:
    notice = make()
    with pytest.raises(ValidationError):
        notice.title = "改了"  # type: ignore[misc]


def test_content_hash_is_stable_and_sensitive() -> None:
    a, b = make(), make()
    assert a.content_hash == b.content_hash
    assert make(summary="改了一个字。").content_hash != a.content_hash
    copy = pickle.loads(pickle.dumps(a))  # notices travel to worker processes
    assert copy == a and copy.content_hash == a.content_hash


@pytest.mark.parametrize("written", [
    "2018-07-04 09:00:00", "2018-07-04T09:00:00", "2018-07-04", datetime(2018, 7, 4, 9),
    date(2018, 7, 4), "2018-07-04T09:00:00+08:00", "2018-07-04T01:00:00Z",
])
def test_published_is_always_aware(written: object) -> None:
    # Quoted times reach the model as text; they must not stay naive (and then fail to compare).
    notice = make(published=written)
    assert notice.published.tzinfo is not None
    assert notice.published == datetime.fromisoformat("2018-07-04T09:00:00+08:00")
