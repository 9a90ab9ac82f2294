"""The preview desk in a real browser: all five outputs, and live updates as the YAML changes.

A preview server runs in a thread on 127.0.0.1 (a free port) against a copy of the demo project;
headless Chromium opens the index and a notice, then the test edits the notice's file on disk
and waits for the open page to change by itself (Server-Sent Events, no reload).
"""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.preview.server import HOST, BackgroundPreview
from pipeline.preview.state import PreviewState
from pipeline.project import Project

NOTICE_ID = "sf-2018-0012"
WAIT_MS = 120_000  # an upper bound for a rebuild on a slow CI machine, not a speed check
REPO = Path(__file__).resolve().parent.parent
DEMO_TODAY = date(2018, 7, 8)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def notice_file(root: Path) -> Path:
    return next((root / "content").rglob(f"{NOTICE_ID}.yaml"))


# A few demo notices (a correction, an urgent one, a county fund notice) keep the start-up
# build short on a two-core CI machine; the live path is the same for thirty.
KEEP = {NOTICE_ID, "sf-2018-0003", "sf-2018-0013", "sf-2018-0018", "ga-2018-0017"}


@pytest.fixture
def desk(demo_project: Path, demo_today: date) -> Iterator[BackgroundPreview]:
    for path in (demo_project / "content").rglob("*.yaml"):
        if path.stem not in KEEP:
            path.unlink()
    state = PreviewState(Project.open(demo_project), today=demo_today)
    with BackgroundPreview.start(state) as server:
        yield server


