"""`noticecast check`, run for real from the repository root, against the bad-notice corpus.

tests/fixtures/bad/ holds one fault per file and EXPECTED.txt says, for each, where the one
error must be reported and part of what it must say.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "fixtures" / "bad"
GOOD = REPO / "tests" / "fixtures" / "good"
LOCATED = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def noticecast(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    # The installed console script when there is one (as a user runs it), else the module.
    script = Path(sys.executable).with_name("noticecast")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "pipeline"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def expectations() -> dict[str, tuple[int, int, str]]:
    table = {}
    for row in (BAD / "EXPECTED.txt").read_text("utf-8").splitlines():
        if not row.strip() or row.startswith("#"):
            continue
        path, line, col, message = row.split(":", 3)
        table[f"tests/fixtures/bad/{path}"] = (int(line), int(col), message.strip())
    return table


@pytest.fixture(scope="module")
def bad_run() -> subprocess.CompletedProcess[str]:
    return noticecast("check", "tests/fixtures/bad/")


def test_the_corpus_is_big_enough_and_fully_described() -> None:
    expected = expectations()
    assert len(expected) >= 32
    files = {str(p.relative_to(REPO)) for p in BAD.rglob("*.yaml")}
    # The first of the two files with the same id is valid: only the second one is wrong.
    assert files - set(expected) == {"tests/fixtures/bad/duplicate-id/a/dup-0001.yaml"}
    assert set(expected) <= files


def test_one_located_error_per_bad_file(bad_run: subprocess.CompletedProcess[str]) -> None:
    assert bad_run.returncode == 1
    assert "Traceback" not in bad_run.stdout + bad_run.stderr
    lines = bad_run.stdout.splitlines()
    expected = expectations()
    seen: dict[str, str] = {}
    for line in lines:
        match = LOCATED.match(line)
        assert match, f"not a located one-line error: {line!r}"
        path = match["path"]
        assert path not in seen, f"two errors for {path}:\n{seen[path]}\n{line}"
        seen[path] = line
    assert sorted(seen) == sorted(expected)
    for path, (line_no, col, text) in expected.items():
        got = LOCATED.match(seen[path])
        assert got is not None
        assert (int(got["line"]), int(got["col"])) == (line_no, col), seen[path]
        assert text in got["message"], seen[path]


def test_summary_goes_to_stderr(bad_run: subprocess.CompletedProcess[str]) -> None:
    count = len(expectations())
    assert f"{count + 1} file(s): 1 valid, {count} invalid" in bad_run.stderr


def test_demo_content_checks_clean() -> None:
    result = noticecast("check", "content/")
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert " 0 invalid" in result.stderr
    assert noticecast("check").returncode == 0  # content/ is the default


def test_json_output_for_bad_files() -> None:
    result = noticecast("check", "--format", "json", "tests/fixtures/bad/")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    expected = expectations()
    assert report["invalid"] == len(expected)
    assert report["valid"] == 1
    assert report["files"] == len(expected) + 1
    by_path = {p["path"]: p for p in report["problems"]}
    assert len(by_path) == len(report["problems"]) == len(expected)
    titel = by_path["tests/fixtures/bad/typo-titel.yaml"]
    assert (titel["line"], titel["column"], titel["severity"]) == (4, 1, "error")
    assert "did you mean 'title'?" in titel["message"]


def test_json_output_for_good_files() -> None:
    result = noticecast("check", "--format", "json", "content/")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert report["valid"] == report["files"] >= 26


def test_good_fixtures_pass() -> None:
    # A UTF-8 BOM, Chinese enum labels and an unquoted phone number with a leading zero.
    result = noticecast("check", "tests/fixtures/good/")
    assert result.returncode == 0, result.stdout
    assert "3 file(s): 3 valid, 0 invalid" in result.stderr


def test_good_and_bad_files_together() -> None:
    result = noticecast("check", "tests/fixtures/good/", "content/2018/",
                        "tests/fixtures/bad/typo-titel.yaml", "tests/fixtures/bad/gbk-encoded.yaml")
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "tests/fixtures/bad/gbk-encoded.yaml", "tests/fixtures/bad/typo-titel.yaml"]
    content_files = len(list((REPO / "content" / "2018").glob("*.yaml")))
    assert f"{content_files + 5} file(s): {content_files + 3} valid, 2 invalid" in result.stderr


def test_an_oversized_file_is_one_clear_error(tmp_path: Path) -> None:
    big = tmp_path / "big-0001.yaml"
    text = (REPO / "content" / "2018" / "sf-2018-0012.yaml").read_text("utf-8")
    big.write_text(text.replace("id: sf-2018-0012", "id: big-0001")
                   + "# " + "填充" * 150_000 + "\n", "utf-8")
    result = noticecast("check", str(big))
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{big}:1:1: file is ")
    assert "over the limit of 262,144" in line
    assert "Traceback" not in result.stderr


def test_a_project_elsewhere_is_checked_with_its_own_config(tmp_path: Path) -> None:
    shutil.copy(REPO / "noticecast.yaml", tmp_path / "noticecast.yaml")
    shutil.copytree(BAD / "duplicate-id", tmp_path / "content")
    result = noticecast("check", cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith("content/b/dup-0001.yaml:1:5: id 'dup-0001' is also used by "
                           "content/a/dup-0001.yaml")
