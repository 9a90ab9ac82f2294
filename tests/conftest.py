"""Shared fixtures: a copy of the demo project, the demo's fixed "today", a headless browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_TODAY = date(2018, 7, 8)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def demo_today() -> date:
    return DEMO_TODAY


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    """A private copy of the bundled demo project (config, content, subscribers)."""
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    shutil.copytree(REPO / "content", root / "content")
    if (REPO / "subscribers.csv").exists():
        shutil.copy(REPO / "subscribers.csv", root / "subscribers.csv")
    return root


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium through Playwright, using the system's Chromium (no download)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield instance
        instance.close()
