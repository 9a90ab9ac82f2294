"""The portal in headless Chromium: search recall typing into the box (the demo, and 1,000
synthetic notices), as-you-type paging and highlighting, filters, the large-text switch,
readable addresses served percent-encoded."""

from __future__ import annotations

import re
import shutil
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from test_web_support import build_web, make_project, notice, serving, site_of

from pipeline.renderers.web_search import grams, normalise, runs

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    tab = context.new_page()
    yield tab
    context.close()


def search(tab: Any, query: str) -> list[str]:
    """Type ``query`` into the box like a reader; every result id, across all result pages."""
    tab.fill("#q", "")
    tab.type("#q", query, delay=15)
    tab.wait_for_function(
        "q => document.getElementById('search-results').getAttribute('data-query') === q",
        arg=query, timeout=15_000)
    found: list[str] = []
    while True:
        found += tab.eval_on_selector_all(
            "#search-results .item-title a",
            "as => as.map(a => decodeURIComponent(a.href).split('/notices/')[1].split('/')[0])")
        if tab.locator("#search-pager").is_hidden() or tab.locator("#search-next").is_disabled():
            return found
        label = tab.inner_text("#search-page")
        tab.click("#search-next")
        tab.wait_for_function("t => document.getElementById('search-page').textContent !== t",
                              arg=label)


# The page's own chrome, the same on every notice: section headings, field labels, the
# objection note, the QR caption, badges. Not the notice's words, and not indexed.
CHROME = re.compile(r'<(h2|dt|th|figcaption|nav)\b.*?</\1>|<p class="(note|data-links|tags)".*?</p>'
                    r'|<svg.*?</svg>|<span class="(state|tag|badge)[^"]*">.*?</span>', re.S)


def page_texts(site: Path) -> dict[str, str]:
    """Each notice page's visible words (its <main> without the chrome), normalised."""
    out = {}
    for path in (site / "notices").glob("*/index.html"):
        html = path.read_text("utf-8")
        main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
        main = CHROME.sub("", main)
        text = unescape(re.sub(r"<[^>]+>", "", main))
        out[path.parent.name] = re.sub(r"\s+", "", normalise(text))
    return out


# Queries typed without spaces between words, and the words a reader means by them.
SPACELESS = {"马祖村道路": ("马祖村", "道路"), "宏达村大棚": ("宏达村", "大棚"),
             "龙台镇危房改造": ("龙台镇", "危房改造")}


def holders(texts: dict[str, str], query: str) -> set[str]:
    """Notices whose page shows every word of ``query`` (each run of letters and digits, or
    the words of a query typed without spaces)."""
    words = SPACELESS.get(query) or runs(normalise(query))
    return {k for k, text in texts.items() if all(w in text for w in words)}


DEMO_QUERIES = [
    "马祖村", "中央财政专项扶贫资金", "马祖村道路", "宏达村大棚", "龙台镇危房改造", "李明华",
    "13908101234", "68.5万元", "0838-8512345", "产业道路硬化", "危房改造", "诈骗", "手续费",
    "花桥镇", "城口县", "公示期10天", "易地扶贫搬迁", "12317", "带动", "贫困户增收",
    "宏达村蔬菜大棚", "实施地点由3组调整为5组", "已撤回", "c25", "统筹整合财政涉农资金",
    "龙台镇石龙村", "2018年7月", "村", "镇",
]


def test_search_recall_on_the_demo_typing_into_the_box(demo_project: Path, demo_today: date,
                                                        page: Any) -> None:
    build_web(demo_project, demo_today)
    site = site_of(demo_project)
    texts = page_texts(site)
    # Drawn from the pages too: a stretch of each notice's summary and body.
    drawn = []
    for text in sorted(texts.values())[:12]:
        start = len(text) // 3
        drawn.append(text[start:start + 6])
    total = found_total = 0
    with serving(site) as base:
        page.goto(base + "search/")
        for query in [*DEMO_QUERIES, *drawn]:
            want = holders(texts, query)
            got = set(search(page, query))
            assert want <= got, (query, sorted(want - got))
            assert want, query  # a query drawn from the pages finds them
            total += len(want)
            found_total += len(want & got)
    assert total > 150 and found_total == total


