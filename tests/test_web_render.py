"""The web renderer's pages: every field of a notice, listings, drafts, withdrawals, links."""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from test_web_support import (
    announcement,
    build_web,
    html_problems,
    make_project,
    notice,
    site_of,
)

from pipeline.renderers.web_links import area_dir, department_dir


def page(site: Path, notice_id: str) -> str:
    return (site / "notices" / notice_id / "index.html").read_text("utf-8")


def test_notice_page_shows_every_field(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    html = page(site_of(root), "sf-2018-0012")
    for text in ("师古镇马祖村产业道路硬化工程项目公示", "什邡市师古镇人民政府", "项目公示", "村级",
                 "什邡市师古镇马祖村3组至5组", "新建C25混凝土产业道路2.3公里", "每公里补助29.8万元",
                 "2018年7月20日至2018年10月31日", "李明华", "中央财政专项扶贫资金", "40万元",
                 "8.5万元", "68.5万元", "解决3个村民小组1200余人出行难题", "带动32户贫困户增收",
                 "326户，其中贫困户32户", "2018年7月4日至2018年7月14日", "公示中", "项目明细表",
                 "2018年7月4日 09:00"):
        assert text in html, text
    for number in ("13908101234", "0838-8512345", "0838-8202012", "12317"):
        assert f'href="tel:{number}"' in html
    assert '<link rel="canonical" href="https://gongshi.example.gov.cn/notices/sf-2018-0012/">' \
        in html
    assert "<svg" in html and 'aria-label="本页二维码"' in html
    # The area as breadcrumbs, linking to the area pages, relatively.
    for area in ("什邡市", "什邡市/师古镇", "什邡市/师古镇/马祖村"):
        assert f'href="../../{area_dir(area)}"' in html
    assert f'href="../../{department_dir("什邡市师古镇人民政府")}"' in html
    assert html_problems(html) == []


def test_publicity_state_follows_the_day(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root, date(2018, 7, 20))
    assert "已结束" in page(site_of(root), "sf-2018-0012")
    assert "公示中" not in page(site_of(root), "sf-2018-0012")


def test_body_headings_sit_below_the_page_sections(tmp_path: Path) -> None:
    body = "# 一级\n\n### 三级\n\n正文"
    root = make_project(tmp_path / "p", [notice(body=body)])
    build_web(root)
    html = page(site_of(root), "sf-2018-0012")
    assert "<h3>一级</h3>" in html and "<h4>三级</h4>" in html
    assert html_problems(html) == []


def test_correction_note_lists_the_changes(tmp_path: Path) -> None:
    corrected = notice(revision=2, correction={
        "note": "更正资金来源金额", "changes": ["市级财政配套资金由8万元更正为8.5万元"]})
    root = make_project(tmp_path / "p", [corrected])
    build_web(root)
    html = page(site_of(root), "sf-2018-0012")
    assert "更正说明" in html and "市级财政配套资金由8万元更正为8.5万元" in html
    assert "第2版" in html


def test_withdrawn_stays_on_the_record_marked(tmp_path: Path) -> None:
    withdrawn = announcement("sf-2018-0099", status="withdrawn",
                             withdrawal={"reason": "项目调整，重新公示", "on": "2018-07-06"})
    root = make_project(tmp_path / "p", [notice(), withdrawn])
    build_web(root)
    site = site_of(root)
    html = page(site, "sf-2018-0099")
    assert "已撤回" in html and "项目调整，重新公示" in html and "2018年7月6日" in html
    # Listed where it belongs, marked 已撤回 with the reason; never among the running ones.
    for listing in (site / "index.html", site / area_dir("什邡市") / "index.html",
                    site / "years" / "2018" / "index.html"):
        text = listing.read_text("utf-8")
        assert "sf-2018-0099" in text and "已撤回：项目调整，重新公示" in text, listing
    assert "sf-2018-0099" not in (site / "running" / "index.html").read_text("utf-8")
    meta = json.loads((site / "search" / "meta.json").read_text("utf-8"))
    assert {d[0]: d[6] for d in meta["docs"]}["sf-2018-0099"] == "withdrawn"
    assert "notices/sf-2018-0099/" in (site / "sitemap.xml").read_text("utf-8")
    assert "【已撤回】" in (site / "feed.xml").read_text("utf-8")


def test_drafts_and_embargoed_notices_are_not_on_the_site(tmp_path: Path) -> None:
    draft = announcement("sf-2018-0100", status="draft")
    later = announcement("sf-2018-0101", published="2018-07-09 09:00:00")
    root = make_project(tmp_path / "p", [notice(), draft, later])
    build_web(root)
    site = site_of(root)
    assert not (site / "notices" / "sf-2018-0100").exists()
    assert not (site / "notices" / "sf-2018-0101").exists()
    everything = "".join(p.read_text("utf-8") for p in site.rglob("*")
                         if p.is_file() and p.suffix in (".html", ".xml", ".json"))
    assert "sf-2018-0100" not in everything and "sf-2018-0101" not in everything
    # The next day the embargoed one appears.
    build_web(root, date(2018, 7, 9))
    assert (site / "notices" / "sf-2018-0101" / "index.html").exists()


def test_short_link_redirects_to_the_notice(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    html = (site_of(root) / "n" / "sf-2018-0012" / "index.html").read_text("utf-8")
    assert '<meta http-equiv="refresh" content="0; url=../../notices/sf-2018-0012/">' in html
    assert 'rel="canonical" href="https://gongshi.example.gov.cn/notices/sf-2018-0012/"' in html
    assert html_problems(html) == []


def test_home_puts_running_notices_first_and_paginates(tmp_path: Path) -> None:
    old = [announcement(f"sf-2018-{i:04d}", published=f"2018-07-0{i % 7 + 1} 10:00:00")
           for i in range(1, 8)]
    root = make_project(tmp_path / "p", [notice(published="2018-07-01 08:00:00"), *old],
                        page_size=3)
    build_web(root)
    site = site_of(root)
    home = (site / "index.html").read_text("utf-8")
    assert home.index("公示中") < home.index("sf-2018-0012") < home.index("最新公告")
    assert (site / "page" / "2" / "index.html").exists()
    assert (site / "page" / "3" / "index.html").exists()
    assert not (site / "page" / "4").exists()
    second = (site / "page" / "2" / "index.html").read_text("utf-8")
    assert 'rel="prev" href="../../"' in second and 'rel="next" href="../../page/3/"' in second


def test_listings_by_department_area_year_and_kind(tmp_path: Path) -> None:
    town = announcement("sf-2018-0200", level="town", area="什邡市/洛水镇",
                        issuer="什邡市洛水镇人民政府")
    root = make_project(tmp_path / "p", [notice(), town])
    build_web(root)
    site = site_of(root)
    county = (site / area_dir("什邡市") / "index.html").read_text("utf-8")
    assert "sf-2018-0012" in county and "sf-2018-0200" in county
    village = (site / area_dir("什邡市/师古镇/马祖村") / "index.html").read_text("utf-8")
    assert "sf-2018-0012" in village and "sf-2018-0200" not in village
    tree = (site / "areas" / "index.html").read_text("utf-8")
    # County -> town -> village, configured areas kept even without notices.
    assert tree.index("什邡市") < tree.index("师古镇") < tree.index("马祖村") < tree.index("红豆村")
    assert "广安区" in tree
    dept = (site / department_dir("什邡市洛水镇人民政府") / "index.html").read_text("utf-8")
    assert "sf-2018-0200" in dept and "sf-2018-0012" not in dept
    assert "sf-2018-0012" in (site / "years" / "2018" / "index.html").read_text("utf-8")
    kinds = (site / "kinds" / "project_notice" / "index.html").read_text("utf-8")
    assert "sf-2018-0012" in kinds and "sf-2018-0200" not in kinds
    for path in site.rglob("*.html"):
        assert html_problems(path.read_text("utf-8")) == [], path


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("rel") not in ("stylesheet", "alternate"):
            return  # the canonical link is absolute on purpose
        for name in ("href", "src"):
            if values.get(name):
                self.links.append(values[name] or "")


def test_every_internal_link_is_relative_and_resolves(tmp_path: Path) -> None:
    """So that the site works under any sub-path: no link starts with '/', none dangles."""
    town = announcement("sf-2018-0200", level="town", area="什邡市/洛水镇")
    root = make_project(tmp_path / "p", [notice(), town], page_size=1)
    build_web(root)
    site = site_of(root)
    checked = 0
    for path in site.rglob("*.html"):
        relative = path.relative_to(site).as_posix()
        parser = _Links()
        parser.feed(path.read_text("utf-8"))
        for link in parser.links:
            if re.match(r"^(https?:|tel:|mailto:|#)", link):
                continue
            assert not link.startswith("/"), (relative, link)
            target = urlsplit(urljoin(f"http://x/{relative}", link)).path.lstrip("/")
            resolved = site / target
            if target == "" or target.endswith("/"):
                resolved = resolved / "index.html"
            assert resolved.is_file(), (relative, link)
            checked += 1
    assert checked > 50


def test_no_external_assets(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    for path in site_of(root).rglob("*.html"):
        text = path.read_text("utf-8")
        assert not re.search(r'(src|href)="(https?:)?//[^"]+\.(css|js)"', text)
        assert not re.search(r'<script[^>]+src="https?:', text)


def test_search_index_has_the_listed_notices(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice(), announcement("sf-2018-0300")])
    build_web(root)
    site = site_of(root)
    meta = json.loads((site / "search" / "meta.json").read_text("utf-8"))
    assert {d[0] for d in meta["docs"]} == {"sf-2018-0012", "sf-2018-0300"}
    shards = [json.loads(p.read_text("utf-8")) for p in (site / "search" / "s").glob("*.json")]
    assert len(shards) == meta["shards"]
    assert any("马祖" in shard for shard in shards)
    assert (site / "assets" / "search.js").is_file()
    assert html_problems((site / "search" / "index.html").read_text("utf-8")) == []


def test_demo_project_builds_valid_pages(demo_project: Path, demo_today: date) -> None:
    build_web(demo_project, demo_today)
    site = site_of(demo_project)
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    for path in pages:
        assert html_problems(path.read_text("utf-8")) == [], path


def test_incremental_rebuild_skips_unchanged_pages(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice(), announcement("sf-2018-0300")])
    build_web(root)
    report = build_web(root)
    assert report.renderers["web"].rendered == 0
    assert report.renderers["web"].skipped == 2
