"""The words of an SMS item and the rules that shorten them, by example and by property."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Config
from pipeline.model import Notice, format_short_date
from pipeline.renderers.base import RenderContext
from pipeline.renderers.sms import compose_digest
from pipeline.renderers.sms_segment import LIMITS
from pipeline.renderers.sms_words import ELLIPSIS, MIN_CUT, cut, place_for, plain_name
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2018, 7, 8)
NUMBER = re.compile(r"\d+(?:\.\d+)?")
URL = re.compile(r"https?://\S+")
PHONE = re.compile(r"(?:0\d{2,3}-\d{7,8}|1[3-9]\d{9}|12317)")
BASE = Config.model_validate({
    "office": {"phone": "0838-8202011", "supervision_phone": "0838-8202012"},
    "site": {"base_url": "https://gongshi.example.gov.cn"},
    "regions": {"什邡市": {"师古镇": ["马祖村", "红豆村"], "洛水镇": ["杨家村"]},
                "广安区": {"花桥镇": ["白云村"]}},
    "sms": {"subscribers": None},
})
TEMPLATES = make_environment(template_dirs(REPO))
AREAS = BASE.known_areas()


def make_notice(**data: Any) -> Notice:
    area = data["area"]
    defaults: dict[str, Any] = {
        "id": "n-1", "kind": "project_notice", "title": "道路硬化工程项目公示",
        "issuer": "镇人民政府",
        "level": {1: "county", 2: "town", 3: "village"}[area.count("/") + 1],
        "published": "2018-07-04 09:00:00", "summary": "摘要。", "body": "正文。",
        "status": "approved",
    }
    return Notice.model_validate({**defaults, **data})


# -- the rules by example --------------------------------------------------------------------

@pytest.mark.parametrize(("notice_area", "subscriber", "where"), [
    ("什邡市/师古镇/马祖村", "什邡市/师古镇/马祖村", "马祖村"),
    ("什邡市/师古镇/红豆村", "什邡市/师古镇/马祖村", "红豆村"),
    ("什邡市/师古镇", "什邡市/师古镇/马祖村", "师古镇"),
    ("什邡市", "什邡市/师古镇/马祖村", "什邡市"),
    ("什邡市/师古镇/马祖村", "什邡市/师古镇", "马祖村"),
    ("什邡市/师古镇/马祖村", "什邡市", "师古镇马祖村"),
    ("什邡市/洛水镇/杨家村", "什邡市/师古镇/马祖村", "洛水镇杨家村"),
    ("广安区/花桥镇/白云村", "什邡市/师古镇/马祖村", "广安区花桥镇白云村"),
])
def test_the_place_drops_the_county_and_town_the_subscriber_shares(
        notice_area: str, subscriber: str, where: str) -> None:
    assert place_for(notice_area, subscriber) == where


@pytest.mark.parametrize(("name", "plain"), [
    ("马祖村产业道路硬化工程", "产业道路硬化"),
    ("师古镇马祖村产业道路硬化工程", "产业道路硬化"),  # every leading place name goes
    ("马祖村蔬菜大棚产业扶贫项目", "蔬菜大棚产业扶贫"),
    ("马祖村人饮工程", "人饮工程"),  # fewer than four characters would be left
    ("2018年脱贫攻坚项目库第一批项目", "2018年脱贫攻坚项目库第一批"),
])
def test_the_name_drops_its_places_and_its_project_suffix(name: str, plain: str) -> None:
    notice = make_notice(area="什邡市/师古镇/马祖村", project={
        "name": name, "location": "马祖村", "content": "建设", "implementer": "镇政府",
        "responsible": {"name": "李明"}, "funds": [{"source": "中央", "amount": 1000}]})
    assert plain_name(notice) == plain


def test_without_a_project_the_title_is_the_headline() -> None:
    urgent = make_notice(area="什邡市/蓥华镇", kind="urgent",
                         title="关于暂停蓥华镇仁和村扶贫道路施工的紧急通知")
    assert plain_name(urgent) == "暂停蓥华镇仁和村扶贫道路施工"
    warning = make_notice(area="广安区", kind="urgent", title="紧急提醒：谨防冒充扶贫干部诈骗")
    assert plain_name(warning) == "谨防冒充扶贫干部诈骗"


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("产业道路硬化", 10, "产业道路硬化"),
    ("产业道路硬化及配套排水边沟建设", 10, "产业道路硬化及配套…"),
    ("受强降雨影响，仁和村扶贫道路暂停施工", 8, "受强降雨影响…"),  # no comma before …
    ("总投资更正为47.8万元", 10, "总投资更正为…"),  # not 47.… : back to before the number
    ("7月2日发布的公示有误", 3, "7月2日发布的…"),  # never below MIN_CUT, seven and …
    ("2018年7月4日发布的公示", 8, "2018年7月4日…"),  # one that opens the text stays whole
    ("请拨0838-8202012咨询", 8, "请拨…"),
    ("第一批项目于7月12日发布", 4, "第一批项目于…"),  # a date stays whole
])
def test_a_cut_never_splits_a_number_a_date_or_a_phone(text: str, limit: int,
                                                      expected: str) -> None:
    assert cut(text, limit) == expected


# -- the rules as properties -----------------------------------------------------------------

CHARS = st.sampled_from([*"村镇道路硬化产业扶贫大棚蔬菜灌溉设施建设水利安全饮水年月日第批",
                         *"0123456789.-、，（）项目工程", "马祖村", "师古镇", "什邡市",
                         "68.5万元", "2018年", "7月12日", "0838-8202012", "3组至5组", "2.3公里"])
WORDS = st.lists(CHARS, min_size=1, max_size=24).map("".join).filter(
    lambda s: s.strip() == s and not s.startswith(("-", ".")))
DAYS = st.integers(min_value=-20, max_value=20).map(lambda d: TODAY + timedelta(days=d))


@st.composite
def notices(draw: st.DrawFn, number: int) -> tuple[Notice, str]:
    area = draw(st.sampled_from(AREAS))
    event = draw(st.sampled_from(["publish", "publish", "correction", "withdrawal", "urgent"]))
    start = draw(DAYS)
    data: dict[str, Any] = {
        "id": f"n-{number}", "area": area, "title": draw(WORDS) + "公示",
        "summary": draw(WORDS), "published": f"{start.isoformat()} 09:00:00",
        "contact": draw(st.sampled_from([
            {}, {"supervision_phone": "0838-8202012"}, {"supervision_phone": "0838-8500000",
                                                       "office_phone": "0838-8512345"}])),
    }
    if event == "urgent":
        data.update(kind="urgent")
    else:
        amount = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"),
                                  places=2))
        data.update(
            publicity={"start": start.isoformat(),
                       "end": (start + timedelta(days=draw(st.integers(9, 30)))).isoformat()},
            project={"name": draw(WORDS), "location": area, "content": "建设",
                     "implementer": "镇政府", "responsible": {"name": "李明"},
                     "funds": [{"source": "中央财政专项扶贫资金", "amount": str(amount)}]})
    if event == "correction":
        data.update(revision=2, correction={"note": draw(WORDS)})
        if draw(st.booleans()):
            data["correction"]["sms_summary"] = draw(WORDS)
    if event == "withdrawal":
        data.update(status="withdrawn", withdrawal={"reason": draw(WORDS)})
        if draw(st.booleans()):
            data["withdrawal"]["on"] = draw(DAYS).isoformat()
    notice = make_notice(**data)
    return notice, "publish" if event == "urgent" else event


def numbers_of(notice: Notice) -> set[str]:
    """Every number a reader may find in a text about ``notice``: those it was written with,
    its amount in 万元 and its dates as the text shows them."""
    written = [notice.title, notice.summary, notice.area]
    if notice.project:
        written.append(notice.project.name)
    if notice.correction:
        written += [notice.correction.note, notice.correction.sms_summary or ""]
    if notice.withdrawal:
        written.append(notice.withdrawal.reason)
    shown = [notice.total_display or "", format_short_date(notice.published_date),
             format_short_date(TODAY)]
    if notice.publicity:
        shown.append(format_short_date(notice.publicity.end))
    if notice.withdrawal and notice.withdrawal.on:
        shown.append(format_short_date(notice.withdrawal.on))
    return {n for text in written + shown for n in NUMBER.findall(text)}


def config_for(max_parts: int, links: str, link_base: str | None) -> Config:
    sms = type(BASE.sms).model_validate({**BASE.sms.model_dump(), "max_parts": max_parts,
                                         "links": links, "link_base": link_base})
    return BASE.model_copy(update={"sms": sms})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(*(notices(i) for i in range(n)))),
       st.sampled_from(AREAS), st.integers(1, 5), st.sampled_from(["none", "area", "notice"]),
       st.sampled_from([None, "https://gs.example.cn"]))
def test_every_text_fits_names_a_phone_and_only_the_notices_numbers(
        items: tuple[tuple[Notice, str], ...], area: str, max_parts: int, links: str,
        link_base: str | None) -> None:
    ctx = RenderContext(config=config_for(max_parts, links, link_base), today=TODAY,
                        templates=TEMPLATES)
    digest = compose_digest(list(items), area, ctx)
    # every text fits max_parts, counted by UTF-16 units independently of the module
    assert "".join(digest.parts) == digest.text and 1 <= len(digest.parts) <= max_parts
    single, per_part = LIMITS["UCS-2"]
    limit = single if len(digest.parts) == 1 else per_part
    assert all(len(p.encode("utf-16-le")) // 2 <= limit for p in digest.parts)
    # every text names a phone
    assert PHONE.search(digest.text)
    # every number in an item is a number of its notice
    by_id = {notice.id: notice for notice, _ in items}
    for notice_id, line in digest.lines:
        found = set(NUMBER.findall(URL.sub("", line)))
        assert found <= numbers_of(by_id[notice_id]), (line, found - numbers_of(
            by_id[notice_id]))
        assert line in digest.text
    # nothing is lost: named or counted
    assert sorted(digest.notice_ids) == sorted(by_id)
    left = len(items) - len(digest.lines)
    assert (f"{left}条，详询" in digest.text) == (left > 0)
    # a link shorter than a part is never split between parts
    for match in URL.finditer(digest.text):
        if len(match.group()) < per_part:
            assert any(match.group() in part for part in digest.parts)


@settings(max_examples=300, deadline=None)
@given(WORDS, st.integers(0, 30))
def test_a_cut_keeps_its_promise(text: str, limit: int) -> None:
    result = cut(text, limit)
    if len(text) <= max(limit, MIN_CUT):
        assert result == text
        return
    assert result.endswith(ELLIPSIS) or result == text
    kept = result.removesuffix(ELLIPSIS)
    assert text.startswith(kept)
    assert set(NUMBER.findall(kept)) <= set(NUMBER.findall(text))
