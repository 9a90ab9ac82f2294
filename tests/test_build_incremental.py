"""The incremental build, shown with two small real renderers defined here.

``plain`` renders each notice through a Jinja template chosen by its kind
(``templates/plain/urgent.txt`` for urgent notices, ``templates/plain/notice.txt`` for the rest)
and names the one template a notice uses in its ``cache_token``, so that a template edit
re-renders exactly the notices that use it. ``lines`` declares its template the usual way
(``templates``) and also has a collection output (an index over all notices).

Builds run in this process (``workers=1``) so that the renderers can record which notices they
actually rendered; the CLI test runs the real command in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.build import BuildOptions, BuildReport, build
from pipeline.model import Kind, Notice
from pipeline.project import Project
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "content" / "2018" / "sf-2018-0012.yaml").read_text("utf-8")
TODAY = date(2018, 7, 8)

RENDERED: list[tuple[str, str]] = []  # (renderer, notice id or "*"), in render order


class PlainRenderer(BaseRenderer):
    name = "plain"
    version = "1"
    config_sections = ("office",)

    @staticmethod
    def template_for(notice: Notice) -> str:
        return "plain/urgent.txt" if notice.kind is Kind.urgent else "plain/notice.txt"

    def templates_for(self, notice: Notice) -> Sequence[str]:
        # The template is chosen per notice, so only the notices using an edited one re-render.
        return (self.template_for(notice),)

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        for notice in notices:
            RENDERED.append((self.name, notice.id))
            text = ctx.templates.get_template(self.template_for(notice)).render(
                notice=notice, state=notice.publicity_state(ctx.today).label)
            yield Artifact(self.name, f"{notice.id}.txt", text.encode(), "text/plain",
                           notice_id=notice.id, revision=notice.revision)


class LinesRenderer(BaseRenderer):
    name = "lines"
    templates = ("lines/line.txt",)
    collection_templates = ("lines/index.txt",)
    config_sections = ()

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        template = ctx.templates.get_template("lines/line.txt")
        for notice in notices:
            RENDERED.append((self.name, notice.id))
            yield Artifact(self.name, f"{notice.id}.txt", template.render(notice=notice).encode(),
                           "text/plain", notice_id=notice.id)

    def render_collection(self, notices: Sequence[Notice], ctx: RenderContext
                          ) -> Iterator[Artifact]:
        RENDERED.append((self.name, "*"))
        text = ctx.templates.get_template("lines/index.txt").render(notices=notices)
        yield Artifact(self.name, "index.txt", text.encode(), "text/plain")


TEMPLATES = {
    "plain/notice.txt": "【{{ notice.kind.badge }}】{{ notice.title }}（{{ state }}）\n"
                        "{{ notice.summary }}\n",
    "plain/urgent.txt": "！！紧急！！{{ notice.title }}\n{{ notice.summary }}\n",
    "lines/line.txt": "{{ notice.id }} {{ notice.title }}\n",
    "lines/index.txt": "{% for n in notices %}{{ n.id }}\n{% endfor %}",
}


@pytest.fixture(autouse=True)
def renderers() -> Iterator[None]:
    registry.add_renderer("plain", f"{__name__}:PlainRenderer")
    registry.add_renderer("lines", f"{__name__}:LinesRenderer")
    RENDERED.clear()
    yield
    del registry.RENDERERS["plain"], registry.RENDERERS["lines"]
    registry._load.cache_clear()


def edit(path: Path, text: str) -> None:
    """Write ``text`` and move the modification time on, as a later save would."""
    stat = path.stat() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    if stat is not None:
        later = max(stat.st_mtime_ns, path.stat().st_mtime_ns) + 2_000_000_000
        os.utime(path, ns=(later, later))


def notice_text(notice_id: str, **replace: str) -> str:
    text = EXAMPLE.replace("id: sf-2018-0012", f"id: {notice_id}")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


URGENT = {
    "kind: project_notice": "kind: urgent",
    "title: 师古镇马祖村产业道路硬化工程项目公示": "title: 关于暂停马祖村道路施工的紧急通知",
    "publicity:\n  start: 2018-07-04\n  end: 2018-07-14\n": "",
}


@pytest.fixture
def site(tmp_path: Path) -> Project:
    root = tmp_path / "site"
    content = root / "content" / "2018"
    content.mkdir(parents=True)
    shutil.copy(REPO / "noticecast.yaml", root / "noticecast.yaml")
    edit(content / "n-1.yaml", notice_text("n-1"))
    edit(content / "n-2.yaml", notice_text("n-2", **{"李明华": "张秀英"}))
    edit(content / "u-1.yaml", notice_text("u-1", **URGENT))
    for name, text in TEMPLATES.items():
        edit(root / "templates" / name, text)
    return Project.open(root)


def run(project: Project, today: date = TODAY, **options: object) -> BuildReport:
    RENDERED.clear()
    return build(project, BuildOptions(today=today, only=("plain", "lines"), workers=1,
                                       **options))  # type: ignore[arg-type]


def rendered(renderer: str) -> list[str]:
    return sorted(notice_id for name, notice_id in RENDERED if name == renderer)


def output(project: Project, renderer: str, name: str) -> str:
    return (project.out_dir / renderer / name).read_text("utf-8")


def test_first_build_renders_everything(site: Project) -> None:
    report = run(site)
    assert report.ok
    assert rendered("plain") == ["n-1", "n-2", "u-1"]
    assert rendered("lines") == ["*", "n-1", "n-2", "u-1"]
    assert output(site, "plain", "n-1.txt").startswith(
        "【公示】师古镇马祖村产业道路硬化工程项目公示（公示中）")
    assert output(site, "plain", "u-1.txt").startswith(
        "！！紧急！！关于暂停马祖村道路施工的紧急通知")
    assert output(site, "lines", "index.txt") == "n-1\nn-2\nu-1\n"
    assert report.renderers["plain"].rendered == 3
    assert report.renderers["lines"].collection


def test_a_build_with_nothing_changed_renders_nothing(site: Project) -> None:
    run(site)
    report = run(site)
    assert RENDERED == []
    assert report.renderers["plain"].rendered == 0
    assert report.renderers["plain"].skipped == 3
    assert report.renderers["plain"].files_written == 0


def test_an_edit_to_one_notice_rerenders_only_that_notice(site: Project) -> None:
    run(site)
    path = site.content_dir / "2018" / "n-2.yaml"
    edit(path, path.read_text("utf-8").replace("欢迎监督。", "欢迎群众监督。"))
    report = run(site)
    assert rendered("plain") == ["n-2"]
    assert rendered("lines") == ["*", "n-2"]  # its line, and the index over all notices
    assert report.renderers["plain"].skipped == 2
    assert "欢迎群众监督" in output(site, "plain", "n-2.txt")


def test_a_template_edit_rerenders_only_the_notices_using_it(site: Project) -> None:
    run(site)
    edit(site.root / "templates" / "plain" / "urgent.txt",
         "！！紧急通知！！{{ notice.title }}\n{{ notice.summary }}\n")
    run(site)
    assert rendered("plain") == ["u-1"]  # the two project notices use notice.txt
    assert rendered("lines") == []  # another renderer's templates did not change
    assert output(site, "plain", "u-1.txt").startswith("！！紧急通知！！")

    edit(site.root / "templates" / "plain" / "notice.txt", "{{ notice.title }}\n")
    run(site)
    assert rendered("plain") == ["n-1", "n-2"]


def test_a_declared_template_edit_rerenders_that_renderer_only(site: Project) -> None:
    run(site)
    edit(site.root / "templates" / "lines" / "line.txt", "{{ notice.id }}: {{ notice.title }}\n")
    run(site)
    # The index does not use line.txt, so it is not rebuilt; the other renderer is untouched.
    assert rendered("lines") == ["n-1", "n-2", "u-1"]
    assert rendered("plain") == []
    edit(site.root / "templates" / "lines" / "index.txt", "{{ notices | length }}\n")
    run(site)
    assert rendered("lines") == ["*"]
    assert output(site, "lines", "index.txt") == "3\n"


def test_a_change_of_publicity_state_rerenders_that_notice(site: Project) -> None:
    edit(site.content_dir / "2018" / "n-2.yaml", notice_text("n-2", **{
        "start: 2018-07-04\n  end: 2018-07-14": "start: 2018-07-10\n  end: 2018-07-20"}))
    run(site)
    run(site, today=date(2018, 7, 12))  # n-1 is still running; n-2 has started
    # ... and the urgent u-1 (published on the 4th) left force on the 11th (site.urgent_days)
    assert rendered("plain") == ["n-2", "u-1"]
    assert "（公示中）" in output(site, "plain", "n-2.txt")
    run(site, today=date(2018, 7, 15))  # n-1 ended on the 14th
    assert rendered("plain") == ["n-1"]
    assert "（已结束）" in output(site, "plain", "n-1.txt")  # u-1: nothing changed since


def test_deleting_a_notice_removes_its_outputs(site: Project) -> None:
    run(site)
    (site.content_dir / "2018" / "n-1.yaml").unlink()
    report = run(site)
    assert not (site.out_dir / "plain" / "n-1.txt").exists()
    assert not (site.out_dir / "lines" / "n-1.txt").exists()
    assert report.renderers["plain"].files_removed == 1
    assert output(site, "lines", "index.txt") == "n-2\nu-1\n"
    assert rendered("plain") == []


def test_an_invalid_edit_keeps_the_last_good_outputs(site: Project) -> None:
    run(site)
    before = output(site, "plain", "n-1.txt")
    path = site.content_dir / "2018" / "n-1.yaml"
    edit(path, path.read_text("utf-8").replace("total: 685000", "total: 600000"))
    report = run(site)
    assert not report.ok
    (problem,) = report.problems
    assert str(problem).startswith("content/2018/n-1.yaml:")
    assert "not the stated total 600000 yuan" in str(problem)
    assert output(site, "plain", "n-1.txt") == before  # still on the public record
    assert output(site, "lines", "index.txt") == "n-1\nn-2\nu-1\n"
    assert rendered("plain") == []
    # Fixed again, but identical to what was last rendered: nothing to do.
    edit(path, path.read_text("utf-8").replace("total: 600000", "total: 685000"))
    assert run(site).ok
    assert rendered("plain") == []


def test_valid_notices_build_beside_invalid_ones(site: Project) -> None:
    content = site.content_dir / "2018"
    edit(content / "bad-1.yaml", notice_text("bad-1").replace("title:", "titel:"))
    edit(content / "bad-2.yaml",
         notice_text("bad-2", **{"area: 什邡市/师古镇/马祖村": "area: 外县"}))
    report = run(site)
    assert len(report.problems) == 2
    assert rendered("plain") == ["n-1", "n-2", "u-1"]
    assert sorted(p.name for p in (site.out_dir / "plain").iterdir()) == [
        "n-1.txt", "n-2.txt", "u-1.txt"]


def test_force_rerenders_everything(site: Project) -> None:
    run(site)
    run(site, force=True)
    assert rendered("plain") == ["n-1", "n-2", "u-1"]


def test_the_cli_builds_incrementally_and_exits_1_with_invalid_files(site: Project) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pipeline import registry
        registry.add_renderer("plain", "{__name__}:PlainRenderer")
        from pipeline.cli import main
        main(sys.argv[1:])
    """)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], cwd=site.root,
                              capture_output=True, text=True, timeout=120)

    first = cli("build", "--only", "plain", "--today", "2018-07-08", "-j", "1")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert sorted(p.name for p in (site.out_dir / "plain").iterdir()) == [
        "n-1.txt", "n-2.txt", "u-1.txt"]
    edit(site.content_dir / "2018" / "bad.yaml", notice_text("bad").replace("title:", "titel:"))
    path = site.content_dir / "2018" / "n-2.yaml"
    edit(path, path.read_text("utf-8").replace("欢迎监督。", "欢迎群众监督。"))
    second = cli("build", "--only", "plain", "--today", "2018-07-08", "-j", "1")
    assert second.returncode == 1
    assert "Traceback" not in second.stderr + second.stdout
    assert "content/2018/bad.yaml:4:1: titel: unknown field 'titel'; did you mean 'title'?" \
        in second.stderr
    row = next(line for line in second.stderr.splitlines() if line.strip(" │┃").startswith("plain"))
    cells = [cell.strip() for cell in row.replace("┃", "│").split("│") if cell.strip()]
    assert cells[:3] == ["plain", "1", "2"]  # rendered 1 (n-2), unchanged 2
    assert "欢迎群众监督" in output(site, "plain", "n-2.txt")
