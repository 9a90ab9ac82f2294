"""The command line's contract: one-line errors, no tracebacks, crash files for real bugs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "pipeline", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_version() -> None:
    result = run(["--version"], REPO)
    assert result.returncode == 0
    assert result.stdout.startswith("noticecast, version ")


def test_unknown_renderer_is_a_one_line_error(demo_project: Path) -> None:
    result = run(["build", "--only", "fax"], demo_project)
    assert result.returncode == 2
    assert "unknown renderer 'fax'" in result.stderr
    assert "known renderers: web" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_config_is_located(demo_project: Path) -> None:
    config = demo_project / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace("timezone: Asia/Shanghai",
                                                         "timezone: Mars/Olympus"), "utf-8")
    result = run(["check"], demo_project)
    assert result.returncode == 1
    line = next(x for x in result.stderr.splitlines() if "timezone" in x)
    assert line.startswith("noticecast.yaml:")
    assert "unknown time zone 'Mars/Olympus'" in line
    assert "Traceback" not in result.stderr


def test_config_typo_gets_a_suggestion(demo_project: Path) -> None:
    config = demo_project / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace("timezone:", "timezon:"), "utf-8")
    result = run(["check"], demo_project)
    assert result.returncode == 1
    assert "unknown field 'timezon'; did you mean 'timezone'?" in result.stderr


def test_unexpected_error_goes_to_a_crash_file(demo_project: Path, tmp_path: Path) -> None:
    # A renderer with a bug: the user sees one line with a crash file, not a traceback.
    (tmp_path / "buggy_renderer.py").write_text(textwrap.dedent("""
        from pipeline.renderers.base import BaseRenderer

        class Buggy(BaseRenderer):
            name = "buggy"

            def render(self, notices, ctx):
                raise ZeroDivisionError("a bug")
                yield
    """), "utf-8")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from pipeline import registry
        registry.add_renderer("buggy", "buggy_renderer:Buggy")
        from pipeline.cli import main
        main(["build", "--only", "buggy", "--today", "2018-07-08"])
    """)
    result = run([], demo_project, code=code)
    assert result.returncode == 70
    assert "Traceback" not in result.stderr
    crash_line = next(x for x in result.stderr.splitlines() if "internal error" in x)
    crash_file = Path(crash_line.split("are in ")[1].split(";")[0])
    assert "ZeroDivisionError: a bug" in crash_file.read_text("utf-8")
    crash_file.unlink()
