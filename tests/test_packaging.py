"""A non-editable install carries the default templates, and a project overrides them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from pipeline.templating import default_templates_dir, template_dirs

REPO = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_every_default_template(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("noticecast-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"pipeline/_templates/{p.relative_to(REPO / 'templates').as_posix()}"
               for p in (REPO / "templates").rglob("*") if p.is_file()}
    assert shipped and shipped <= names, sorted(shipped - names)
    assert "pipeline/cli.py" in names and "channels/base.py" in names


def test_a_project_template_overrides_the_default_file_by_file(tmp_path: Path) -> None:
    own = tmp_path / "templates" / "card"
    own.mkdir(parents=True)
    (own / "layout.yaml").write_text("# ours\n", "utf-8")
    dirs = template_dirs(tmp_path)
    assert dirs == ((tmp_path / "templates").resolve(), default_templates_dir().resolve())
    assert (default_templates_dir() / "web" / "notice.html").is_file()
