"""Synthetic notices with realistic Chinese text, deterministic for a given seed.

The shapes follow the demo notices: every kind, the three levels, the areas of the demo config,
one to five fund sources, publicity periods around the demo's day. Text is drawn from word lists
so that the renderers see realistic line lengths and glyph variety, not one repeated string.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml

from pipeline.model import FUND_KINDS, Kind

REPO = Path(__file__).resolve().parent.parent

WORKS = [
    "产业道路硬化工程",
    "安全饮水巩固提升工程",
    "村级光伏电站",
    "茶叶种植基地",
    "猕猴桃产业园",
    "生猪养殖小区",
    "危旧房改造",
    "易地扶贫搬迁安置点配套设施",
    "便民桥新建工程",
    "农田水利灌溉渠",
    "电子商务服务站",
    "香菇种植大棚",
    "中药材示范基地",
    "乡村旅游步道",
    "村卫生室标准化建设",
]
CONTENTS = [
    "新建C25混凝土道路{n}公里，路面宽4.5米，配套排水边沟",
    "铺设供水管网{n}公里，新建蓄水池2口",
    "建设{n}千瓦光伏电站一座，收益用于贫困户分红",
    "新建标准化种植基地{n}百亩，配套灌溉设施",
    "改造危旧房{n}户，每户补助2万元",
    "新建钢筋混凝土便民桥1座，长{n}0米",
]
SOURCES = [
    "中央财政专项扶贫资金",
    "省级财政专项扶贫资金",
    "市级财政配套资金",
    "县级财政配套资金",
    "东西部扶贫协作资金",
    "定点帮扶单位捐赠资金",
    "村集体自筹资金",
    "群众投工投劳折资",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["明华", "建国", "秀英", "志强", "丽娟", "德福", "海燕", "国庆", "春梅", "永红"]
AREA_CODES = {"什邡市": "0838", "广安区": "0826", "城口县": "023"}
TODAY = date(2018, 7, 8)


@dataclass(frozen=True)
class Area:
    county: str
    town: str | None
    village: str | None

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.county, self.town, self.village) if p)

    @property
    def level(self) -> str:
        return "village" if self.village else ("town" if self.town else "county")


def areas(regions: dict[str, dict[str, list[str]]]) -> list[Area]:
    found = []
    for county, towns in regions.items():
        found.append(Area(county, None, None))
        for town, villages in towns.items():
            found.append(Area(county, town, None))
            found.extend(Area(county, town, v) for v in villages)
    return found


def notice(rng: random.Random, number: int, area: Area) -> dict[str, object]:
    kind = rng.choice(list(Kind))
    work = rng.choice(WORKS)
    place = area.village or area.town or area.county
    code = AREA_CODES.get(area.county, "0838")
    published = TODAY + timedelta(days=rng.randint(-40, 10))
    doc: dict[str, object] = {
        "id": f"bench-{number:05d}",
        "revision": 1,
        "kind": kind.value,
        "title": f"{place}{work}{kind.label}" + ("（第二批）" if rng.random() < 0.2 else ""),
        "issuer": f"{area.town}人民政府" if area.town else f"{area.county}扶贫开发局",
        "level": area.level,
        "area": area.path,
        "published": f"{published.isoformat()} 09:00:00",
        "contact": {"office_phone": f"{code}-{rng.randint(1000000, 8999999)}",
                    "supervision_phone": f"{code}-{rng.randint(1000000, 8999999)}",
                    "hotline": "12317"},
        "summary": f"{place}{work}有关情况现予公示，欢迎群众监督。",
        "body": "\n\n".join(
            f"根据有关规定，现将{place}{work}的实施情况予以公开。" * rng.randint(1, 3)
            for _ in range(rng.randint(2, 4))),
        "status": "approved" if rng.random() < 0.95 else "draft",
    }
    if kind in FUND_KINDS or (kind is Kind.urgent and rng.random() < 0.3):
        funds = [{"source": s, "amount": rng.randint(5, 900) * 1000}
                 for s in rng.sample(SOURCES, rng.randint(1, 5))]
        start = published
        doc["publicity"] = {"start": start.isoformat(),
                            "end": (start + timedelta(days=rng.randint(10, 20))).isoformat()}
        doc["project"] = {
            "name": f"{place}{work}",
            "location": f"{area.path.replace('/', '')}{rng.randint(1, 9)}组",
            "content": rng.choice(CONTENTS).format(n=rng.randint(1, 9)),
            "implementer": f"{area.town or area.county}人民政府",
            "responsible": {"name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                            "phone": f"139{rng.randint(10000000, 99999999)}"},
            "funds": funds,
            "beneficiaries": {"households": (h := rng.randint(20, 600)),
                              "poor_households": rng.randint(0, h // 4)},
        }
    if kind is Kind.policy:
        doc["interpretation"] = "本政策明确了扶贫资金项目公告公示的范围、内容和时限。"
    return doc


def generate(target: Path, n: int, *, seed: int = 2018) -> Path:
    """A site project at ``target`` with the demo config and ``n`` synthetic notices."""
    rng = random.Random(seed)
    if target.exists():
        shutil.rmtree(target)
    content = target / "content"
    content.mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", target / "noticecast.yaml")
    if (REPO / "subscribers.csv").exists():
        shutil.copy(REPO / "subscribers.csv", target / "subscribers.csv")
    config = yaml.safe_load((REPO / "noticecast.yaml").read_text("utf-8"))
    pool = areas(config["regions"])
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for number in range(1, n + 1):
        doc = notice(rng, number, rng.choice(pool))
        folder = content / str(doc["published"])[:4]  # type: ignore[index]
        folder.mkdir(exist_ok=True)
        (folder / f"{doc['id']}.yaml").write_text(
            yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False), "utf-8")
    return target
