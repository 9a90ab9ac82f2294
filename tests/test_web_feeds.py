"""Atom feeds and the sitemap: they parse, ids are stable, `updated` moves with a revision."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import feedparser
from test_web_support import announcement, build_web, make_project, notice, site_of, write_notice

from pipeline.renderers.web_links import area_dir, department_dir

ATOM = "{http://www.w3.org/2005/Atom}"


def test_every_feed_parses_cleanly(demo_project: Path, demo_today: date) -> None:
    build_web(demo_project, demo_today)
    feeds = list(site_of(demo_project).rglob("feed.xml"))
    assert len(feeds) > 5  # everything, each area, each department
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.version == "atom10"
        for entry in parsed.entries:
            assert entry.id.startswith("urn:uuid:")
            assert entry.link.startswith("https://gongshi.example.gov.cn/notices/")
            assert entry.summary


def test_area_and_department_feeds(tmp_path: Path) -> None:
    town = announcement("sf-2018-0200", level="town", area="什邡市/洛水镇",
                        issuer="什邡市洛水镇人民政府")
    root = make_project(tmp_path / "p", [notice(), town])
    build_web(root)
    site = site_of(root)

    def ids(path: Path) -> set[str]:
        return {e.link.rsplit("/", 2)[-2] for e in feedparser.parse(path.read_bytes()).entries}

    assert ids(site / "feed.xml") == {"sf-2018-0012", "sf-2018-0200"}
    assert ids(site / area_dir("什邡市") / "feed.xml") == {"sf-2018-0012", "sf-2018-0200"}
    assert ids(site / area_dir("什邡市/洛水镇") / "feed.xml") == {"sf-2018-0200"}
    assert ids(site / area_dir("什邡市/师古镇/马祖村") / "feed.xml") == {"sf-2018-0012"}
    assert ids(site / department_dir("什邡市洛水镇人民政府") / "feed.xml") == {"sf-2018-0200"}


def test_entry_id_is_stable_and_updated_moves_with_the_revision(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    first = feedparser.parse((site_of(root) / "feed.xml").read_bytes()).entries[0]
    write_notice(root, notice(revision=2, correction={"note": "更正金额", "changes": ["x"]}))
    build_web(root)
    second = feedparser.parse((site_of(root) / "feed.xml").read_bytes()).entries[0]
    assert second.id == first.id
    assert second.updated_parsed > first.updated_parsed
    assert second.title.startswith("【更正】")
    assert second.published_parsed == first.published_parsed


def test_sitemap_lists_pages_with_absolute_urls(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice(), announcement("sf-2018-0300")])
    build_web(root)
    tree = ET.parse(site_of(root) / "sitemap.xml")
    urls = [u.findtext("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
            for u in tree.getroot()]
    assert "https://gongshi.example.gov.cn/" in urls
    assert "https://gongshi.example.gov.cn/notices/sf-2018-0012/" in urls
    assert "https://gongshi.example.gov.cn/notices/sf-2018-0300/" in urls
    assert all(u and u.startswith("https://gongshi.example.gov.cn/") for u in urls)
    assert len(urls) == len(set(urls))


def test_feed_escapes_markup_in_titles(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice(title="<b>标题</b> & 更多")])
    build_web(root)
    root_element = ET.parse(site_of(root) / "feed.xml").getroot()
    title = root_element.find(f"{ATOM}entry/{ATOM}title")
    assert title is not None and title.text == "<b>标题</b> & 更多"
