"""`noticecast import-feed`: RSS 2.0 and Atom in Chinese (UTF-8 and GBK), files and URLs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from peers.http_recorder import HttpRecorder
from test_web_support import make_project

from pipeline.cli import main
from pipeline.load import load_notices
from pipeline.project import Project

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def run(root: Path, *args: str) -> int:
    try:
        main(["-C", str(root), *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def drafts(folder: Path) -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text("utf-8")) for p in sorted(folder.glob("*.yaml"))}


def assert_checks(root: Path, folder: Path) -> None:
    project = Project.open(root)
    result = load_notices((folder,), project.config, project.root)
    assert result.problems == [], [str(p) for p in result.problems]
    assert result.notices


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", [])


def test_rss_entries_become_valid_drafts(project: Path, capsys: pytest.CaptureFixture) -> None:
    into = project / "content" / "imported"
    assert run(project, "import-feed", str(FEEDS / "portal-rss.xml"), "--into",
               "content/imported") == 0
    found = drafts(into)
    assert len(found) == 2
    notice = next(d for d in found.values() if d["title"].startswith("关于开展2018年"))
    assert notice["kind"] == "announcement" and notice["status"] == "draft"
    assert notice["area"] == "什邡市" and notice["level"] == "county"  # first county
    assert notice["issuer"] == "什邡市人民政府 · 通知公告"
    assert str(notice["published"]) == "2018-07-01 10:00:00"  # 02:00 GMT in Asia/Shanghai
    assert notice["summary"].startswith("各镇人民政府")
    assert "- 公示期不少于10天；" in notice["body"]
    assert "[附件](http://www.shifang.gov.cn/files/0701.pdf)" in notice["body"]
    assert notice["attachments"] == [{"title": "原文链接",
                                      "url": "http://www.shifang.gov.cn/tzgg/2018/0701.html"}]
    assert_checks(project, into)
    # And the project's own `check` agrees.
    assert run(project, "check", str(into)) == 0
    assert "2 valid" in capsys.readouterr().err


def test_atom_entry_drops_scripts(project: Path) -> None:
    into = project / "content" / "imported"
    assert run(project, "import-feed", str(FEEDS / "county-atom.xml"), "--into",
               str(into), "--area", "广安区") == 0
    [notice] = drafts(into).values()
    assert notice["title"] == "城口县“三账一表”扶贫资金项目公开工作推进会召开"
    assert notice["area"] == "广安区"
    assert "各乡镇要在村务公开栏公示项目明细表。" in notice["body"]
    assert "alert" not in notice["body"] and "script" not in notice["body"]
    assert notice["summary"] == "7月6日，城口县召开“三账一表”扶贫资金项目公开工作推进会。"
    assert_checks(project, into)


def test_gbk_rss_is_decoded(project: Path) -> None:
    into = project / "content" / "imported"
    assert run(project, "import-feed", str(FEEDS / "gbk-rss.xml"), "--into", str(into),
               "--area", "什邡市/师古镇/马祖村", "--issuer", "广安区扶贫开发局") == 0
    [notice] = drafts(into).values()
    assert notice["title"] == "广安区花桥镇白云村产业路项目开工通知"
    assert notice["level"] == "village" and notice["issuer"] == "广安区扶贫开发局"
    assert "监督电话：0826-2331100" in notice["body"]
    assert_checks(project, into)


def test_second_run_imports_nothing_new(project: Path, capsys: pytest.CaptureFixture) -> None:
    into = project / "content" / "imported"
    run(project, "import-feed", str(FEEDS / "portal-rss.xml"), "--into", str(into))
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in into.glob("*.yaml")}
    assert run(project, "import-feed", str(FEEDS / "portal-rss.xml"), "--into", str(into)) == 0
    assert "0 written, 2 already imported" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in into.glob("*.yaml")} == before
    # A draft the office deleted is not brought back.
    next(into.glob("*.yaml")).unlink()
    run(project, "import-feed", str(FEEDS / "portal-rss.xml"), "--into", str(into))
    assert len(list(into.glob("*.yaml"))) == 1


def test_edited_draft_is_never_overwritten(project: Path, tmp_path: Path) -> None:
    into = project / "content" / "imported"
    feed = tmp_path / "feed.xml"
    shutil.copy(FEEDS / "portal-rss.xml", feed)
    run(project, "import-feed", str(feed), "--into", str(into))
    files = sorted(into.glob("*.yaml"))
    edited, untouched = files
    edited.write_text(edited.read_text("utf-8").replace("status: draft", "status: approved"),
                      "utf-8")
    kept_text = edited.read_text("utf-8")
    # Upstream changes both entries.
    feed.write_text(feed.read_text("utf-8").replace("</title>\n<link>http://www.shifang",
                                                    "（更新）</title>\n<link>http://www.shifang"),
                    "utf-8")
    run(project, "import-feed", str(feed), "--into", str(into))
    assert edited.read_text("utf-8") == kept_text
    assert "（更新）" in untouched.read_text("utf-8")  # unedited drafts follow upstream
    assert len(list(into.glob("*.yaml"))) == 2


def test_not_a_feed_is_one_clear_line(project: Path, capsys: pytest.CaptureFixture) -> None:
    into = project / "content" / "imported"
    assert run(project, "import-feed", str(FEEDS / "not-a-feed.html"), "--into",
               str(into)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "not-a-feed.html: not an RSS or Atom feed" in err
    assert not into.exists() or not list(into.iterdir())
    assert run(project, "import-feed", str(FEEDS / "missing.xml"), "--into", str(into)) == 1
    assert "no such file" in capsys.readouterr().err


def test_unknown_area_is_refused(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(project, "import-feed", str(FEEDS / "gbk-rss.xml"), "--area", "北京市") == 1
    assert "'北京市' is not in the office's regions" in capsys.readouterr().err


def test_feed_from_a_url(project: Path, capsys: pytest.CaptureFixture) -> None:
    into = project / "content" / "imported"
    body = (FEEDS / "gbk-rss.xml").read_bytes()
    with HttpRecorder(default=(200, {"Content-Type": "application/rss+xml"}, body)) as server:
        url = server.url("/fpj/rss.xml")
        assert run(project, "import-feed", url, "--into", str(into)) == 0
        assert [r.path for r in server.requests] == ["/fpj/rss.xml"]
        server.script = [(404, {"Content-Type": "text/html"}, b"not found")]
        assert run(project, "import-feed", server.url("/gone.xml"), "--into", str(into)) == 1
    [notice] = drafts(into).values()
    assert notice["title"] == "广安区花桥镇白云村产业路项目开工通知"
    assert "HTTP 404" in capsys.readouterr().err
    assert_checks(project, into)
