"""The SMS digest: who gets which notice, the text, the budget, the renderer's outputs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import BuildOptions, build
from pipeline.config import Config, load_config
from pipeline.model import Notice
from pipeline.project import Project
from pipeline.renderers.base import RenderContext
from pipeline.renderers.sms import (
    DigestItem,
    SmsRenderer,
    applies_to,
    compose_digest,
    current_notices,
)
from pipeline.renderers.sms_segment import segment
from pipeline.renderers.web_links import area_dir
from pipeline.subscribers import load_subscribers
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2018, 7, 8)
VILLAGE = "什邡市/师古镇/马祖村"


def make_config(**sms: Any) -> Config:
    base = load_config(REPO / "noticecast.yaml")
    return base.model_copy(update={"sms": base.sms.model_copy(update=sms)}) if sms else base


def make_ctx(config: Config | None = None) -> RenderContext:
    return RenderContext(config=config or make_config(), today=TODAY,
                         templates=make_environment(template_dirs(REPO)))


def notice(id: str, area: str, kind: str = "project_notice", **extra: Any) -> Notice:
    level = {1: "county", 2: "town", 3: "village"}[len(area.split("/"))]
    data: dict[str, Any] = {
        "id": id, "kind": kind, "title": f"{area.split('/')[-1]}道路硬化工程项目公示",
        "issuer": "什邡市扶贫移民局", "level": level, "area": area,
        "published": "2018-07-04 09:00:00", "summary": "摘要。", "body": "正文。",
        "status": "approved", "publicity": {"start": "2018-07-04", "end": "2018-07-14"},
    }
    if kind in ("fund_allocation", "project_plan", "project_notice", "completion_notice"):
        data["project"] = {
            "name": f"{area.split('/')[-1]}道路硬化工程", "location": area, "content": "硬化道路",
            "implementer": "镇政府", "responsible": {"name": "李明"},
            "funds": [{"source": "中央财政专项扶贫资金", "amount": 685000}]}
    data.update(extra)
    return Notice.model_validate(data)


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

def test_format_signature_items_links_opt_out() -> None:
    ctx = make_ctx()
    digest = compose_digest([notice("sf-1", VILLAGE)], VILLAGE, ctx)
    assert digest.text == ("【扶贫公示】\n"
                           "1.马祖村道路硬化工程，68.5万元 https://gongshi.example.gov.cn/n/sf-1\n"
                           "回T退订")
    assert digest.parts == segment(digest.text).parts and digest.encoding == "UCS-2"
    assert digest.notice_ids == ("sf-1",)
    assert digest.digest_id.startswith("dg-")


def test_urgent_first_then_corrections_and_withdrawals_marked() -> None:
    ctx = make_ctx(make_config(max_parts=10))
    plain = notice("n-plain", VILLAGE, published="2018-07-07 09:00:00")
    urgent = notice("n-urgent", VILLAGE, kind="urgent", title="关于暂停马祖村道路施工的紧急通知",
                    publicity=None, published="2018-07-01 09:00:00")
    revised = notice("n-fix", VILLAGE, revision=2, correction={"note": "金额更正"})
    gone = notice("n-gone", VILLAGE, status="withdrawn", withdrawal={"reason": "重复发布"})
    digest = compose_digest([plain, (revised, "correction"), DigestItem(gone, "withdrawal"),
                             urgent], VILLAGE, ctx)
    lines = digest.text.split("\n")
    assert lines[0] == "【扶贫公示】" and lines[-1] == "回T退订"
    assert lines[1] == "1.【紧急】暂停马祖村道路施工 https://gongshi.example.gov.cn/n/n-urgent"
    assert lines[2].startswith("2.【更正】") or lines[2].startswith("2.【撤回】")
    assert {lines[2][2:6], lines[3][2:6]} == {"【更正】", "【撤回】"}
    assert "68.5万元" not in next(line for line in lines if "【撤回】" in line)
    assert lines[4].startswith("4.马祖村道路硬化工程，68.5万元")
    assert digest.notice_ids[0] == "n-urgent" and digest.notice_ids[-1] == "n-plain"


def test_a_bare_notice_says_what_it_is() -> None:
    revised = notice("n-fix", VILLAGE, revision=2, correction={"note": "金额更正"})
    gone = notice("n-gone", VILLAGE, status="withdrawn", withdrawal={"reason": "重复"})
    assert DigestItem.of(revised).event == "correction"
    assert DigestItem.of(gone).event == "withdrawal"
    assert DigestItem.of(notice("n", VILLAGE)).event == "publish"


@pytest.mark.parametrize("max_parts", [1, 2, 3, 5])
def test_the_budget_counts_what_it_cannot_name(max_parts: int) -> None:
    ctx = make_ctx(make_config(max_parts=max_parts))
    many = [notice(f"sf-2018-{i:04d}", VILLAGE) for i in range(12)]
    digest = compose_digest(many, VILLAGE, ctx)
    cut = segment(digest.text)
    assert cut.segments <= max_parts and digest.parts == cut.parts
    listing = f"https://gongshi.example.gov.cn/{area_dir(VILLAGE)}"
    assert digest.text.endswith(f"等12条，详见 {listing}\n回T退订")
    assert sorted(digest.notice_ids) == sorted(n.id for n in many)  # none dropped silently
    named = sum(1 for line in digest.text.split("\n") if line[:1].isdigit())
    assert named < 12
    if max_parts >= 3:
        assert named >= 1


def test_everything_fits_when_the_budget_allows() -> None:
    ctx = make_ctx(make_config(max_parts=10))
    digest = compose_digest([notice(f"n{i}", VILLAGE) for i in range(3)], VILLAGE, ctx)
    assert "等" not in digest.text and digest.text.count("\n") == 4


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
    # the correction of 宏达村 (revision 2) comes first; 红豆村's has not started yet
    assert ids == ("sf-2018-0013", "sf-2018-0012", "sf-2018-0008")


def test_the_renderer_writes_previews_and_area_digests(demo_project: Path) -> None:
    project = Project.open(demo_project)
    report = build(project, BuildOptions(today=TODAY, only=("sms",), workers=1))
    assert report.ok, report.problems
    out = demo_project / "out" / "sms"
    one = json.loads((out / "sf-2018-0012" / "sms.json").read_text("utf-8"))
    assert one["encoding"] == "UCS-2" and one["segments"] == len(one["parts"]) >= 1
    assert "".join(one["parts"]) == one["text"]
    assert one["part_units"] == [len(p.encode("utf-16-le")) // 2 for p in one["parts"]]
    assert "https://gongshi.example.gov.cn/n/sf-2018-0012" in one["text"]
    village = json.loads((out / "digests" / "什邡市" / "师古镇" / "马祖村.json").read_text("utf-8"))
    assert set(village["notice_ids"]) == {"sf-2018-0012", "sf-2018-0008"}
    text = (out / "digests" / "什邡市" / "师古镇" / "马祖村.txt").read_text("utf-8")
    assert text == village["text"] + "\n"
    assert (out / "digests" / "什邡市.json").exists()  # county and town samples too
    assert (out / "digests" / "什邡市" / "师古镇.json").exists()
    assert SmsRenderer.collection_uses_today
