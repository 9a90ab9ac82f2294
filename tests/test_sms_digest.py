"""The SMS digest: who gets which notice, the text, the budget, the renderer's outputs."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import BuildOptions, build
from pipeline.config import Config, load_config
from pipeline.errors import RenderError
from pipeline.model import Notice
from pipeline.project import Project
from pipeline.renderers.base import RenderContext
from pipeline.renderers.sms import (
    DigestCache,
    DigestItem,
    SmsRenderer,
    applies_to,
    compose_digest,
    current_notices,
    keep_whole,
)
from pipeline.renderers.sms_segment import LIMITS, segment
from pipeline.renderers.web_links import area_dir
from pipeline.subscribers import load_subscribers
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2018, 7, 8)
VILLAGE = "什邡市/师古镇/马祖村"
SITE = "https://gongshi.example.gov.cn"
URL = re.compile(r"https?://\S+")
PHONE = re.compile(r"(?:0\d{2,3}-\d{7,8}|1[3-9]\d{9}|12317)")
AMOUNT = re.compile(r"\d+(?:\.\d+)?万元")
DATE = re.compile(r"\d{1,2}月\d{1,2}日")


def make_config(**sms: Any) -> Config:
    base = load_config(REPO / "noticecast.yaml")
    settings = type(base.sms).model_validate({**base.sms.model_dump(), **sms})
    return base.model_copy(update={"sms": settings})


def make_ctx(config: Config | None = None, templates: Path | None = None) -> RenderContext:
    dirs = template_dirs(templates or REPO)
    return RenderContext(config=config or make_config(), today=TODAY,
                         templates=make_environment(dirs))


def notice(id: str, area: str, kind: str = "project_notice", **extra: Any) -> Notice:
    level = {1: "county", 2: "town", 3: "village"}[len(area.split("/"))]
    place = area.split("/")[-1]
    data: dict[str, Any] = {
        "id": id, "kind": kind, "title": f"{place}道路硬化工程项目公示",
        "issuer": "什邡市扶贫移民局", "level": level, "area": area,
        "published": "2018-07-04 09:00:00", "summary": "摘要。", "body": "正文。",
        "status": "approved", "publicity": {"start": "2018-07-04", "end": "2018-07-14"},
        "contact": {"office_phone": "0838-8512345", "supervision_phone": "0838-8202012"},
    }
    if kind in ("fund_allocation", "project_plan", "project_notice", "completion_notice"):
        data["project"] = {
            "name": f"{place}道路硬化工程", "location": area, "content": "硬化道路",
            "implementer": "镇政府", "responsible": {"name": "李明"},
            "funds": [{"source": "中央财政专项扶贫资金", "amount": 685000}]}
    data.update(extra)
    return Notice.model_validate(data)


def reader_problems(text: str, parts: tuple[str, ...], max_parts: int) -> list[str]:
    """What a villager reading the text would miss, by the rules of the issue: it names a
    phone, every item has an amount (when it is about money) and a date, no link is split
    between two parts, and the text fits ``max_parts``."""
    problems = []
    if not PHONE.search(text):
        problems.append("names no phone")
    lines = text.split("\n")
    for line in lines[1:]:
        if line.startswith(("另有", "共", "有异议", "详见")) or line.endswith("退订"):
            continue
        if "万元" not in line and not line.startswith("【紧急】"):
            problems.append(f"no amount: {line}")
        if not DATE.search(line):
            problems.append(f"no date: {line}")
    for match in URL.finditer(text):
        if not any(match.group() in part for part in parts):
            problems.append(f"link split between parts: {match.group()}")
    single, per_part = LIMITS["UCS-2"]
    limit = single if len(parts) == 1 else per_part
    if len(parts) > max_parts or any(len(p.encode("utf-16-le")) // 2 > limit for p in parts):
        problems.append(f"does not fit {max_parts} part(s)")
    if "".join(parts) != text:
        problems.append("the parts do not make the text")
    return problems


# -- targeting -----------------------------------------------------------------------------

def test_a_village_gets_its_own_its_town_and_its_county() -> None:
    config = make_config()
    assert applies_to(notice("a", VILLAGE), VILLAGE, config)
    assert applies_to(notice("b", "什邡市/师古镇"), VILLAGE, config)
    assert applies_to(notice("c", "什邡市"), VILLAGE, config)
    assert not applies_to(notice("d", "什邡市/师古镇/红豆村"), VILLAGE, config)  # a neighbour
    assert not applies_to(notice("e", "什邡市/洛水镇"), VILLAGE, config)
    assert not applies_to(notice("f", "广安区"), VILLAGE, config)


def test_county_notices_to_everyone_is_a_setting() -> None:
    config = make_config(county_to_everyone=False)
    assert not applies_to(notice("c", "什邡市"), VILLAGE, config)
    assert not applies_to(notice("c", "什邡市"), "什邡市/师古镇", config)
    assert applies_to(notice("c", "什邡市"), "什邡市", config)  # county subscribers still
    assert applies_to(notice("b", "什邡市/师古镇"), VILLAGE, config)


def test_a_town_or_county_subscriber_also_gets_the_places_below() -> None:
    config = make_config()
    assert applies_to(notice("a", VILLAGE), "什邡市/师古镇", config)
    assert applies_to(notice("a", VILLAGE), "什邡市", config)
    assert not applies_to(notice("a", VILLAGE), "什邡市/洛水镇", config)


def test_only_kinds_that_go_by_sms() -> None:
    config = make_config()
    policy = notice("p", VILLAGE, kind="policy", publicity=None)
    assert not applies_to(policy, VILLAGE, config)  # the demo sends policies to site etc.
    chosen = notice("q", VILLAGE, kind="policy", publicity=None, channels=["site", "sms"])
    assert applies_to(chosen, VILLAGE, config)


# -- the text ------------------------------------------------------------------------------

def test_the_text_carries_the_notice_the_phones_and_one_area_link() -> None:
    digest = compose_digest([notice("sf-1", VILLAGE)], VILLAGE, make_ctx())
    assert digest.text == ("【扶贫公示】\n"
                           "马祖村 道路硬化 68.5万元 公示至7月14日\n"
                           "有异议请拨0838-8202012或12317\n"
                           f"详见 {SITE}/{area_dir(VILLAGE)}\n"
                           "回T退订")
    assert "".join(digest.parts) == digest.text and digest.encoding == "UCS-2"
    assert digest.part_units == tuple(len(p) for p in digest.parts)  # all in the BMP
    assert digest.notice_ids == ("sf-1",) and digest.lines[0][0] == "sf-1"
    assert digest.digest_id.startswith("dg-")


def test_links_none_notice_and_a_short_domain() -> None:
    road = notice("sf-1", VILLAGE)
    none = compose_digest([road], VILLAGE, make_ctx(make_config(links="none")))
    assert "http" not in none.text and len(none.parts) == 1
    per_notice = compose_digest([road], VILLAGE, make_ctx(make_config(
        links="notice", link_base="https://gs.example.cn/")))
    assert per_notice.lines[0][1] == ("马祖村 道路硬化 68.5万元 公示至7月14日 "
                                      "https://gs.example.cn/n/sf-1")
    assert "详见" not in per_notice.text
    short = compose_digest([road], VILLAGE, make_ctx(make_config(
        link_base="https://gs.example.cn")))
    assert f"详见 https://gs.example.cn/{area_dir(VILLAGE)}" in short.text


def test_a_link_is_never_cut_between_parts_when_the_boundary_can_move() -> None:
    ctx = make_ctx(make_config(max_parts=5))
    roads = [notice(f"n{i}", VILLAGE) for i in range(4)]
    digest = compose_digest(roads, VILLAGE, ctx)
    link = URL.search(digest.text)
    assert link is not None and any(link.group() in part for part in digest.parts)
    # The same text cut without moving the boundary would split the link: the test can fail.
    for shift in range(30):
        text = "中" * shift + digest.text
        plain = segment(text)
        if not any(link.group() in part for part in plain.parts):
            break
    else:
        pytest.fail("no shift splits the link; the test would prove nothing")
    kept = segment(text, keep_whole(text))
    assert any(link.group() in part for part in kept.parts) and "".join(kept.parts) == text


def test_ranking_urgent_then_corrections_and_withdrawals_then_period_ends_soonest() -> None:
    ctx = make_ctx(make_config(max_parts=10, links="none"))
    late = notice("n-late", VILLAGE, publicity={"start": "2018-07-04", "end": "2018-07-20"})
    soon = notice("n-soon", VILLAGE, publicity={"start": "2018-07-04", "end": "2018-07-10"})
    urgent = notice("n-urgent", VILLAGE, kind="urgent", title="关于暂停马祖村道路施工的紧急通知",
                    publicity=None, published="2018-07-07 16:30:00")
    revised = notice("n-fix", VILLAGE, revision=2,
                     correction={"note": "金额有误，现予更正", "sms_summary": "资金更正为68.5万元"})
    gone = notice("n-gone", VILLAGE, status="withdrawn",
                  withdrawal={"reason": "项目调整，重新公示。", "on": "2018-07-06"})
    digest = compose_digest([late, soon, (revised, "correction"), DigestItem(gone, "withdrawal"),
                             urgent], VILLAGE, ctx)
    assert digest.notice_ids[0] == "n-urgent"
    assert set(digest.notice_ids[1:3]) == {"n-fix", "n-gone"}
    assert digest.notice_ids[3:] == ("n-soon", "n-late")
    lines = dict(digest.lines)
    assert lines["n-urgent"] == "【紧急】马祖村 暂停马祖村道路施工 7月7日发布"
    assert lines["n-fix"] == "【更正】马祖村 道路硬化 公示至7月14日 资金更正为68.5万元"
    assert lines["n-gone"] == "【撤回】马祖村 道路硬化 68.5万元 7月6日撤回 原因：项目调整，重新公示"
    assert lines["n-soon"] == "马祖村 道路硬化 68.5万元 公示至7月10日"


def test_a_correction_without_a_summary_says_its_note_and_keeps_the_amount() -> None:
    revised = notice("n-fix", VILLAGE, revision=2, correction={"note": "改正了实施单位。"})
    digest = compose_digest([(revised, "correction")], VILLAGE, make_ctx())
    assert digest.lines[0][1] == "【更正】马祖村 道路硬化 68.5万元 公示至7月14日 改正了实施单位"


def test_a_bare_notice_says_what_it_is() -> None:
    revised = notice("n-fix", VILLAGE, revision=2, correction={"note": "金额更正"})
    gone = notice("n-gone", VILLAGE, status="withdrawn", withdrawal={"reason": "重复"})
    assert DigestItem.of(revised).event == "correction"
    assert DigestItem.of(gone).event == "withdrawal"
    assert DigestItem.of(notice("n", VILLAGE)).event == "publish"


def test_the_objection_phone_is_the_issuers_else_the_offices() -> None:
    ctx = make_ctx(make_config(links="none"))
    own = notice("a", VILLAGE, contact={"supervision_phone": "0838-8500000"})
    text = compose_digest([own], VILLAGE, ctx).text
    assert "有异议请拨0838-8500000或12317" in text
    other = notice("b", "什邡市/师古镇", contact={"supervision_phone": "0838-8600000"})
    text = compose_digest([own, other], VILLAGE, ctx).text
    assert "有异议请拨0838-8202012或12317" in text  # two issuers: the office's
    assert text.count("有异议") == 1
    bare = notice("c", VILLAGE, contact={})
    office = make_config(links="none").office.model_copy(update={"supervision_phone": None})
    config = make_config(links="none").model_copy(update={"office": office})
    assert "有异议请拨0838-8202011或12317" in compose_digest([bare], VILLAGE,
                                                        make_ctx(config)).text


@pytest.mark.parametrize("max_parts", [1, 2, 3, 5])
def test_what_does_not_fit_is_counted_with_a_phone_to_ask(max_parts: int) -> None:
    ctx = make_ctx(make_config(max_parts=max_parts))
    many = [notice(f"sf-2018-{i:04d}", VILLAGE) for i in range(12)]
    digest = compose_digest(many, VILLAGE, ctx)
    assert len(digest.parts) <= max_parts
    assert digest.parts == segment(digest.text, keep_whole(digest.text)).parts
    shown = len(digest.lines)
    assert (1 if max_parts > 1 else 0) <= shown < 12  # one part holds the fixed lines only
    assert f"{'另有' if shown else '共'}{12 - shown}条，详询0838-8202011" in digest.text
    assert sorted(digest.notice_ids) == sorted(n.id for n in many)  # none dropped silently
    assert reader_problems(digest.text, digest.parts, max_parts) == []


def test_everything_fits_when_the_budget_allows() -> None:
    ctx = make_ctx(make_config(max_parts=10))
    digest = compose_digest([notice(f"n{i}", VILLAGE) for i in range(3)], VILLAGE, ctx)
    assert "另有" not in digest.text and len(digest.lines) == 3


def test_names_are_cut_before_items_are_dropped_and_urgent_ones_last() -> None:
    long_name = "马祖村产业道路硬化及配套排水边沟和错车道建设工程"
    roads = [notice(f"n{i}", VILLAGE, project={
        "name": long_name, "location": VILLAGE, "content": "硬化道路", "implementer": "镇政府",
        "responsible": {"name": "李明"}, "funds": [{"source": "中央", "amount": 685000}]})
        for i in range(4)]
    urgent = notice("u", VILLAGE, kind="urgent", publicity=None,
                    title="关于马祖村产业道路施工期间暂停通行并请群众绕行的紧急通知")
    roomy = compose_digest(roads, VILLAGE, make_ctx(make_config(max_parts=10, links="none")))
    assert all("产业道路硬化及配套排水边沟和错车道建设 " in line for _, line in roomy.lines)
    tight = compose_digest([urgent, *roads], VILLAGE, make_ctx(make_config(max_parts=3,
                                                                           links="none")))
    lines = dict(tight.lines)
    assert lines["u"] == "【紧急】马祖村 马祖村产业道路施工期间暂停通行并请群众绕行 7月4日发布"
    cut = [line for notice_id, line in tight.lines if notice_id != "u"]
    assert len(cut) == 4 and "另有" not in tight.text
    assert all("…" in line and "68.5万元 公示至7月14日" in line for line in cut)
    assert len({line.split(" ")[1] for line in cut}) == 1  # one length for all


def test_a_budget_too_small_for_the_fixed_lines_is_an_error() -> None:
    config = make_config(max_parts=1, signature="【" + "很长的签名" * 10 + "】")
    with pytest.raises(RenderError, match=r"sms\.signature"):
        compose_digest([notice("a", VILLAGE)], VILLAGE, make_ctx(config))


def test_digest_id_is_stable_and_follows_the_content() -> None:
    ctx = make_ctx()
    one = compose_digest([notice("a", VILLAGE)], VILLAGE, ctx)
    assert compose_digest([notice("a", VILLAGE)], VILLAGE, ctx).digest_id == one.digest_id
    assert compose_digest([notice("b", VILLAGE)], VILLAGE, ctx).digest_id != one.digest_id


def test_the_channel_artifact() -> None:
    digest = compose_digest([notice("a", VILLAGE)], VILLAGE, make_ctx())
    artifact = digest.to_artifact()
    assert (artifact.renderer, artifact.path, artifact.media_type) == (
        "sms", "digest.json", "application/json")
    assert json.loads(artifact.data) == {"digest_id": digest.digest_id,
                                         "parts": list(digest.parts), "notice_ids": ["a"]}


def test_templates_are_overridable_per_project(tmp_path: Path) -> None:
    (tmp_path / "templates" / "sms").mkdir(parents=True)
    (tmp_path / "templates" / "sms" / "item.txt").write_text(
        "{{ where }}：{{ what }}，{{ amount }}，{{ when }}", "utf-8")
    digest = compose_digest([notice("a", VILLAGE)], VILLAGE, make_ctx(templates=tmp_path))
    assert digest.lines[0][1] == "马祖村：道路硬化，68.5万元，公示至7月14日"
    assert digest.text.endswith("回T退订")  # digest.txt still the packaged one


# -- one composition per distinct digest ---------------------------------------------------

def test_the_cache_composes_each_distinct_digest_once() -> None:
    cache = DigestCache(make_ctx())
    a, b = notice("a", VILLAGE), notice("b", "什邡市/师古镇")
    first = cache.compose([(a, "publish"), (b, "publish")], VILLAGE)
    assert cache.compose([(b, "publish"), (a, "publish")], VILLAGE) is first
    assert cache.compose([(a, "publish")], VILLAGE) is not first
    town = cache.compose([(a, "publish"), (b, "publish")], "什邡市/师古镇")
    assert town is not first and "师古镇" not in first.text.split("\n")[1]
    assert len(cache) == 3 and cache.hits == 1
    assert first == compose_digest([a, b], VILLAGE, make_ctx())


# -- the demo ------------------------------------------------------------------------------

def demo_digest(demo_project: Path, phone: str) -> tuple[str, tuple[str, ...]]:
    from pipeline.load import load_notices

    project = Project.open(demo_project)
    subscribers, _ = load_subscribers(demo_project / "subscribers.csv", project.config, "s")
    subscriber = next(s for s in subscribers if s.phone == phone)
    loaded = load_notices((project.content_dir,), project.config, project.root)
    ctx = RenderContext(config=project.config, today=TODAY, templates=project.templates)
    chosen = [n for n in current_notices(loaded.notices, ctx)
              if applies_to(n, subscriber.area, project.config)]
    return subscriber.area, compose_digest(chosen, subscriber.area, ctx).notice_ids


def test_the_demo_village_subscriber_gets_exactly_their_notices(demo_project: Path) -> None:
    area, ids = demo_digest(demo_project, "+8613800000001")
    assert area == VILLAGE
    # sf-2018-0012: 马祖村's road, publicity running; sf-2018-0008: 什邡市's project plan,
    # running. Not: 红豆村/宏达村 (neighbours), the town's draft sf-2018-0021, the county's
    # ended sf-2018-0003, the county's policy sf-2018-0005 (not an SMS kind), other counties.
    assert set(ids) == {"sf-2018-0012", "sf-2018-0008"}


def test_the_demo_town_subscriber_gets_the_villages_below(demo_project: Path) -> None:
    area, ids = demo_digest(demo_project, "+8613800000004")
    assert area == "什邡市/师古镇"
    # the correction of 宏达村 (revision 2) comes first, then the period that ends soonest;
    # 红豆村's has not started yet
    assert ids == ("sf-2018-0013", "sf-2018-0008", "sf-2018-0012")


def test_the_demo_digests_pass_a_readers_rules(demo_project: Path) -> None:
    project = Project.open(demo_project)
    report = build(project, BuildOptions(today=TODAY, only=("sms",), workers=1))
    assert report.ok, report.problems
    digests = sorted((demo_project / "out" / "sms" / "digests").rglob("*.json"))
    assert len(digests) >= 20  # every area with a current notice
    max_parts = project.config.sms.max_parts
    for path in digests:
        data = json.loads(path.read_text("utf-8"))
        assert reader_problems(data["text"], tuple(data["parts"]), max_parts) == [], path
    village = json.loads((demo_project / "out" / "sms" / "digests" / "什邡市" / "师古镇" /
                          "马祖村.json").read_text("utf-8"))
    assert "马祖村 产业道路硬化 68.5万元 公示至7月14日" in village["text"]
    town = json.loads((demo_project / "out" / "sms" / "digests" / "什邡市" /
                       "师古镇.json").read_text("utf-8"))
    assert "【更正】宏达村 蔬菜大棚产业扶贫 公示至7月11日 总投资更正为47.8万元" in town["text"]


def test_the_renderer_writes_previews_and_area_digests(demo_project: Path) -> None:
    project = Project.open(demo_project)
    report = build(project, BuildOptions(today=TODAY, only=("sms",), workers=1))
    assert report.ok, report.problems
    out = demo_project / "out" / "sms"
    one = json.loads((out / "sf-2018-0012" / "sms.json").read_text("utf-8"))
    assert one["encoding"] == "UCS-2" and one["segments"] == len(one["parts"]) >= 1
    assert "".join(one["parts"]) == one["text"]
    assert one["part_units"] == [len(p.encode("utf-16-le")) // 2 for p in one["parts"]]
    assert "马祖村 产业道路硬化 68.5万元 公示至7月14日" in one["text"]
    village = json.loads((out / "digests" / "什邡市" / "师古镇" / "马祖村.json").read_text("utf-8"))
    assert set(village["notice_ids"]) == {"sf-2018-0012", "sf-2018-0008"}
    text = (out / "digests" / "什邡市" / "师古镇" / "马祖村.txt").read_text("utf-8")
    assert text == village["text"] + "\n"
    assert (out / "digests" / "什邡市.json").exists()  # county and town samples too
    assert (out / "digests" / "什邡市" / "师古镇.json").exists()
    assert SmsRenderer.collection_uses_today


def test_the_demo_publish_sends_texts_that_pass_a_readers_rules(demo_project: Path) -> None:
    from pipeline.publish import PublishOptions, moment, publish

    project = Project.open(demo_project)
    report = publish(project, PublishOptions(now=moment(project.config, today=TODAY),
                                             channel="sms"))
    assert not report.problems, report.problems
    texts = [json.loads(p.read_text("utf-8"))
             for p in (demo_project / "out" / "channels" / "sms").glob("*.json")]
    assert len(texts) == 11  # one each, but 东河村 and 坪坝镇 have nothing current
    for sent in texts:
        text = "".join(sent["parts"])
        assert reader_problems(text, tuple(sent["parts"]), project.config.sms.max_parts) == []
    villager = next(t for t in texts if t["phone"] == "+8613800000001")
    assert "马祖村 产业道路硬化 68.5万元 公示至7月14日" in "".join(villager["parts"])
