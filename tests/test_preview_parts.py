"""The preview desk's parts without a browser: safe file paths, the build state with broken
files and broken renderers, the read-only ledger, the newspaper page packing and the CLI."""

from __future__ import annotations

import shutil
import socket
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.config import Newspaper
from pipeline.load import parse_notice
from pipeline.preview.delivered import read_ledger
from pipeline.preview.files import UnsafePath, resolve_cache_file
from pipeline.preview.page import Block, Grid, PageLayout, _place
from pipeline.preview.state import PreviewState
from pipeline.project import Project
from pipeline.renderers.base import BaseRenderer

REPO = Path(__file__).resolve().parent.parent
NOTICE_ID = "sf-2018-0012"
TODAY = date(2018, 7, 8)


def small_project(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    source = next((REPO / "content").rglob(f"{NOTICE_ID}.yaml"))
    shutil.copy(source, root / "content" / source.name)
    return root


# -- files -----------------------------------------------------------------------------------

def test_cache_files_resolve_only_inside(tmp_path: Path) -> None:
    out = tmp_path / "cache"
    (out / "web" / "notices").mkdir(parents=True)
    (out / "web" / "notices" / "index.html").write_text("ok")
    (out / ".cache").mkdir()
    (out / ".cache" / "manifest.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("secret")
    (out / "web" / "link").symlink_to(tmp_path / "secret.txt")

    assert resolve_cache_file(out, "web/notices/index.html") == (
        out / "web" / "notices" / "index.html").resolve()
    assert resolve_cache_file(out, "web/none.html") is None
    assert resolve_cache_file(out, ".cache/manifest.json") is None
    for bad in ("../secret.txt", "web/../../secret.txt", "%2e%2e/secret.txt",
                "web/%2E%2E/%2e%2e/secret.txt", "/etc/passwd", "web\\..\\..\\secret.txt",
                "web/link", "./web/notices/index.html"):
        with pytest.raises(UnsafePath):
            resolve_cache_file(out, bad)


# -- the build state -------------------------------------------------------------------------

class CrashingRenderer(BaseRenderer):
    """A renderer with a bug: it raises something that is not a RenderError."""

    name = "boom"

    def render(self, notices: object, ctx: object) -> object:
        raise ZeroDivisionError("a bug in a renderer")


@pytest.fixture
def web_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The web renderer, a renderer that crashes and one whose module is not written yet."""
    monkeypatch.setattr(registry, "RENDERERS", {
        "web": "pipeline.renderers.web:WebRenderer",
        "boom": f"{__name__}:CrashingRenderer",
        "later": "pipeline.renderers.not_written_yet:LaterRenderer",
    })
    registry._load.cache_clear()


def test_a_broken_renderer_or_file_never_stops_the_rest(tmp_path: Path, web_only: None) -> None:
    root = small_project(tmp_path)
    state = PreviewState(Project.open(root), today=TODAY)
    snapshot = state.rebuild()

    assert snapshot.renderers["web"].available
    assert not snapshot.renderers["later"].available
    assert "ModuleNotFoundError" in snapshot.renderers["later"].reason
    assert not snapshot.renderers["boom"].available
    assert "ZeroDivisionError" in snapshot.renderers["boom"].reason
    entry = snapshot.entries[NOTICE_ID]
    assert entry.valid
    assert (state.out_dir / "web" / "notices" / NOTICE_ID / "index.html").is_file()
    # Nothing outside the preview's cache folder.
    assert sorted(p.name for p in root.iterdir()) == [".noticecast", "content", "noticecast.yaml"]

    # Break the file: the entry is invalid, located, with the offending line.
    source = root / "content" / f"{NOTICE_ID}.yaml"
    text = source.read_text("utf-8")
    source.write_text(text.replace("level: village", "level: villlage"), "utf-8")
    snapshot = state.rebuild()
    entry = snapshot.entries[NOTICE_ID]
    assert not entry.valid
    assert entry.last_good is not None  # the index still knows its title and area
    problem = entry.problems[0]
    assert problem.where.startswith(f"content/{NOTICE_ID}.yaml:")
    assert any(line.is_target and "villlage" in line.text for line in problem.lines)
    assert NOTICE_ID in snapshot.changed

    source.write_text(text, "utf-8")
    assert state.rebuild().entries[NOTICE_ID].valid


def test_a_broken_config_keeps_the_last_good_one(tmp_path: Path, web_only: None) -> None:
    root = small_project(tmp_path)
    state = PreviewState(Project.open(root), today=TODAY)
    state.rebuild()
    config = root / "noticecast.yaml"
    good = config.read_text("utf-8")
    config.write_text(good.replace("columns: 6", "columns: six"), "utf-8")
    state.reload_config()
    snapshot = state.rebuild()
    assert snapshot.config_problems
    assert snapshot.config_problems[0].where.startswith("noticecast.yaml:")
    assert snapshot.entries[NOTICE_ID].valid  # still built with the last good config
    config.write_text(good, "utf-8")
    state.reload_config()
    assert not state.rebuild().config_problems


# -- the ledger --------------------------------------------------------------------------------

def test_ledger_is_read_but_never_created(tmp_path: Path) -> None:
    root = small_project(tmp_path)
    project = Project.open(root)
    view = read_ledger(project.config)
    assert not view.exists and view.rows == {}
    assert not (root / ".noticecast").exists()

    ledger_module = pytest.importorskip("pipeline.ledger")
    path = project.config.path(project.config.publish.ledger)
    now = datetime(2018, 7, 8, 9, 0, tzinfo=UTC)
    key = ledger_module.Key(NOTICE_ID, 1, "publish", "site", "web-root")
    with ledger_module.Ledger.open(path) as ledger:
        ledger.claim([(key, "web root", "idempotent")], as_of=now, actor="test")
        ledger.record([(key, ledger_module.Outcome(ledger_module.DELIVERED))], as_of=now,
                      actor="test")
    before = path.stat().st_mtime_ns
    rows = read_ledger(project.config).of(NOTICE_ID)
    assert [(r.channel, r.state) for r in rows] == [("site", "delivered")]
    assert path.stat().st_mtime_ns == before


# -- the newspaper page ------------------------------------------------------------------------

def test_page_packing_places_lowest_first_and_reports_what_does_not_fit() -> None:
    notice = parse_notice(next((REPO / "content").rglob(f"{NOTICE_ID}.yaml")),
                          Project.open(REPO).config, "x.yaml")
    paper = Newspaper(page_width_mm=200, page_height_mm=150, margin_top_mm=0,
                      margin_bottom_mm=0, margin_inner_mm=0, margin_outer_mm=0, columns=4,
                      gutter_mm=0)
    grid = Grid.of(paper)
    layout = PageLayout(TODAY, grid, column_used_mm=[0.0] * 4)
    sizes = [(2, 100.0), (2, 60.0), (2, 40.0), (4, 60.0), (1, 200.0)]
    for columns, height in sizes:
        block = Block(notice, columns, height, proof=None)
        layout.blocks.append(block)
        _place(layout, block)
    placed = [(b.column, b.y_mm) for b in layout.placed]
    assert placed == [(0, 0.0), (2, 0.0), (2, 60.0)]
    assert [b.columns for b in layout.not_fitting] == [4, 1]
    assert "too tall" in layout.not_fitting[0].reason
    assert layout.room_left == [50.0, 50.0, 50.0, 50.0]
    assert layout.room_left_percent == pytest.approx(100 * 50 / 150)


# -- the command -------------------------------------------------------------------------------

def test_busy_port_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    from pipeline.cli import main

    root = small_project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["-C", str(root), "preview", "--port", str(port), "--today", "2018-07-08"])
    assert exited.value.code == 1
    message = capsys.readouterr().err.strip()
    assert f"port {port} on 127.0.0.1 is in use" in message
    assert "Traceback" not in message
    assert not (root / ".noticecast").exists()
