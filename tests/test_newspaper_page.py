"""The editors' page preview: deterministic packing, and the `newspaper page` command."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_newspaper_support import EXAMPLE, context, notice, poppler

from pipeline.cli import cli
from pipeline.renderers.newspaper_grid import Grid, mm_to_pt
from pipeline.renderers.newspaper_page import PageBlock, in_issue, pack, page_order

GRID = Grid.from_config(context().config.newspaper)  # 四开: 6 columns, 493 mm type height


def block(notice_id: str, height: float, span: int = 2, **changes: object) -> PageBlock:
    return PageBlock(notice(id=notice_id, **changes), span, height, b"")


def test_blocks_go_where_the_top_is_highest_leftmost_first() -> None:
    plan = pack(GRID, [block("a", 200), block("b", 100), block("c", 150), block("d", 120)])
    placed = {p.notice_id: (p.column, round(p.top_mm, 1)) for p in plan.placed}
    assert placed == {"a": (0, 0), "b": (2, 0), "c": (4, 0), "d": (2, 104)}


def test_what_does_not_fit_is_left_out_and_the_room_is_reported() -> None:
    plan = pack(GRID, [block("a", 400, span=6), block("b", 120, span=3), block("c", 80, span=3)])
    assert [(p.notice_id, p.column, p.top_mm) for p in plan.placed] == [
        ("a", 0, 0), ("c", 0, 404)]
    assert [b.notice.id for b in plan.left_out] == ["b"]
    assert plan.column_free_mm == pytest.approx([5, 5, 5, 89, 89, 89])
    assert 0 < plan.free_share < 0.2


def test_urgent_first_then_county_town_village() -> None:
    village = notice(id="v")
    county = notice(id="c", level="county", area="什邡市")
    town = notice(id="t", level="town", area="什邡市/师古镇")
    urgent = notice(id="u", kind="urgent", level="village")
    order = sorted([village, town, urgent, county], key=page_order)
    assert [n.id for n in order] == ["u", "c", "t", "v"]


def test_issue_selection() -> None:
    config = context().config
    published = notice().published_date  # 2018-07-04, publicity until 2018-07-14
    assert in_issue(notice(), published, config)
    assert not in_issue(notice(), date(2018, 7, 8), config)
    assert in_issue(notice(), date(2018, 7, 8), config, running=True)
    assert not in_issue(notice(status="draft"), published, config)
    assert not in_issue(notice(channels=["site"]), published, config)


def site(tmp_path: Path, config: str = "") -> Path:
    """A project with the example notice and ``config`` added to its noticecast.yaml."""
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    (root / "noticecast.yaml").write_text(
        "site:\n  base_url: https://gongshi.example.gov.cn\n" + config, "utf-8")
    (root / "content" / "sf-2018-0012.yaml").write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    return root


def test_page_command_writes_pdf_and_png(tmp_path: Path) -> None:
    root = site(tmp_path)
    target = tmp_path / "page.pdf"
    result = CliRunner().invoke(cli, ["-C", str(root), "newspaper", "page", "--date",
                                      "2018-07-04", "--out", str(target), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [p["id"] for p in report["placed"]] == ["sf-2018-0012"]
    assert report["did_not_fit"] == [] and len(report["room_left_mm"]) == 6
    assert target.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    info = poppler("pdfinfo", target)
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert (width, height) == (pytest.approx(mm_to_pt(390), abs=0.5),
                               pytest.approx(mm_to_pt(543), abs=0.5))
    text = re.sub(r"\s+", "", poppler("pdftotext", "-raw", target, "-"))
    assert "师古镇马祖村产业道路硬化工程项目公示" in text and "68.5万元" in text


def test_page_order_is_stable_for_equal_notices() -> None:
    early = notice(id="b", published=datetime(2018, 7, 4, 8, 0))
    late = notice(id="a", published=datetime(2018, 7, 4, 10, 0))
    assert [n.id for n in sorted([late, early], key=page_order)] == ["b", "a"]


def test_page_command_reports_a_block_that_does_not_fit(tmp_path: Path) -> None:
    root = site(tmp_path, "newspaper:\n  block_height_mm: 60\n")
    result = CliRunner().invoke(cli, ["-C", str(root), "newspaper", "page", "--date",
                                      "2018-07-04", "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["placed"] == []
    [left_out] = report["did_not_fit"]
    assert left_out["id"] == "sf-2018-0012"
    assert re.search(r"fixed height of 60 mm: over by \d+ lines / [\d.]+ mm", left_out["reason"])
    assert (root / "out" / "newspaper" / "pages" / "2018-07-04.pdf").exists()
