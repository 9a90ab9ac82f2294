"""`noticecast site history` and `site rollback`, through real publish runs and subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from peers.publish_project import make_project, run_cli, write_notice


def _history(root: Path) -> dict:
    result = run_cli(root, "site", "history", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _two_swaps(root: Path) -> Path:
    make_project(root, count=1, channels=("site",))
    first = run_cli(root, "publish", "--today", "2018-07-01")
    assert first.returncode == 0, first.stderr
    write_notice(root, "t-002", channels=("site",), published="2018-07-02 09:00:00")
    second = run_cli(root, "publish", "--today", "2018-07-02")
    assert second.returncode == 0, second.stderr
    return root / "out" / "channels" / "site"


def test_history_matches_the_versions_to_the_swaps_and_rollback_goes_back(
        tmp_path: Path) -> None:
    root = tmp_path / "project"
    web_root = _two_swaps(root)
    assert "t-002" in (web_root / "index.html").read_text("utf-8")

    before = _history(root)
    trees = {v["which"]: v["tree"] for v in before["versions"]}
    assert set(trees) == {"current", "previous"} and trees["current"] != trees["previous"]
    swaps = before["swaps"]
    assert [s["now"] for s in swaps] == ["previous", "current"]  # oldest first
    assert [s["tree"] for s in swaps] == [trees["previous"], trees["current"]]

    result = run_cli(root, "site", "rollback", "--yes")
    assert result.returncode == 0, result.stderr
    assert trees["previous"] in result.stderr
    assert "t-002" not in (web_root / "index.html").read_text("utf-8")
    after = {v["which"]: v["tree"] for v in _history(root)["versions"]}
    assert after == {"current": trees["previous"], "previous": trees["current"]}

    # Rolling back again goes forward.
    assert run_cli(root, "site", "rollback", "--yes").returncode == 0
    assert "t-002" in (web_root / "index.html").read_text("utf-8")


def test_rollback_without_a_previous_version_says_so(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", count=1, channels=("site",))
    assert run_cli(root, "publish", "--today", "2018-07-01").returncode == 0
    result = run_cli(root, "site", "rollback", "--yes")
    assert result.returncode != 0
    assert "no previous version" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
