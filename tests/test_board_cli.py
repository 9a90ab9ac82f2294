"""`noticecast board pack|posted|taken-down` and `status`, run as the real command."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.board_postings import history
from pipeline.ledger import Ledger

MAZU = "什邡市/师古镇/马祖村"
HONGDA = "什邡市/师古镇/宏达村"


def noticecast(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page, whitespace removed."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (Debian package poppler-utils)")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [re.sub(r"\s+", "", page) for page in text.split("\f") if page.strip()]


def test_posted_and_taken_down_are_kept_and_status_shows_them(demo_project: Path) -> None:
    done = noticecast(demo_project, "board", "posted", "sf-2018-0013", "--area", HONGDA,
                      "--at", "2018-07-06T10:00")
    assert done.returncode == 0, done.stderr
    assert "revision 2 posted" in done.stdout
    # The board period counts from posting: ten days from 6 July (not the notice's 11 July).
    assert "10 days, until 2018年7月15日" in done.stdout

    twice = noticecast(demo_project, "board", "posted", "sf-2018-0013", "--area", HONGDA)
    assert twice.returncode != 0 and "Traceback" not in twice.stderr
    assert "already" in twice.stderr and "taken-down" in twice.stderr
    early = noticecast(demo_project, "board", "taken-down", "sf-2018-0013", "--area", HONGDA,
                       "--at", "2018-07-01")
    assert early.returncode != 0 and "give the time it came down" in early.stderr
    down = noticecast(demo_project, "board", "taken-down", "sf-2018-0013", "--area", HONGDA,
                      "--at", "2018-07-16T17:30")
    assert down.returncode == 0, down.stderr

    with Ledger(demo_project / ".noticecast" / "ledger.sqlite") as ledger:
        rows = history(ledger, notice_id="sf-2018-0013")
        assert [(r.action, r.board, r.revision) for r in rows] == [
            ("posted", HONGDA, 2), ("taken-down", HONGDA, 2)]
        with pytest.raises(Exception, match="append-only"):
            ledger.db.execute("DELETE FROM postings")

    status = noticecast(demo_project, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    postings = json.loads(status.stdout)["board_postings"]
    assert [p["action"] for p in postings] == ["posted", "taken-down"]
    assert postings[0]["at"].startswith("2018-07-06T02:00")  # 10:00 in Sichuan, in UTC


def test_a_sheet_is_posted_only_on_the_board_of_its_area(demo_project: Path) -> None:
    wrong = noticecast(demo_project, "board", "posted", "sf-2018-0012", "--area", HONGDA)
    assert wrong.returncode != 0
    assert "a notice of 什邡市/师古镇/马祖村, not of 什邡市/师古镇/宏达村" in wrong.stderr
    unknown = noticecast(demo_project, "board", "posted", "sf-2018-0012", "--area",
                         "什邡市/师古镇/不存在村")
    assert unknown.returncode != 0 and "not in the configured regions" in unknown.stderr
    missing = noticecast(demo_project, "board", "posted", "sf-2099-0001", "--area", MAZU)
    assert missing.returncode != 0 and "no valid notice" in missing.stderr


def test_the_pack_has_a_cover_listing_the_sheets_then_every_sheet(demo_project: Path) -> None:
    done = noticecast(demo_project, "board", "pack", "--area", MAZU, "--date", "2018-07-08",
                      "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [s["id"] for s in report["sheets"]] == ["sf-2018-0012"]
    assert report["sheets"][0]["action"] == "新张贴" and report["pages"] == 2
    pdf = demo_project / report["pdf"]
    assert pdf == demo_project / "out" / "board" / "packs" / "2018-07-08-什邡市-师古镇-马祖村.pdf"
    cover, sheet = pdf_pages(pdf)
    assert "公示栏张贴清单" in cover and "马祖村村务公开栏" in cover and "张秀英" in cover
    assert "sf-2018-0012" in cover and "2018年7月14日" in cover and "新张贴" in cover
    assert "师古镇马祖村产业道路硬化工程项目公示" in sheet and "盖章处" in sheet

    # After the period the sheet is listed to come down, and no longer packed.
    later = noticecast(demo_project, "board", "pack", "--area", MAZU, "--date", "2018-07-16",
                       "--format", "json")
    report = json.loads(later.stdout)
    assert report["sheets"] == [] and [s["id"] for s in report["take_down"]] == ["sf-2018-0012"]


def test_the_pack_keeps_a_sheet_for_its_days_from_posting(demo_project: Path) -> None:
    assert noticecast(demo_project, "board", "posted", "sf-2018-0012", "--area", MAZU,
                      "--at", "2018-07-10").returncode == 0
    done = noticecast(demo_project, "board", "pack", "--area", MAZU, "--date", "2018-07-16",
                      "--format", "json")
    report = json.loads(done.stdout)
    # Posted on the 10th, an eleven-day period runs to the 20th, past the notice's 14th.
    assert [(s["id"], s["action"], s["until"]) for s in report["sheets"]] == [
        ("sf-2018-0012", "继续张贴", "2018-07-20")]


def test_send_needs_a_configured_board(demo_project: Path) -> None:
    done = noticecast(demo_project, "board", "pack", "--area", "什邡市/洛水镇/杨家村",
                      "--date", "2018-07-08", "--send")
    assert done.returncode != 0 and "no board is configured" in done.stderr
    sent = noticecast(demo_project, "board", "pack", "--area", MAZU, "--date", "2018-07-08",
                      "--send")
    assert sent.returncode == 0, sent.stderr
    assert (demo_project / "out" / "channels" / "board" / "什邡市-师古镇-马祖村" /
            "pack-2018-07-08-r0.pdf").is_file()