def test_notice_view_shows_all_outputs_and_follows_edits(
        desk: BackgroundPreview, demo_project: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(desk.url + "/")
        expect(page.locator(f'tr[data-notice="{NOTICE_ID}"]')).to_be_visible()
        assert page.locator("table.notices tbody tr").count() >= 2
        # The filters work: by area (a village), by kind, and back to all.
        page.select_option('select[name="area"]', "什邡市/师古镇/马祖村")
        expect(page.locator("table.notices tbody tr")).to_have_count(1)
        expect(page.locator(f'tr[data-notice="{NOTICE_ID}"]')).to_be_visible()
        page.goto(desk.url + "/?kind=urgent")
        rows = page.locator("table.notices tbody tr")
        expect(rows).to_have_count(2)
        assert {rows.nth(i).get_attribute("data-notice") for i in range(2)} == {
            "sf-2018-0018", "ga-2018-0017"}

        page.goto(f"{desk.url}/notices/{NOTICE_ID}")
        _expect_all_outputs(page)
        page.evaluate("window.__notReloaded = true")

        source = notice_file(demo_project)
        original = source.read_text("utf-8")
        old_title = _title_of(original)
        new_title = "马祖村道路硬化工程公示（预览测试）"
        source.write_text(original.replace(f"title: {old_title}", f"title: {new_title}"), "utf-8")
        expect(page.locator("#notice-title")).to_have_text(new_title, timeout=WAIT_MS)
        expect(page.frame_locator("iframe.web").locator("h1").first).to_contain_text(
            new_title, timeout=WAIT_MS)

        # Break the YAML: the located error replaces the outputs.
        broken = original.replace(f"title: {old_title}", "title: [unclosed")
        source.write_text(broken, "utf-8")
        problem = page.locator("#notice-problems .where").first
        expect(problem).to_contain_text(f"{source.relative_to(demo_project)}:", timeout=WAIT_MS)
        expect(page.locator("#notice-problems pre span.target").first).to_be_visible()
        assert page.locator("[data-output]").count() == 0
        # ... and the other notices keep working.
        status, body = _get(desk.port, "/notices/sf-2018-0003")
        assert status == 200 and 'data-output="web"' in body

        # Fix it: the outputs come back.
        source.write_text(original, "utf-8")
        expect(page.locator("#notice-title")).to_have_text(old_title, timeout=WAIT_MS)
        _expect_all_outputs(page)
        assert page.evaluate("window.__notReloaded") is True  # updated in place, never reloaded
    finally:
        page.close()
    # The preview wrote only into its own cache folder.
    assert not (demo_project / "out").exists()
    assert not (demo_project / ".noticecast" / "ledger.sqlite").exists()


def _expect_all_outputs(p: Page) -> None:
    from playwright.sync_api import expect

    expect(p.locator('[data-output="web"] iframe.web')).to_be_visible(timeout=WAIT_MS)
    cards = p.locator('[data-output="card"] .cards img')
    expect(cards).to_have_count(2, timeout=WAIT_MS)
    expect(p.locator("#telegram-caption")).not_to_be_empty()
    expect(p.locator('[data-output="newspaper"] img.proof')).to_be_visible()
    expect(p.locator('[data-output="newspaper"] dl.facts')).to_contain_text("pt")
    expect(p.locator('[data-output="ticker"] .strip img')).to_be_visible()
    expect(p.locator('[data-output="ticker"] iframe.tv')).to_be_visible()
    expect(p.locator("#ticker-line")).not_to_be_empty()
    expect(p.locator('[data-output="sms"] tr.sms-part').first).to_be_visible()
    expect(p.locator('[data-output="sms"] .sms-digest').first).to_be_visible()
    wechat = p.locator('[data-output="wechat"]')
    expect(wechat.locator('.wechat-card[data-event="publish"] img')).to_be_visible()
    expect(wechat.locator(".wechat-title").first).not_to_be_empty()
    expect(wechat.locator(".wechat-digest").first).not_to_be_empty()
    article = p.frame_locator("iframe.wechat")
    expect(article.locator("table").first).to_contain_text("资金合计")
    expect(article.locator("img").first).to_be_visible()
    expect(p.locator('[data-output="board"] .board-proofs img.proof').first).to_be_visible()
    expect(p.locator('[data-output="board"] dl.facts')).to_contain_text("A4")
    # Every image really loaded from the preview's /out/ route.
    broken = p.evaluate(
        "Array.from(document.querySelectorAll('[data-output] img'))"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert broken == []


def _title_of(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("title:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no title line")


def _get(port: int, path: str, host: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        # skip_host: send the path byte for byte, with our own Host header.
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"{HOST}:{port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        connection.close()


@pytest.fixture(scope="module")
def small_desk(tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[BackgroundPreview, Path]]:
    """One notice only, so that the start-up build is quick; shared by the HTTP tests."""
    root = tmp_path_factory.mktemp("small") / "site"
    (root / "content").mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    shutil.copy(notice_file(REPO), root / "content" / f"{NOTICE_ID}.yaml")
    (root / "secret.txt").write_text("not for the browser", "utf-8")
    _deliver_to_site(Project.open(root))
    state = PreviewState(Project.open(root), today=DEMO_TODAY)
    with BackgroundPreview.start(state, watch=False) as server:
        yield server, root


def _deliver_to_site(project: Project) -> None:
    """A ledger that says the notice reached the site, as a publish run would leave it."""
    ledger = pytest.importorskip("pipeline.ledger")
    now = datetime(2018, 7, 8, 9, 0, tzinfo=UTC)
    key = ledger.Key(NOTICE_ID, 1, "publish", "site", "web-root")
    with ledger.Ledger.open(project.config.path(project.config.publish.ledger)) as book:
        book.claim([(key, "web root", "idempotent")], as_of=now, actor="test")
        book.record([(key, ledger.Outcome(ledger.DELIVERED))], as_of=now, actor="test")


def test_index_shows_what_the_ledger_says(small_desk: tuple[BackgroundPreview, Path]) -> None:
    server, _ = small_desk
    status, body = _get(server.port, "/")
    assert status == 200
    row = body[body.index(f'data-notice="{NOTICE_ID}"'):]
    row = row[:row.index("</tr>")]
    assert "site: delivered" in row
    status, body = _get(server.port, f"/notices/{NOTICE_ID}")
    assert 'class="pill delivered"' in body


def test_binds_to_loopback_only(small_desk: tuple[BackgroundPreview, Path]) -> None:
    server, _ = small_desk
    addresses = [sock.getsockname()[0] for srv in server.server.servers
                 for sock in srv.sockets]
    assert addresses == ["127.0.0.1"]
    status, _ = _get(server.port, "/")
    assert status == 200


@pytest.mark.parametrize("path", [
    "/out/../secret.txt",
    "/out/../../secret.txt",
    "/out/web/../../secret.txt",
    "/out/%2e%2e/secret.txt",
    "/out/web/%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/out/..%2fsecret.txt",
    "/out/%252e%252e/secret.txt",
    "/out/..\\secret.txt",
])
def test_path_traversal_is_rejected(small_desk: tuple[BackgroundPreview, Path],
                                    path: str) -> None:
    server, _ = small_desk
    status, body = _get(server.port, path)
    assert status in (400, 404)
    assert "not for the browser" not in body


def test_serves_outputs_but_not_the_build_bookkeeping(
        small_desk: tuple[BackgroundPreview, Path]) -> None:
    server, root = small_desk
    assert _get(server.port, f"/notices/{NOTICE_ID}")[0] == 200
    assert (root / ".noticecast" / "preview" / ".cache" / "manifest.json").is_file()
    assert _get(server.port, "/out/.cache/manifest.json")[0] == 404
    assert _get(server.port, f"/out/sms/{NOTICE_ID}/sms.json")[0] == 200
    assert _get(server.port, "/out/sms/no-such/sms.json")[0] == 404


def test_refuses_foreign_host_names(small_desk: tuple[BackgroundPreview, Path]) -> None:
    server, _ = small_desk
    # A page elsewhere that rebinds its DNS name to 127.0.0.1 must not read the desk.
    assert _get(server.port, "/", host="attacker.example")[0] == 400


def test_config_edits_are_watched_and_a_bad_config_is_shown(tmp_path: Path) -> None:
    import json
    import time

    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    shutil.copy(notice_file(REPO), root / "content" / f"{NOTICE_ID}.yaml")
    state = PreviewState(Project.open(root), today=DEMO_TODAY)
    with BackgroundPreview.start(state) as server:
        config = root / "noticecast.yaml"
        good = config.read_text("utf-8")
        # Saved the way editors save: a new file renamed over the old one.
        fresh = root / "noticecast.yaml.new"
        fresh.write_text(good.replace("columns: 6", "columns: six"), "utf-8")
        fresh.replace(config)

        def config_problems() -> list[str]:
            return json.loads(_get(server.port, "/api/state")[1])["config_problems"]

        deadline = time.monotonic() + WAIT_MS / 1000
        while not config_problems() and time.monotonic() < deadline:
            time.sleep(0.2)
        problems = config_problems()
        assert problems and problems[0].startswith("noticecast.yaml:")
        status, body = _get(server.port, f"/notices/{NOTICE_ID}")
        assert status == 200 and 'data-output="web"' in body  # the last good config serves


def test_newspaper_page_places_the_issue_blocks(small_desk: tuple[BackgroundPreview, Path]
                                                ) -> None:
    server, _ = small_desk
    status, body = _get(server.port, "/newspaper?date=2018-07-04")  # the notice's publication
    assert status == 200
    assert f'class="block" href="/notices/{NOTICE_ID}"' in body
    assert "排不下 did not fit (0)" in body
    status, body = _get(server.port, "/newspaper?date=2018-07-05")
    assert status == 200 and 'class="block"' not in body
    assert _get(server.port, "/newspaper?date=July")[0] == 400
