"""Oversight: project pages, statistics that add up, the compliance report, alerts, import-xlsx."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from pipeline.board_postings import POSTED, TAKEN_DOWN
from pipeline.board_postings import record as record_posting
from pipeline.config import load_config
from pipeline.ledger import DELIVERED, IN_DOUBT, Key, Ledger, Outcome
from pipeline.load import load_notices
from pipeline.oversight import compliance, documents, stats
from pipeline.oversight.deliveries import read_deliveries, summary_for_build
from pipeline.oversight.projects import group_projects, project_warnings
from pipeline.renderers.base import RenderContext
from pipeline.renderers.web_projects import oversight_pages
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
DEMO = datetime(2018, 7, 8, 23, 59, 59)


def noticecast(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("noticecast")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "pipeline"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180)


def _config_with(folder: Path, **sections: object) -> None:
    """The demo config with some sections replaced."""
    import yaml

    data = yaml.safe_load((REPO / "noticecast.yaml").read_text("utf-8"))
    data.update(sections)
    (folder / "noticecast.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    if (REPO / "subscribers.csv").exists():
        shutil.copy(REPO / "subscribers.csv", folder / "subscribers.csv")


def _demo():  # type: ignore[no-untyped-def]
    config = load_config(REPO / "noticecast.yaml")
    loaded = load_notices((REPO / "content",), config, REPO)
    assert not loaded.problems
    return config, loaded


def _ctx(config, deliveries=None):  # type: ignore[no-untyped-def]
    return RenderContext(config=config, today=DEMO.date(),
                         templates=make_environment(template_dirs(REPO)),
                         now=DEMO.replace(tzinfo=config.zone), deliveries=deliveries)


# -- the project page ---------------------------------------------------------------------------

def test_the_demo_project_page_shows_its_four_notices_the_fund_mix_and_the_channels(
        tmp_path: Path) -> None:
    config, loaded = _demo()
    ledger_path = tmp_path / "ledger.sqlite"
    with Ledger(ledger_path) as ledger:  # the completion notice reached the site and SMS
        key = Key("sf-2018-0015", 1, "publish", "site", "web_root")
        when = datetime(2018, 6, 15, 9, 5, tzinfo=config.zone)
        ledger.claim([(key, "site", "idempotent")], as_of=when, actor="test")
        ledger.record([(key, Outcome(DELIVERED, attempt=1))], as_of=when, actor="test")
        for phone in ("sub-1", "sub-2", "sub-3"):  # one SMS digest to three subscribers
            _deliver(ledger, Key("sf-2018-0015", 1, "publish", "sms", phone),
                     when + timedelta(minutes=10), mode="at-most-once")
    demo_now = DEMO.replace(tzinfo=config.zone)
    summary = summary_for_build(ledger_path, demo_now, config.zone)
    pages = {a.path: a for a in oversight_pages("web", loaded.notices, _ctx(config, summary))}
    html = pages["projects/SF-2018-XM-015/index.html"].data.decode()
    ids = ["sf-2017-0052", "sf-2017-0055", "sf-2018-0001", "sf-2018-0015"]
    positions = [html.index(f"notices/{i}/") for i in ids]
    assert positions == sorted(positions)  # in order: plan, 公示, 更正, 竣工公示
    for label in ("项目计划", "项目公示", "更正", "竣工公示"):
        assert label in html
    for fund in ("中央财政专项扶贫资金", ">52<", "市级水利发展资金", ">23.68<", ">75.68<"):
        assert fund in html
    assert "412户，其中贫困户46户" in html
    assert "网站：2018年6月15日 09:05" in html
    assert "短信（3处）：2018年6月15日 09:15" in html
    assert len(summary.of("sf-2018-0015")) == 2  # folded: one line a channel
    assert "已验收" in html  # the 竣工公示's publicity period ended on 6月24日
    assert "projects/CK-2017-XM-031/index.html" in pages
    index = pages["projects/index.html"].data.decode()
    assert "SF-2018-XM-015" in index and "CK-2017-XM-031" in index
    # A build's ledger read is read-only: the file is not migrated or written.
    before = ledger_path.stat().st_mtime_ns
    summary_for_build(ledger_path, demo_now, config.zone)
    assert ledger_path.stat().st_mtime_ns == before
    assert summary_for_build(tmp_path / "missing.sqlite", demo_now, config.zone).carried == ()
    assert not (tmp_path / "missing.sqlite").exists()


def test_the_pages_show_what_arrived_up_to_yesterday_so_a_rerun_sends_nothing(
        tmp_path: Path) -> None:
    config, _ = _demo()
    zone = config.zone
    path = tmp_path / "ledger.sqlite"
    when = datetime(2018, 7, 4, 10, tzinfo=zone)
    later_that_day = datetime(2018, 7, 4, 23, 59, tzinfo=zone)
    next_day = datetime(2018, 7, 5, 8, tzinfo=zone)
    key = Key("sf-2018-0012", 1, "publish", "telegram", "@chat")
    with Ledger(path) as ledger:
        ledger.claim([(key, "@chat", "at-most-once")], as_of=when, actor="t")
    sending = summary_for_build(path, next_day, zone).digest()  # nothing arrived yet
    with Ledger(path) as ledger:
        ledger.record([(key, Outcome(DELIVERED, attempt=1))], as_of=when, actor="t")
    # The day's own runs build the same pages: the publish that delivered the site does not
    # make the next run of the day deliver it again.
    assert summary_for_build(path, later_that_day, zone).digest() == sending
    arrived = summary_for_build(path, next_day, zone)
    assert arrived.digest() != sending
    assert [c.channel for c in arrived.of("sf-2018-0012")] == ["telegram"]
    with Ledger(path) as ledger:  # a site swap (a collection key) does not change the pages
        swap = Key("*abc", 0, "publish", "site", "web_root")
        ledger.claim([(swap, "site", "idempotent")], as_of=when, actor="t")
        ledger.record([(swap, Outcome(DELIVERED, attempt=1))], as_of=when, actor="t")
    assert summary_for_build(path, next_day, zone).digest() == arrived.digest()


def test_check_warns_about_a_lonely_completion_and_amounts_without_correction(
        tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(REPO / "content", content)
    (content / "2017" / "ck-2017-0012.yaml").unlink()
    (content / "2017" / "ck-2017-0018.yaml").unlink()
    changed = content / "2017" / "sf-2017-0055.yaml"
    changed.write_text(changed.read_text("utf-8").replace("amount: 200000", "amount: 210000")
                       .replace("total: 720000", "total: 730000"), "utf-8")
    shutil.copy(REPO / "noticecast.yaml", tmp_path)
    result = noticecast("check", cwd=tmp_path)
    lines = [line for line in result.stdout.splitlines() if "project" in line]
    assert any(line.startswith("content/2017/ck-2017-0031.yaml:") and "竣工公示 of project "
               "CK-2017-XM-031 has no earlier notice" in line for line in lines), lines
    assert any(line.startswith("content/2017/sf-2017-0055.yaml:") and "73万元" in line
               and "72万元 in sf-2017-0052" in line for line in lines), lines
    # The correction that follows changes the amount with a note: no warning for it.
    assert not any("sf-2018-0001" in line for line in lines)


def test_the_demo_content_has_no_project_warnings() -> None:
    _, loaded = _demo()
    assert project_warnings(loaded.notices, loaded.paths) == []


# -- statistics ----------------------------------------------------------------------------

def test_statistics_add_up_across_levels_on_1000_synthetic_notices(tmp_path: Path) -> None:
    from bench.generate import generate

    root = generate(tmp_path / "bench", 1000)
    config = load_config(root / "noticecast.yaml")
    loaded = load_notices((root / "content",), config, root)
    projects = group_projects(loaded.notices)
    assert len(projects) > 400
    result = stats.compute(projects)
    total = result.total
    assert total.projects == sum(1 for p in projects if not p.withdrawn)

    def summed(tallies) -> stats.Tally:  # type: ignore[no-untyped-def]
        out = stats.Tally()
        for tally in tallies:
            out.add(tally)
        return out

    assert summed(result.by_year.values()).key() == total.key()
    assert summed(result.by_department.values()).key() == total.key()
    assert summed(c.tally() for c in result.counties.values()).key() == total.key()
    towns_checked = 0
    for county in result.counties.values():
        towns = summed(t.tally() for t in county.children.values())
        towns.add(county.own)
        assert towns.key() == county.tally().key()
        for town in county.children.values():
            villages = summed(v.tally() for v in town.children.values())
            villages.add(town.own)
            assert villages.key() == town.tally().key()
            towns_checked += bool(town.children)
    assert towns_checked >= 5
    # The money is exact yuan, all the way to the downloads.
    expected = sum((p.total for p in projects if not p.withdrawn), Decimal(0))
    assert total.total == expected
    tables = stats.all_tables(result)
    book = load_workbook(io.BytesIO(stats_xlsx := __import__(
        "pipeline.oversight.tables", fromlist=["to_xlsx"]).to_xlsx(tables)))
    area = book["按乡镇和村"]
    rows = list(area.iter_rows(values_only=True))
    header = rows[0]
    money = header.index("资金合计（万元）")
    assert rows[-1][0] == "合计"
    assert Decimal(str(rows[-1][money])) == expected / 10000
    county_rows = [r for r in rows[1:] if r[0] == "县"]
    assert sum(Decimal(str(r[money])) for r in county_rows) == expected / 10000
    assert stats_xlsx == __import__("pipeline.oversight.tables", fromlist=["to_xlsx"]).to_xlsx(
        tables)  # the same bytes each time: the site does not change for nothing
    from pipeline.oversight.tables import to_csv

    parsed = list(csv.reader(io.StringIO(to_csv(tables[0]).decode("utf-8-sig"))))
    years = [r for r in parsed[1:] if r[0] != "合计"]
    assert sum(int(r[1]) for r in years) == total.projects
    assert sum(Decimal(r[3]) for r in years) * 10000 == expected


# -- the compliance report ------------------------------------------------------------------

def _deliver(ledger: Ledger, key: Key, when: datetime, state: str = DELIVERED,
             mode: str = "idempotent") -> None:
    ledger.claim([(key, key.target, mode)], as_of=when, actor="publish")
    ledger.record([(key, Outcome(state, attempt=1,
                                 reason="no answer" if state == IN_DOUBT else None))],
                  as_of=when, actor="publish")


def test_the_compliance_report_names_short_missing_and_in_doubt(tmp_path: Path) -> None:
    config, loaded = _demo()
    zone = config.zone
    path = tmp_path / "ledger.sqlite"

    def at(day: int, hour: int = 10) -> datetime:
        return datetime(2018, 7, day, hour, tzinfo=zone)

    with Ledger(path) as ledger:  # the publish history of July, run by run
        for notice_id, day in (("sf-2018-0012", 4), ("sf-2018-0013", 2),
                               ("ga-2018-0009", 5)):
            _deliver(ledger, Key(notice_id, 1 if notice_id != "sf-2018-0013" else 2,
                                 "publish", "site", "web_root"), at(day))
        # 马祖村's board: posted on the 4th, taken down on the 11th: 8 days, not 10.
        _deliver(ledger, Key("sf-2018-0012", 1, "publish", "board", "什邡市/师古镇/马祖村"),
                 at(4, 9))
        record_posting(ledger, "sf-2018-0012", 1, "什邡市/师古镇/马祖村", POSTED, at(4, 11))
        record_posting(ledger, "sf-2018-0012", 1, "什邡市/师古镇/马祖村", TAKEN_DOWN,
                       at(11, 17))
        # 宏达村's board never got sf-2018-0013: its sheet is still waiting.
        ledger.claim([(Key("sf-2018-0013", 2, "publish", "board", "什邡市/师古镇/宏达村"),
                       "宏达村", "idempotent")], as_of=at(2), actor="publish")
        # An SMS of ga-2018-0009 that may or may not have gone out.
        _deliver(ledger, Key("ga-2018-0009", 1, "publish", "sms", "sub-1"), at(5),
                 state=IN_DOUBT, mode="at-most-once")
    summary = read_deliveries(path)
    period = compliance.Period.month("2018-07")
    as_of = compliance.end_instant(period, zone)
    report = compliance.build_report(loaded.notices, config, summary, period, as_of)
    items = {i.notice.id: i for i in report.notices}

    mazu = items["sf-2018-0012"]
    (board,) = mazu.boards
    assert board.days == 8 and board.taken_down is not None
    assert mazu.verdict == compliance.SHORT and mazu.on_time

    hongda = items["sf-2018-0013"]
    assert [b.name for b in hongda.missing_boards] == ["宏达村村务公开栏"]
    assert hongda.verdict == compliance.SHORT

    shilong = items["ga-2018-0009"]
    assert [(c.channel, c.state) for c in shilong.problems] == [("sms", IN_DOUBT)]
    assert shilong.site_days == 10 and shilong.on_time

    assert items["sf-2018-0014"].site_arrived is None and items["sf-2018-0014"].late
    shigu = next(t for t in report.towns if t.name == "什邡市师古镇")
    assert (shigu.short, shigu.never_posted) == (3, 1)  # 红豆村: never on the site
    assert report.towns[0].problems >= report.towns[-1].problems  # worst first

    html = documents.compliance_html(report, make_environment(template_dirs(REPO)), config,
                                     as_of)
    assert "2018年7月扶贫资金项目公告公示情况通报" in html
    assert "马祖村村务公开栏：8天" in html and "未张贴" in html and "存疑" in html
    book = load_workbook(io.BytesIO(documents.compliance_xlsx(report, config)))
    assert book.sheetnames[:3] == ["按乡镇排名", "按部门排名", "逐条情况"]
    assert documents.html_to_pdf(html).startswith(b"%PDF")


def test_report_compliance_command_writes_html_xlsx_and_pdf(tmp_path: Path) -> None:
    shutil.copytree(REPO / "content", tmp_path / "content")
    shutil.copy(REPO / "noticecast.yaml", tmp_path)
    result = noticecast("report", "compliance", "--month", "2018-07", "--today", "2018-07-31",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for suffix in ("html", "xlsx", "pdf"):
        assert (tmp_path / "out" / "reports" / f"compliance-2018-07.{suffix}").stat().st_size
    bad = noticecast("report", "compliance", "--month", "2018-13", cwd=tmp_path)
    assert bad.returncode == 1 and "not a month" in bad.stderr
    assert "Traceback" not in bad.stderr


# -- alerts ----------------------------------------------------------------------------------

def test_alerts_reach_each_office_once_over_repeated_runs(tmp_path: Path) -> None:
    shutil.copytree(REPO / "content", tmp_path / "content")
    _config_with(tmp_path, alerts={"offices": {
        "*": {"sms": ["13800000001"]},
        "什邡市师古镇人民政府": {"sms": ["13800000002", "13800000003"]}}})
    first = noticecast("alerts", "--today", "2018-07-12", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "out" / "channels" / "alerts" / "sms"
    sent = sorted(outbox.glob("*.json"))
    texts = [json.loads(p.read_text("utf-8")) for p in sent]
    # 马祖村's publicity ends on the 14th: two days ahead, to both of 师古镇's phones.
    mazu = [t for t in texts if "publicity-ending-sf-2018-0012" in t["digest_id"]]
    assert sorted(t["phone"] for t in mazu) == ["13800000002", "13800000003"]
    assert "公示期将于2018年7月14日结束（还有2天）" in "".join(mazu[0]["parts"])
    assert any("not-sent" in t["digest_id"] for t in texts)  # nothing was ever published
    second = noticecast("alerts", "--today", "2018-07-12", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert sorted(outbox.glob("*.json")) == sent  # not one text twice
    assert "0 message(s) sent now" in second.stderr
    with Ledger(tmp_path / ".noticecast" / "ledger.sqlite") as ledger:
        rows = ledger.current(channel="alert-sms")
    assert len(rows) == len(sent) and {r.state for r in rows} == {DELIVERED}


# -- spreadsheets in -------------------------------------------------------------------------

HEADERS = ["项目编号", "项目名称", "发布单位", "金额（元）", "资金来源", "地区", "发布时间",
           "公示开始", "公示结束", "实施地点", "建设内容", "实施单位", "责任人", "责任人电话",
           "标题", "受益户数", "贫困户数"]


def _row(code: str, amount: object) -> list[object]:
    return [code, "马祖村便民桥", "什邡市师古镇人民政府", amount, "中央财政专项扶贫资金",
            "什邡市/师古镇/马祖村", datetime(2017, 6, 1, 9), "2017-06-01", "2017-06-10",
            "马祖村3组", "新建便民桥1座", "什邡市师古镇人民政府", "张明华", 13912345678,
            f"马祖村便民桥项目公示{code}", 40, 8]


def test_import_xlsx_writes_notices_and_locates_a_bad_cell(tmp_path: Path) -> None:
    shutil.copy(REPO / "noticecast.yaml", tmp_path)
    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(HEADERS)
    sheet.append(_row("SF-2017-XM-101", 300000))
    sheet.append(_row("SF-2017-XM-102", "三十万"))
    book.save(tmp_path / "projects.xlsx")
    result = noticecast("import-xlsx", "projects.xlsx", "--kind", "项目公示", cwd=tmp_path)
    assert result.returncode == 1
    assert "projects.xlsx:Sheet1!D3: 金额（元）: “三十万”不是金额" in result.stderr
    assert "is not an amount" in result.stderr and "Traceback" not in result.stderr
    written = tmp_path / "content" / "2017" / "sf-2017-xm-101-project.yaml"
    assert written.is_file()
    assert noticecast("check", cwd=tmp_path).returncode == 0
    # Again: unchanged. Then edited by hand: never overwritten.
    again = noticecast("import-xlsx", "projects.xlsx", cwd=tmp_path)
    assert f"unchanged\tcontent/2017/{written.name}" in again.stdout
    edited = written.read_text("utf-8").replace("张明华", "张明")
    written.write_text(edited, "utf-8")
    third = noticecast("import-xlsx", "projects.xlsx", cwd=tmp_path)
    assert "edited since it was imported" in third.stderr
    assert written.read_text("utf-8") == edited


def test_import_xlsx_renames_columns_from_the_config(tmp_path: Path) -> None:
    _config_with(tmp_path, import_xlsx={"columns": {"中央资金（元）": "金额（元）"}})
    book = Workbook()
    sheet = book.active
    sheet.append([h if h != "金额（元）" else "中央资金（元）" for h in HEADERS])
    sheet.append(_row("SF-2017-XM-103", 250000))
    book.save(tmp_path / "p.xlsx")
    result = noticecast("import-xlsx", "p.xlsx", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "content" / "2017" / "sf-2017-xm-103-project.yaml").read_text("utf-8")
    assert "amount: 250000" in text and "code: SF-2017-XM-103" in text


@pytest.mark.parametrize("month", ["2018-07"])
def test_a_period_is_a_month_or_a_range(month: str) -> None:
    period = compliance.Period.month(month)
    assert (period.start.day, period.end.day, period.label) == (1, 31, "2018年7月")
    assert compliance.Period(period.start, period.start + timedelta(days=9)).slug == \
        "2018-07-01_2018-07-10"


class _Mailroom:
    """aiosmtpd handler: keeps messages, refuses one address, hangs up after one DATA."""

    def __init__(self) -> None:
        self.received: list[object] = []
        self.hang_up_for = "hangup@shigu.example.cn"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address == "nobody@shigu.example.cn":
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.hang_up_for in envelope.rcpt_tos:
            server.transport.close()  # took it, never said so
        self.received.append(envelope)
        return "250 Message accepted for delivery"


def test_e_mail_alerts_through_a_real_smtp_server_are_never_sent_twice(tmp_path: Path) -> None:
    import socket

    controller_module = pytest.importorskip("aiosmtpd.controller")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    mailroom = _Mailroom()
    controller = controller_module.Controller(mailroom, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        from pipeline.config import Config
        from pipeline.oversight.alerts import find_alerts, send_alerts

        base, loaded = _demo()
        data = base.model_dump()
        data["alerts"] = {"offices": {"什邡市师古镇人民政府": {"email": [
            "dangzheng@shigu.example.cn", "nobody@shigu.example.cn",
            "hangup@shigu.example.cn"]}}, "smtp_host": "127.0.0.1", "smtp_port": port}
        config = Config.model_validate({**data, "root": base.root})
        now = datetime(2018, 7, 12, 9, tzinfo=config.zone)
        env = make_environment(template_dirs(REPO))
        found = [a for a in find_alerts(loaded.notices, read_deliveries(tmp_path / "none"),
                                        config, now)
                 if a.kind == "publicity-ending" and a.notice.id == "sf-2018-0012"]
        assert len(found) == 1
        with Ledger(tmp_path / "ledger.sqlite") as ledger:
            first = send_alerts(found, ledger, config, env, tmp_path / "sink", now)
            states = {s.recipient_label: s.state for s in first}
            assert states == {"d***@shigu.example.cn": "delivered",
                              "n***@shigu.example.cn": "failed",
                              "h***@shigu.example.cn": "in-doubt"}
            assert len(mailroom.received) == 2
            body = mailroom.received[0].content.decode()  # type: ignore[attr-defined]
            assert "Subject: =?utf-8?" in body or "公示预警" in body
            later = now + timedelta(hours=2)
            again = send_alerts(found, ledger, config, env, tmp_path / "sink", later)
            assert again == [] and len(mailroom.received) == 2  # nothing twice, not even a retry
    finally:
        controller.stop()
