"""Helpers for the web tests: a small project on disk, a build, a strict HTML check, a server.

(No tests here; the module is named for the feature so that it sits with its tests.)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from pipeline.build import BuildOptions, BuildReport, build
from pipeline.commands.web import make_server
from pipeline.project import Project

CONFIG = """\
office:
  name: 测试扶贫公示平台
  phone: 0838-8202011
  supervision_phone: 0838-8202012
regions:
  什邡市:
    师古镇: [马祖村, 红豆村]
    洛水镇: []
  广安区: {}
site:
  base_url: https://gongshi.example.gov.cn
  title: 扶贫资金项目公告公示
  page_size: %(page_size)d
"""

BASE_NOTICE: dict[str, Any] = {
    "id": "sf-2018-0012",
    "revision": 1,
    "kind": "project_notice",
    "title": "师古镇马祖村产业道路硬化工程项目公示",
    "issuer": "什邡市师古镇人民政府",
    "level": "village",
    "area": "什邡市/师古镇/马祖村",
    "published": "2018-07-04 09:00:00",
    "publicity": {"start": "2018-07-04", "end": "2018-07-14"},
    "project": {
        "name": "马祖村产业道路硬化工程",
        "location": "什邡市师古镇马祖村3组至5组",
        "content": "新建C25混凝土产业道路2.3公里",
        "subsidy_standard": "每公里补助29.8万元",
        "period": {"start": "2018-07-20", "end": "2018-10-31"},
        "implementer": "什邡市师古镇人民政府",
        "responsible": {"name": "李明华", "phone": "13908101234"},
        "funds": [
            {"source": "中央财政专项扶贫资金", "amount": 400000},
            {"source": "省级财政专项扶贫资金", "amount": 200000},
            {"source": "市级财政配套资金", "amount": 85000},
        ],
        "total": 685000,
        "performance_goal": "解决3个村民小组1200余人出行难题",
        "poverty_mechanism": "优先聘用本村贫困户务工，带动32户贫困户增收",
        "beneficiaries": {"households": 326, "poor_households": 32},
    },
    "contact": {"office_phone": "0838-8512345", "supervision_phone": "0838-8202012",
                "hotline": "12317"},
    "summary": "马祖村产业道路硬化工程总投资68.5万元，7月4日至7月14日公示，欢迎监督。",
    "body": "现将马祖村产业道路硬化工程有关情况予以公示。\n\n## 异议\n\n请拨打监督电话。",
    "attachments": [{"title": "项目明细表", "url": "https://gongshi.example.gov.cn/files/a.pdf"}],
    "status": "approved",
}
TODAY = date(2018, 7, 8)


def notice(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_NOTICE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def announcement(notice_id: str, **changes: Any) -> dict[str, Any]:
    """A short county announcement (no project), for listing and feed tests."""
    data = notice(id=notice_id, kind="announcement", level="county", area="什邡市",
                  issuer="什邡市扶贫移民局", title=f"公告 {notice_id}", project=None,
                  publicity=None, summary=f"公告 {notice_id} 的摘要。")
    data.update(changes)
    return data


def make_project(root: Path, notices: list[dict[str, Any]], page_size: int = 20) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "noticecast.yaml").write_text(CONFIG % {"page_size": page_size}, "utf-8")
    content = root / "content"
    content.mkdir(exist_ok=True)
    for item in notices:
        write_notice(root, item)
    return root


def write_notice(root: Path, item: dict[str, Any]) -> Path:
    path = root / "content" / f"{item['id']}.yaml"
    path.write_text(yaml.safe_dump(item, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def build_web(root: Path, today: date = TODAY) -> BuildReport:
    project = Project.open(root)
    report = build(project, BuildOptions(today=today, only=("web",), workers=1))
    assert report.ok, [str(p) for p in report.problems]
    return report


def site_of(root: Path) -> Path:
    return root / "out" / "web"


class StrictHTML(HTMLParser):
    """Well-formedness and the page rules we promise, with python's own HTML parser.

    Every non-void element must be closed explicitly and in order, ids are unique, there is
    one h1 and headings never skip a level on the way down.
    """

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                      "meta", "source", "track", "wbr", "path", "rect"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.headings: list[int] = []
        self.ids: set[str] = set()
        self.lang: str | None = None
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.errors.append(f"duplicate attribute in <{tag}>")
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if "id" in values:
            if values["id"] in self.ids:
                self.errors.append(f"duplicate id {values['id']!r}")
            self.ids.add(values["id"] or "")
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            level = int(tag[1])
            if self.headings and level > self.headings[-1] + 1:
                self.errors.append(f"<{tag}> after <h{self.headings[-1]}> skips a level")
            if not self.headings and level != 1:
                self.errors.append(f"first heading is <{tag}>, not <h1>")
            self.headings.append(level)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def html_problems(text: str) -> list[str]:
    checker = StrictHTML()
    checker.feed(text)
    checker.close()
    problems = list(checker.errors)
    if checker.stack:
        problems.append(f"unclosed: {checker.stack}")
    if not checker.doctype:
        problems.append("no <!DOCTYPE html>")
    if checker.lang != "zh-CN":
        problems.append(f"lang is {checker.lang!r}")
    if checker.headings.count(1) != 1:
        problems.append(f"{checker.headings.count(1)} h1 elements")
    return problems


@contextmanager
def serving(directory: Path, prefix: str = "") -> Iterator[str]:
    """The built site on a loopback server; yields its base URL (with the prefix)."""
    server = make_server(directory, 0, prefix, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}{prefix.rstrip('/')}/"
    finally:
        server.shutdown()
        server.server_close()
