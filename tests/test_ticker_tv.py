"""The TV crawl overlay in headless Chromium: it crawls, only in its band, and obeys CasparCG."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from test_ticker import collection, context, make_notice, urgent

WIDTH, HEIGHT = 1920, 1080
SAFE_X, SAFE_Y = 96, 54  # EBU R 95 graphics-safe margins (5 %)


@pytest.fixture
def tv_page(browser: Any, tmp_path: Path) -> Path:
    artifacts = collection([make_notice(), urgent()], context())
    page = tmp_path / "tv.html"
    page.write_bytes(artifacts["tv.html"].data)
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.requested = requested
    yield tab
    tab.close()


def screenshot(page: Any) -> Image.Image:
    return Image.open(io.BytesIO(page.screenshot(omit_background=True))).convert("RGBA")


def rect(page: Any, element_id: str) -> tuple[int, int, int, int]:
    box = page.evaluate(f"() => document.getElementById('{element_id}')"
                        ".getBoundingClientRect().toJSON()")
    return (round(box["left"]), round(box["top"]), round(box["right"]), round(box["bottom"]))


def wait_until_playing(page: Any) -> None:
    page.wait_for_function("() => getComputedStyle(document.getElementById('band')).opacity"
                           " === '1'")


def test_the_crawl_moves_inside_its_band_and_nowhere_else(page: Any, tv_page: Path) -> None:
    page.goto(tv_page.as_uri() + "?autoplay=1")
    wait_until_playing(page)  # on its own: no controller spoke
    first = screenshot(page)
    page.wait_for_timeout(1000)
    second = screenshot(page)

    changed = ImageChops.difference(first, second).getbbox()
    assert changed is not None, "the crawl did not move in one second"
    left, top, right, bottom = rect(page, "viewport")
    assert left <= changed[0] and changed[2] <= right
    assert top <= changed[1] and changed[3] <= bottom
    # The band is a lower third inside the graphics-safe area; the rest is transparent.
    band = rect(page, "band")
    assert band[0] >= SAFE_X and band[2] <= WIDTH - SAFE_X and band[3] <= HEIGHT - SAFE_Y
    assert band[1] >= HEIGHT * 2 // 3
    assert first.getpixel((WIDTH // 2, HEIGHT // 2))[3] == 0
    assert first.getpixel((10, HEIGHT - 10))[3] == 0
    assert second.getpixel(((band[0] + band[2]) // 2, (band[1] + band[3]) // 2))[3] > 200
    # Self-contained: the page fetched nothing but itself.
    assert page.requested == [tv_page.as_uri() + "?autoplay=1"]


def test_update_replaces_the_text(page: Any, tv_page: Path) -> None:
    page.goto(tv_page.as_uri() + "?autoplay=1")
    wait_until_playing(page)
    before = page.inner_text("#track")
    assert "马祖村产业道路硬化工程" in before and "【紧急】" in before
    playlist = {"tv_speed_px_per_s": 200,
                "items": [{"line": "【公告】新华村定于7月12日召开村民代表大会", "urgent": False}]}
    page.evaluate("data => window.update(data)", json.dumps(playlist, ensure_ascii=False))
    assert page.inner_text("#track").strip() == "【公告】新华村定于7月12日召开村民代表大会"
    # CasparCG's templateData XML and plain text work too.
    xml = ('<templateData><componentData id="playlist"><data id="text" value="'
           '{&quot;items&quot;:[{&quot;line&quot;:&quot;【公示】XML里的字幕&quot;}]}"/>'
           '</componentData></templateData>')
    page.evaluate("data => window.update(data)", xml)
    assert page.inner_text("#track").strip() == "【公示】XML里的字幕"
    page.evaluate("() => window.update('只有一行字')")
    assert page.inner_text("#track").strip() == "只有一行字"


def test_hidden_until_play_as_casparcg_expects(page: Any, tv_page: Path) -> None:
    # CG ADD loads the template; nothing may show until CG PLAY calls play().
    page.goto(tv_page.as_uri())
    page.wait_for_timeout(1200)  # well past the ?autoplay=1 grace period and the fade
    assert ImageChops.difference(screenshot(page), screenshot(page)).getbbox() is None
    assert screenshot(page).getchannel("A").getbbox() is None, "something showed before play()"
    assert page.evaluate("() => getComputedStyle(document.getElementById('band')).opacity") \
        == "0"
    page.evaluate("() => window.update('只有一行字')")  # CG UPDATE before CG PLAY: still hidden
    page.wait_for_timeout(600)
    assert screenshot(page).getchannel("A").getbbox() is None
    page.evaluate("() => window.play()")
    wait_until_playing(page)
    shown = screenshot(page).getchannel("A").getbbox()
    assert shown is not None and shown[1] >= HEIGHT * 2 // 3  # the band, and only it


def test_casparcg_drives_play_stop_and_next(page: Any, tv_page: Path) -> None:
    page.goto(tv_page.as_uri())
    page.wait_for_timeout(800)  # it must not start by itself
    assert page.evaluate("() => document.getElementById('band').classList.contains('on')") \
        is False
    page.evaluate("() => window.play()")
    wait_until_playing(page)
    page.evaluate("() => window.next()")
    # next() brings the second line to the left edge of the crawl at once.
    second_left = page.evaluate(
        "() => document.querySelectorAll('#track .item')[1].getBoundingClientRect().left")
    assert abs(second_left - rect(page, "viewport")[0]) < 60  # it moves on while we look
    page.evaluate("() => window.stop()")
    page.wait_for_function("() => getComputedStyle(document.getElementById('band')).opacity"
                           " === '0'")
    still = page.evaluate("() => document.getElementById('track').style.transform")
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.getElementById('track').style.transform") == still
