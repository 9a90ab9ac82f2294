"""The build's render workers: started before the plan, warmed up, stopped when unused.

The renderers here are defined in this module; the workers are forked from the test process,
so they find them registered.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.build import BuildOptions, BuildReport, build
from pipeline.model import Notice
from pipeline.project import Project
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2018, 7, 8)
WARM_UP_SLEEP = 120.0  # far longer than a build of three notices

warmed_in: int | None = None  # the process that ran WarmRenderer.warm_up


class WarmRenderer(BaseRenderer):
    """Writes, per notice, whether the process rendering it had run the warm-up."""

    name = "warm"
    config_sections = ()
    sleep = 0.0
    fail = False

    def warm_up(self, ctx: RenderContext) -> None:
        global warmed_in
        if self.fail:
            raise RuntimeError("the warm-up broke")
        warmed_in = os.getpid()
        time.sleep(self.sleep)

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        for notice in notices:
            text = f"{notice.id} warm={warmed_in == os.getpid()}"
            yield Artifact(self.name, f"{notice.id}.txt", text.encode(), "text/plain",
                           notice_id=notice.id)


@pytest.fixture(autouse=True)
def renderer() -> Iterator[None]:
    registry.add_renderer("warm", f"{__name__}:WarmRenderer")
    yield
    WarmRenderer.sleep, WarmRenderer.fail = 0.0, False
    del registry.RENDERERS["warm"]
    registry._load.cache_clear()


@pytest.fixture
def site(tmp_path: Path) -> Project:
    root = tmp_path / "site"
    content = root / "content" / "2018"
    content.mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    example = (REPO / "content" / "2018" / "sf-2018-0012.yaml").read_text("utf-8")
    for number in range(3):
        (content / f"n-{number}.yaml").write_text(
            example.replace("id: sf-2018-0012", f"id: n-{number}"), "utf-8")
    return Project.open(root)


def run(project: Project) -> BuildReport:
    return build(project, BuildOptions(today=TODAY, only=("warm",), workers=2))


def test_workers_warm_up_before_their_first_job(site: Project) -> None:
    report = run(site)
    assert report.ok
    assert report.renderers["warm"].rendered == 3
    for number in range(3):
        text = (site.out_dir / "warm" / f"n-{number}.txt").read_text("utf-8")
        assert text == f"n-{number} warm=True"


def test_a_failing_warm_up_costs_only_the_head_start(site: Project) -> None:
    WarmRenderer.fail = True
    report = run(site)
    assert report.ok
    assert report.renderers["warm"].rendered == 3
    assert (site.out_dir / "warm" / "n-0.txt").read_text("utf-8") == "n-0 warm=False"


def test_a_build_with_nothing_to_render_stops_the_warming_workers(site: Project) -> None:
    run(site)
    WarmRenderer.sleep = WARM_UP_SLEEP
    started = time.monotonic()
    report = run(site)
    # Not a speed check: a build that waited for its workers' warm-up would take two minutes.
    assert time.monotonic() - started < WARM_UP_SLEEP / 2
    assert report.renderers["warm"].skipped == 3
    assert multiprocessing.active_children() == []
