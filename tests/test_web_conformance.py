"""Every page type of the site against the Nu Html Checker (vnu) and axe-core, 0 and 0.

The checkers are pinned in ``tests/peers/package.json`` (npm ``vnu-jar``, ``axe-core``;
``.ci/test-peers`` installs them) and vnu needs Java (Debian ``default-jre-headless``,
``.ci/system-deps --test``). The site checked is the demo plus what the demo lacks: a
correction with its earlier revision kept, an expired urgent notice, and every listing, the
search page with results shown, the 404 page and the redirects.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_web_support import build_web, serving, site_of

PEERS = Path(__file__).resolve().parent / "peers" / "node_modules"
VNU = PEERS / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = PEERS / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture(scope="module")
def full_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, built twice so that a correction keeps its first revision's page."""
    from conftest import DEMO_TODAY, REPO

    root = tmp_path_factory.mktemp("conformance") / "site"
    root.mkdir()
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    shutil.copytree(REPO / "content", root / "content")
    build_web(root, DEMO_TODAY)
    path = root / "content" / "2018" / "sf-2018-0012.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data.update(revision=2,
                correction={"note": "更正实施期限", "changes": ["完工时间改为11月30日"]})
    data["project"]["period"]["end"] = date(2018, 11, 30)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    build_web(root, DEMO_TODAY)
    return site_of(root)


def page_types(site: Path) -> dict[str, str]:
    """One page of every kind the site has (path relative to the site root)."""
    from pipeline.renderers.web_links import area_dir, area_hash_dir, department_dir

    pages = {
        "home": "", "home page 2": "page/2/", "running": "running/", "areas": "areas/",
        "county": area_dir("什邡市"), "village": area_dir("什邡市/师古镇/马祖村"),
        "department": department_dir("什邡市扶贫移民局"), "departments": "departments/",
        "year": "years/2018/", "years": "years/", "kind": "kinds/urgent/", "kinds": "kinds/",
        "notice": "notices/sf-2018-0013/", "project notice with attachments":
        "notices/sf-2018-0005/", "correction": "notices/sf-2018-0012/",
        "earlier revision": "notices/sf-2018-0012/r1/", "withdrawn": "notices/sf-2018-0020/",
        "urgent": "notices/ga-2018-0017/", "search": "search/", "404": "404.html",
        "redirect": area_hash_dir("什邡市"),
    }
    for name, target in pages.items():
        path = site / target / "index.html" if not target.endswith(".html") else site / target
        assert path.is_file(), (name, path)
    return pages


def test_every_page_passes_the_nu_html_checker(full_site: Path) -> None:
    if shutil.which("java") is None or not VNU.is_file():
        pytest.skip("vnu needs Java (default-jre-headless) and npm vnu-jar (bash .ci/test-peers)")
    page_types(full_site)
    result = subprocess.run(
        ["java", "-Xss4m", "-jar", str(VNU), "--format", "json", "--skip-non-html",
         "--also-check-css", "--also-check-svg", str(full_site)],
        capture_output=True, text=True, timeout=600, check=False)
    messages = json.loads(result.stderr or result.stdout)["messages"]
    checked = len(list(full_site.rglob("*.html")))
    errors = [f"{m['url'].rsplit('/web/', 1)[-1]}:{m.get('lastLine')}: {m['message']}"
              for m in messages if m["type"] == "error" or m.get("subType") == "fatal"]
    assert checked > 100 and errors == [], errors[:20]


def _axe(tab: Any) -> list[dict[str, Any]]:
    tab.add_script_tag(path=str(AXE))
    result = tab.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                          AXE_TAGS)
    return [{"id": v["id"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:3]} for v in result["violations"]]


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844},
                                      {"width": 1280, "height": 900}], ids=["phone", "desktop"])
def test_every_page_type_has_no_axe_violations(full_site: Path, browser: Any,
                                               viewport: dict[str, int]) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm, tests/peers; bash .ci/test-peers)")
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    found: dict[str, Any] = {}
    try:
        with serving(full_site) as base:
            for name, target in page_types(full_site).items():
                tab.goto(base + target)
                tab.wait_for_load_state("networkidle")
                found[name] = _axe(tab)
            # The search page with results and a pager showing, and in large text.
            tab.goto(base + "search/?q=中央财政专项扶贫资金")
            tab.wait_for_selector("#search-results li .item-snippet:not([hidden])")
            found["search results"] = _axe(tab)
            tab.click("#text-size")
            found["search results, large text"] = _axe(tab)
            tab.goto(base + "notices/sf-2018-0012/")
            found["correction, large text"] = _axe(tab)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
    assert len(found) >= 22
