"""`noticecast new KIND ID`: a complete, commented notice that passes `check` as written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipeline import yamlsrc
from pipeline.errors import InputError
from pipeline.load import load_notices, parse_notice
from pipeline.model import Attachment, Contact, Correction, Kind, Notice, Project, Withdrawal
from pipeline.project import Project as SiteProject
from pipeline.scaffold import align_comments, scaffold

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2018, 7, 8)


@pytest.fixture
def site(tmp_path: Path) -> SiteProject:
    shutil.copy(REPO / "noticecast.yaml", tmp_path / "noticecast.yaml")
    return SiteProject.open(tmp_path)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_scaffolds_a_valid_draft(site: SiteProject, kind: Kind) -> None:
    path = scaffold(kind.value, f"new-{kind.value.replace('_', '-')}", site.content_dir / "2018",
                    site.config, TODAY)
    notice = parse_notice(path, site.config, "x.yaml")
    assert notice.kind is kind
    assert notice.status.value == "draft"
    assert notice.published.date() == date(2018, 7, 9)
    if kind.is_fund_notice:
        assert notice.project is not None and notice.publicity is not None
        assert notice.publicity.days == site.config.rules.min_publicity_days  # exactly enough
        assert notice.area == "什邡市/师古镇/马祖村"
    else:
        assert notice.project is None and notice.area == "什邡市"
    assert (notice.interpretation is not None) is (kind is Kind.policy)


def test_every_field_is_named_in_the_file(site: SiteProject) -> None:
    path = scaffold("project_notice", "all-fields", site.content_dir, site.config, TODAY)
    text = path.read_text("utf-8")
    for model in (Notice, Project, Contact, Correction, Withdrawal, Attachment):
        for name in model.model_fields:
            if model is Notice and name == "interpretation":
                continue  # only policy documents have one
            assert f"{name}:" in text, f"{model.__name__}.{name}"
    assert "interpretation:" in scaffold("policy", "p", site.content_dir, site.config,
                                         TODAY).read_text("utf-8")


def test_comments_are_chinese_and_aligned(site: SiteProject) -> None:
    text = scaffold("fund_allocation", "aligned", site.content_dir, site.config,
                    TODAY).read_text("utf-8")
    assert "# 标题" in text and "# 资金来源及规模" in text and "# 公示期" in text
    lines = [line for line in text.splitlines()
             if line.startswith(("title:", "level:", "revision:"))]
    columns = {line.index("#") for line in lines if line.startswith(("level:", "revision:"))}
    assert len(columns) == 1
    assert align_comments("a: 1  ## 注释\n## 标题行\n") == (
        "a: 1" + " " * 32 + "# 注释\n# 标题行\n")


def test_an_approved_scaffold_is_still_valid(site: SiteProject) -> None:
    path = scaffold("项目公示", "approved-one", site.content_dir, site.config, TODAY)
    text = path.read_text("utf-8")
    lines = [("status: approved" if line.startswith("status:") else line)
             for line in text.splitlines()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    result = load_notices([site.content_dir], site.config, site.root)
    assert result.ok
    assert result.notices[0].status.value == "approved"


def test_the_file_keeps_its_marks_for_errors(site: SiteProject) -> None:
    path = scaffold("urgent", "marks", site.content_dir, site.config, TODAY)
    doc = yamlsrc.read(path)
    assert doc.locate(("title",)).line == 5


def test_refusals(site: SiteProject) -> None:
    with pytest.raises(InputError, match="unknown kind 'news'; use one of fund_allocation"):
        scaffold("news", "x", site.content_dir, site.config, TODAY)
    with pytest.raises(InputError, match="is not a slug"):
        scaffold("policy", "Bad Id", site.content_dir, site.config, TODAY)
    scaffold("policy", "twice", site.content_dir, site.config, TODAY)
    with pytest.raises(InputError, match="file exists already"):
        scaffold("policy", "twice", site.content_dir, site.config, TODAY)


def test_the_new_command(site: SiteProject) -> None:
    def new(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pipeline", "new", *args], cwd=site.root,
                              capture_output=True, text=True, timeout=60)

    made = new("竣工公示", "ck-2018-0099", "--today", "2018-07-08")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "content/2018/ck-2018-0099.yaml"
    check = subprocess.run([sys.executable, "-m", "pipeline", "check"], cwd=site.root,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    again = new("completion_notice", "ck-2018-0099", "--today", "2018-07-08")
    assert again.returncode == 1
    assert "file exists already" in again.stderr
    assert "Traceback" not in again.stderr