def test_as_you_type_paged_highlighted_and_filtered(demo_project: Path, demo_today: date,
                                                    page: Any) -> None:
    build_web(demo_project, demo_today)
    with serving(site_of(demo_project)) as base:
        page.goto(base + "search/")
        page.type("#q", "中央财政专项扶贫资金", delay=15)  # no Enter: results come as one types
        page.wait_for_function("document.getElementById('search-results')"
                               ".getAttribute('data-query') === '中央财政专项扶贫资金'")
        assert page.locator("#search-results li").count() == 10
        assert page.is_visible("#search-pager") and "第 1 / " in page.inner_text("#search-page")
        assert page.locator("#search-results mark").count() > 0
        marks = page.eval_on_selector_all("#search-results mark",
                                          "ms => ms.map(m => m.textContent)")
        assert "中央财政专项扶贫资金" in marks
        assert "q=%E4%B8%AD" in page.url  # the query is in the address, to share or go back to
        # Title and place rank above the body: 马祖村 in a title comes first.
        ids = search(page, "马祖村")
        assert ids[0].startswith("sf-2018-0012") or "马祖村" in page.inner_text(
            "#search-results li:first-child .item-title")
        page.select_option("#f-area", "城口县")
        page.wait_for_timeout(600)
        places = page.eval_on_selector_all("#search-results .item-meta",
                                           "ps => ps.map(p => p.textContent)")
        assert all("城口县" in p for p in places)
        page.fill("#q", "")
        page.select_option("#f-area", "")
        page.select_option("#f-status", "withdrawn")
        page.wait_for_timeout(600)
        assert page.locator("#search-results li").count() >= 1
        assert page.locator("#search-results li .state-withdrawn").count() == \
            page.locator("#search-results li").count()


def test_search_recall_over_1000_synthetic_notices(tmp_path: Path, page: Any) -> None:
    """The benchmark's 1,000 notices: the index the build makes, searched in the browser."""
    from bench.generate import generate
    from pipeline.load import load_notices
    from pipeline.project import Project
    from pipeline.renderers.web_search import SearchDoc, build_index
    from pipeline.renderers.web_text import page_text

    project = Project.open(generate(tmp_path / "bench", 1000))
    notices = load_notices([project.content_dir], project.config, project.root).notices
    site_root = make_project(tmp_path / "p", [notice()])
    build_web(site_root)
    site = site_of(site_root)
    docs, texts = [], {}
    for item in notices:
        text = page_text(item)
        docs.append(SearchDoc([item.id, item.title, item.kind.value, "2018-07-01", item.area,
                               item.issuer, "running", item.summary], text.heading, text.body))
        texts[item.id] = re.sub(r"\s+", "", normalise(text.full))
    shutil.rmtree(site / "search" / "s")
    for path, data in build_index(docs, {"areas": [], "years": [], "kinds": [],
                                         "status": []}).files:
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(data)
    road = next(n for n in notices if "产业道路" in n.title and n.area.count("/") == 2)
    person = next(n for n in notices if n.project is not None).project
    assert person is not None
    SPACELESS[road.area_parts[-1] + "道路"] = (road.area_parts[-1], "道路")
    queries = ["马祖村", "中央财政专项扶贫资金", road.area_parts[-1] + "道路",
               person.responsible.name, person.responsible.phone or "0838", "茶叶种植基地",
               "东西部扶贫协作资金", "便民桥", "光伏电站", "群众投工投劳折资"]
    with serving(site) as base:
        page.goto(base + "search/")
        for query in queries:
            want = holders(texts, query)
            got = set(search(page, query))
            assert want <= got, (query, len(want - got))
            assert want, query


def test_large_text_switch_persists(demo_project: Path, demo_today: date, page: Any) -> None:
    build_web(demo_project, demo_today)
    with serving(site_of(demo_project)) as base:
        page.goto(base)
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        page.click("#text-size")
        assert page.get_attribute("#text-size", "aria-pressed") == "true"
        larger = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert larger >= size * 1.25
        page.goto(base + "notices/sf-2018-0012/")  # another page, still large
        assert page.evaluate("document.documentElement.classList.contains('large-text')")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.click("#text-size")
        page.reload()
        assert not page.evaluate("document.documentElement.classList.contains('large-text')")


def test_readable_addresses_open_percent_encoded_and_old_ones_redirect(
        demo_project: Path, demo_today: date, page: Any) -> None:
    from pipeline.renderers.web_links import area_hash_dir

    build_web(demo_project, demo_today)
    with serving(site_of(demo_project)) as base:
        page.goto(base + "areas/%E4%BB%80%E9%82%A1%E5%B8%82/%E5%B8%88%E5%8F%A4%E9%95%87/"
                         "%E9%A9%AC%E7%A5%96%E6%9D%91/")
        assert "马祖村" in page.inner_text("h1") and "sf-2018-0012" in page.content()
        page.goto(base + area_hash_dir("什邡市/师古镇/马祖村"))
        page.wait_for_url("**/areas/%E4%BB%80%E9%82%A1%E5%B8%82/**")
        assert "马祖村" in page.inner_text("h1")
        assert grams("马祖")  # the same cutting as the index
