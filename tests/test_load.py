"""Loading many notice files: every problem collected and located, rules from the config."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from pipeline.load import discover, load_notices
from pipeline.model import Kind, Level, PublicityState, Status
from pipeline.project import Project

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "content" / "2018" / "sf-2018-0012.yaml").read_text("utf-8")


def write_notice(folder: Path, notice_id: str, text: str = EXAMPLE, **replace: str) -> Path:
    text = text.replace("id: sf-2018-0012", f"id: {notice_id}")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / f"{notice_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Project:
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    (root / "noticecast.yaml").write_text((REPO / "noticecast.yaml").read_text("utf-8"), "utf-8")
    return Project.open(root)


def load(project: Project, cache: Path | None = None):  # type: ignore[no-untyped-def]
    return load_notices([project.content_dir], project.config, project.root, cache_file=cache)


def test_good_and_bad_files_are_all_reported_in_one_run(site: Project) -> None:
    content = site.content_dir
    write_notice(content, "a-good")
    write_notice(content, "b-bad-total", **{"total: 685000": "total: 600000"})
    write_notice(content, "c-bad-phone", **{"0838-8512345": "8512345"})
    write_notice(content, "d-good")
    result = load(site)
    assert [n.id for n in result.notices] == ["a-good", "d-good"]
    assert sorted(result.invalid) == ["content/b-bad-total.yaml", "content/c-bad-phone.yaml"]
    assert [str(p).split(":")[0] for p in result.problems] == [
        "content/b-bad-total.yaml", "content/c-bad-phone.yaml"]
    assert not result.ok
    assert result.paths["a-good"] == content / "a-good.yaml"


def test_id_must_equal_the_file_name(site: Project) -> None:
    write_notice(site.content_dir, "x-1", text=EXAMPLE.replace("id: sf-2018-0012", "id: x-2"))
    (problem,) = load(site).problems
    assert str(problem).startswith("content/x-1.yaml:1:5: id 'x-2' must equal the file name")


def test_duplicate_ids_keep_the_first_file(site: Project) -> None:
    write_notice(site.content_dir / "2017", "dup")
    write_notice(site.content_dir / "2018", "dup")
    result = load(site)
    assert [n.id for n in result.notices] == ["dup"]
    assert result.paths["dup"] == site.content_dir / "2017" / "dup.yaml"
    (problem,) = result.problems
    assert str(problem).startswith("content/2018/dup.yaml:1:5: id 'dup' is also used by "
                                   "content/2017/dup.yaml")


def test_area_must_lie_in_the_configured_regions(site: Project) -> None:
    write_notice(site.content_dir, "far",
                 **{"area: 什邡市/师古镇/马祖村": "area: 什邡市/师古镇/双盛村"})
    (problem,) = load(site).problems
    assert "'双盛村' is not in the office's regions" in str(problem)
    assert problem.location.line == 7


def test_publicity_minimum_comes_from_the_config(site: Project) -> None:
    write_notice(site.content_dir, "eleven-days")  # 2018-07-04 .. 2018-07-14
    assert load(site).ok
    config = site.root / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace("min_publicity_days: 10",
                                                         "min_publicity_days: 15"), "utf-8")
    stricter = Project.open(site.root)
    (problem,) = load(stricter).problems
    assert "publicity period is 11 days, under the minimum of 15" in str(problem)
    assert (problem.location.line, problem.location.column) == (11, 8)


def test_county_fund_notices_may_be_shorter(site: Project) -> None:
    write_notice(site.content_dir, "county", **{
        "level: village": "level: county", "area: 什邡市/师古镇/马祖村": "area: 什邡市",
        "end: 2018-07-14": "end: 2018-07-06"})
    assert load(site).ok


def test_unknown_channel_names_are_errors(site: Project) -> None:
    write_notice(site.content_dir, "wechat", **{"status: approved":
                                                "status: approved\nchannels: [site, weixin]"})
    (problem,) = load(site).problems
    assert "unknown channel 'weixin'" in str(problem)


def test_bom_and_chinese_labels_load(site: Project) -> None:
    path = write_notice(site.content_dir, "bom", **{"kind: project_notice": "kind: 项目公示",
                                                    "status: approved": "status: 已审核"})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (notice,) = load(site).notices
    assert notice.kind is Kind.project_notice and notice.status is Status.approved


def test_oversized_file_uses_the_configured_limit(site: Project) -> None:
    write_notice(site.content_dir, "big", **{
        "公示期间，": "公示期间，" + "这是一段很长的正文。" * 12000 + "\n  "})
    (problem,) = load(site).problems
    assert str(problem).startswith("content/big.yaml:1:1: file is ")
    assert "over the limit of 262,144" in str(problem)


def test_discover_skips_hidden_files_and_other_suffixes(site: Project) -> None:
    content = site.content_dir
    write_notice(content, "a")
    (content / "b.yml").write_text(EXAMPLE.replace("sf-2018-0012", "b"), "utf-8")
    (content / "notes.txt").write_text("x", "utf-8")
    (content / ".hidden.yaml").write_text("x", "utf-8")
    (content / ".git").mkdir()
    (content / ".git" / "c.yaml").write_text("x", "utf-8")
    assert [p.name for p in discover([content])] == ["a.yaml", "b.yml"]
    assert discover([content / "a.yaml"]) == [content / "a.yaml"]


def test_parse_cache_reuses_unchanged_files_and_rereads_edited_ones(site: Project) -> None:
    cache = site.out_dir / ".cache" / "notices.pickle"
    path = write_notice(site.content_dir, "cached")
    first = load(site, cache)
    assert cache.is_file()
    second = load(site, cache)
    assert second.notices[0] is not first.notices[0]  # unpickled, not the same object
    assert second.notices[0] == first.notices[0]

    path.write_text(path.read_text("utf-8").replace("李明华", "李明"), "utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    third = load(site, cache)
    assert third.notices[0].project is not None
    assert third.notices[0].project.responsible.name == "李明"


def test_an_invalid_edit_remembers_the_last_good_notice(site: Project) -> None:
    cache = site.out_dir / ".cache" / "notices.pickle"
    path = write_notice(site.content_dir, "flaky")
    assert load(site, cache).ok
    path.write_text(path.read_text("utf-8").replace("title:", "titel:"), "utf-8")
    result = load(site, cache)
    assert not result.notices
    assert "did you mean 'title'?" in str(result.problems[0])
    assert result.last_good["flaky"].title == "师古镇马祖村产业道路硬化工程项目公示"
    path.unlink()
    assert load(site, cache).last_good == {}  # a deleted file is gone, not "last good"


def test_a_config_change_invalidates_the_parse_cache(site: Project) -> None:
    cache = site.out_dir / ".cache" / "notices.pickle"
    write_notice(site.content_dir, "rules")
    assert load(site, cache).ok
    config = site.root / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace("马祖村, ", ""), "utf-8")
    assert not load(Project.open(site.root), cache).ok


# -- the bundled demo content -------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    project = Project.open(REPO)
    return load_notices([project.content_dir], project.config, project.root)


def test_demo_content_is_valid_and_large_enough(demo) -> None:  # type: ignore[no-untyped-def]
    assert demo.problems == []
    assert len(demo.notices) >= 26
    for notice_id, path in demo.paths.items():
        assert path.stem == notice_id
        assert path.parent.name == str(demo.by_id()[notice_id].published.year)


def test_demo_covers_every_kind_level_and_place(demo) -> None:  # type: ignore[no-untyped-def]
    notices = demo.notices
    assert {n.kind for n in notices} == set(Kind)
    assert {n.level for n in notices} == set(Level)
    assert {n.area_parts[0] for n in notices} == {"什邡市", "广安区", "城口县"}
    assert Counter(n.status for n in notices)[Status.approved] > len(notices) * 0.8


def test_demo_edge_cases(demo, demo_today: date) -> None:  # type: ignore[no-untyped-def]
    notices = demo.notices
    corrected = [n for n in notices if n.revision >= 2]
    assert corrected and all(n.correction and n.correction.changes for n in corrected)
    withdrawn = [n for n in notices if n.status is Status.withdrawn]
    assert withdrawn and all(n.withdrawal for n in withdrawn)
    assert any(n.status is Status.draft for n in notices)
    assert any(n.kind is Kind.urgent and n.status is Status.approved for n in notices)
    assert any(n.kind is Kind.policy and n.interpretation and n.attachments for n in notices)
    assert any(len(n.title) > 60 for n in notices)
    assert any(n.project and len(n.project.funds) >= 5 for n in notices)
    states = Counter(n.publicity_state(demo_today) for n in notices)
    for state in PublicityState:
        assert states[state] >= 1, state
    sources = {f.source for n in notices if n.project for f in n.project.funds}
    assert len(sources) >= 8
    assert any(n.total_funds and n.total_funds != n.total_funds.to_integral()
               for n in notices)  # some amounts carry fen


def test_the_example_other_tests_rely_on(demo) -> None:  # type: ignore[no-untyped-def]
    notice = demo.by_id()["sf-2018-0012"]
    assert notice.total_display == "68.5万元"
    assert notice.place == "什邡市师古镇马祖村"
