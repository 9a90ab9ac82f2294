"""Publishing to the real SMS channel (outbox transport): digests per subscriber, by area;
corrections and withdrawals only to the people who had the earlier text."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from pipeline.ledger import DELIVERED, Ledger
from pipeline.project import Project
from pipeline.publish import PublishOptions, ledger_path, publish

pytest.importorskip("channels.sms")

ZONE = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2018, 7, 8, 10, 0, tzinfo=ZONE)
DAY2 = datetime(2018, 7, 9, 10, 0, tzinfo=ZONE)
DAY3 = datetime(2018, 7, 10, 10, 0, tzinfo=ZONE)

CONFIG = {
    "regions": {"什邡市": {"师古镇": ["马祖村", "红豆村"]}},
    "site": {"base_url": "https://gongshi.example.gov.cn"},
    # links per notice: the texts then name each notice's id, which the tests look for
    "sms": {"subscribers": "subscribers.csv", "notify_withdrawal": True, "links": "notice"},
    "publish": {"durability": "normal"},
}
PEOPLE = {  # phone -> area
    "13800000001": "什邡市/师古镇/马祖村",
    "13800000002": "什邡市/师古镇/红豆村",
    "13800000003": "什邡市/师古镇",  # a town official: gets the villages below
}


def _project(root: Path, people: dict[str, str]) -> Path:
    root.mkdir(exist_ok=True)
    (root / "noticecast.yaml").write_text(yaml.safe_dump(CONFIG, allow_unicode=True), "utf-8")
    rows = "".join(f"{phone},{area}\n" for phone, area in people.items())
    (root / "subscribers.csv").write_text("phone,area\n" + rows, "utf-8")
    (root / "content").mkdir(exist_ok=True)
    return root


def _notice(root: Path, notice_id: str, *, revision: int = 1, status: str = "approved",
            village: str = "马祖村") -> None:
    data = {
        "id": notice_id, "revision": revision, "kind": "announcement",
        "title": f"{village}道路维修通知", "issuer": "师古镇人民政府", "level": "village",
        "area": f"什邡市/师古镇/{village}", "published": datetime(2018, 7, 7, 9, 0),
        "summary": "道路维修。", "body": "道路维修，请绕行。", "status": status,
        "channels": ["sms"],
    }
    if revision >= 2:
        data["correction"] = {"note": "改正了日期。"}
    if status == "withdrawn":
        data["withdrawal"] = {"reason": "维修取消。"}
    (root / "content" / f"{notice_id}.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def _texts(root: Path) -> list[dict[str, object]]:
    """Every text in the outbox, oldest first: phone, digest, parts."""
    outbox = root / "out" / "channels" / "sms"
    files = sorted(outbox.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text("utf-8")) for p in files]


def _run(root: Path, now: datetime) -> None:
    report = publish(Project.open(root), PublishOptions(now=now))
    assert not report.problems, report.problems


def test_one_digest_per_subscriber_with_the_notices_of_their_area(tmp_path: Path) -> None:
    root = _project(tmp_path / "site", PEOPLE)
    _notice(root, "road-1")
    _notice(root, "road-2")
    _notice(root, "road-3", village="红豆村")
    _run(root, DAY1)
    texts = _texts(root)
    by_phone = {t["phone"]: "".join(t["parts"]) for t in texts}
    assert len(texts) == 3  # one text each, however many notices
    assert "road-1" in by_phone["+8613800000001"] and "road-2" in by_phone["+8613800000001"]
    assert "road-3" not in by_phone["+8613800000001"]
    assert "road-3" in by_phone["+8613800000002"] and "road-1" not in by_phone["+8613800000002"]
    assert all(n in by_phone["+8613800000003"] for n in ("road-1", "road-2", "road-3"))
    with Ledger(ledger_path(Project.open(root))) as ledger:
        rows = ledger.current()
    assert len(rows) == 6 and {r.state for r in rows} == {DELIVERED}
    # the keys of one digest share its id
    official = [r for r in rows if r.target_label == "138****0003"]
    assert len({r.batch for r in official}) == 1 and official[0].batch.startswith("dg-")
    _run(root, DAY2)
    assert len(_texts(root)) == 3  # nothing twice


def test_corrections_and_withdrawals_reach_only_the_earlier_recipients(tmp_path: Path) -> None:
    root = _project(tmp_path / "site", PEOPLE)
    _notice(root, "road-1")
    _run(root, DAY1)
    assert sorted(t["phone"] for t in _texts(root)) == ["+8613800000001", "+8613800000003"]

    # A new neighbour subscribes; then the notice is corrected.
    _project(root, {**PEOPLE, "13800000004": "什邡市/师古镇/马祖村"})
    _notice(root, "road-1", revision=2)
    _run(root, DAY2)
    corrections = _texts(root)[2:]
    assert sorted(t["phone"] for t in corrections) == ["+8613800000001", "+8613800000003"]
    assert all("【更正】" in "".join(t["parts"]) for t in corrections)

    _notice(root, "road-1", revision=2, status="withdrawn")
    _run(root, DAY3)
    withdrawals = _texts(root)[4:]
    assert sorted(t["phone"] for t in withdrawals) == ["+8613800000001", "+8613800000003"]
    assert all("【撤回】" in "".join(t["parts"]) for t in withdrawals)


def test_a_digest_in_doubt_is_resolved_by_its_id(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli
    from pipeline.ledger import IN_DOUBT, Key
    from pipeline.subscribers import Subscriber

    root = _project(tmp_path / "site", PEOPLE)
    _notice(root, "road-1")
    _notice(root, "road-2")
    villager = Subscriber(phone="+8613800000001", area="什邡市/师古镇/马祖村").key
    keys = [Key(n, 1, "publish", "sms", villager) for n in ("road-1", "road-2")]
    with Ledger(ledger_path(Project.open(root))) as ledger:  # a run killed mid-text
        ledger.claim([(k, "138****0001", "at-most-once") for k in keys], as_of=DAY1,
                     actor="a run that died", batch="dg-0123456789abcdef")
    _run(root, DAY1)
    assert sorted(t["phone"] for t in _texts(root)) == ["+8613800000003"]
    with Ledger(ledger_path(Project.open(root))) as ledger:
        assert {r.key for r in ledger.current(states=[IN_DOUBT])} == set(keys)
    result = CliRunner().invoke(cli, ["-C", str(root), "status"])
    assert "in doubt: digest dg-0123456789abcdef to 138****0001 (2 notice(s))" in result.output
    result = CliRunner().invoke(cli, ["-C", str(root), "resolve", "dg-0123456789abcdef",
                                      "--resend"])
    assert result.exit_code == 0 and result.output.count(": pending") == 2
    _run(root, DAY2)
    resent = [t for t in _texts(root) if t["phone"] == "+8613800000001"]
    assert len(resent) == 1
    assert all(n in "".join(resent[0]["parts"]) for n in ("road-1", "road-2"))
