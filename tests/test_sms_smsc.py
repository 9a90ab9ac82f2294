"""SMS against an SMSC that is not ours: node-smpp's server (tests/peers/smsc.js).

Every scenario checks the promises at the server, from what it recorded: no part is ever
stored twice for one (phone, reference); every text the ledger calls delivered is complete
there; a text of which anything may have been stored is delivered or in doubt, never retried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from peers.node_smsc import NodeSmsc, available

from channels.smpp import reference_of
from pipeline.ledger import DELIVERED, IN_DOUBT, Ledger, Row
from pipeline.project import Project
from pipeline.publish import PublishOptions, PublishReport, ledger_path, publish
from pipeline.subscribers import Subscriber

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

ZONE = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2018, 7, 8, 10, 0, tzinfo=ZONE)
PASSWORD_ENV = "NOTICECAST_TEST_SMSC_PASSWORD"
PEOPLE = {  # phone -> area; the SMSC's receipts: ...1 delivered, ...2 undeliverable, ...3 expired
    "13800000001": "什邡市/师古镇/马祖村",
    "13800000002": "什邡市/师古镇/红豆村",
    "13800000003": "什邡市/师古镇",  # a town official: gets both villages' notices
}
KEYS = {Subscriber(f"+86{phone}", area).key: f"86{phone}" for phone, area in PEOPLE.items()}


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "secret")


def make_project(root: Path, port: int, **smpp: Any) -> Path:
    root.mkdir(exist_ok=True)
    config = {
        "regions": {"什邡市": {"师古镇": ["马祖村", "红豆村"]}},
        "site": {"base_url": "https://gongshi.example.gov.cn"},
        "sms": {"subscribers": "subscribers.csv"},
        "publish": {"durability": "normal"},
        "channels": {"sms": {"transport": "smpp", "smpp": {
            "host": "127.0.0.1", "port": port, "system_id": "noticecast",
            "password_env": PASSWORD_ENV, "messages_per_second": 500, "timeout_s": 1.5,
            "throttle_pause_s": 0.05, "linger_s": 0.5, **smpp}}},
    }
    (root / "noticecast.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    rows = "".join(f"{phone},{area}\n" for phone, area in PEOPLE.items())
    (root / "subscribers.csv").write_text("phone,area\n" + rows, "utf-8")
    (root / "content").mkdir(exist_ok=True)
    for number, village in enumerate(["马祖村", "红豆村", "马祖村"], start=1):
        add_notice(root, f"sg-2018-{number:04d}", village, datetime(2018, 7, 7, 9, number))
    return root


def add_notice(root: Path, notice_id: str, village: str, published: datetime) -> None:
    data = {
        "id": notice_id, "revision": 1, "kind": "announcement",
        "title": f"{village}{notice_id[-2:]}号产业道路硬化及排水沟渠维修工程施工期间交通管制通知",
        "issuer": "师古镇人民政府", "level": "village", "area": f"什邡市/师古镇/{village}",
        "published": published, "summary": "道路维修。", "body": "道路维修，请绕行。",
        "status": "approved", "channels": ["sms"],
    }
    (root / "content" / f"{notice_id}.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def run(root: Path, now: datetime = DAY1) -> PublishReport:
    report = publish(Project.open(root), PublishOptions(now=now))
    assert not report.problems, report.problems
    return report


def rows(root: Path) -> list[Row]:
    with Ledger(ledger_path(Project.open(root))) as ledger:
        return ledger.current(channel="sms")


def check_promises(root: Path, smsc: NodeSmsc) -> dict[str, str]:
    """The issue's promises, at the server; returns each phone's text state in the ledger."""
    stored = smsc.stored()
    parts = Counter((s["phone"], s["ref"], s["seq"] if s["ref"] is not None else s["text"])
                    for s in stored)
    twice = [part for part, count in parts.items() if count > 1]
    assert not twice, f"stored twice at the SMSC: {twice}"
    states: dict[str, str] = {}
    texts = {(row.batch, row.key.target): row for row in rows(root)}
    for (batch, target), row in texts.items():
        phone = KEYS[target]
        reference = reference_of(f"{batch}:{target}")
        here = [s for s in stored if s["phone"] == phone and s["ref"] == reference]
        if row.state == DELIVERED:
            total = int(row.receipt["details"]["parts"]) if row.receipt else 0
            assert sorted(s["seq"] for s in here) == list(range(1, total + 1)), (
                f"{row.key} is delivered but the SMSC has parts {[s['seq'] for s in here]}")
        elif row.state != IN_DOUBT:
            assert not here, f"{row.key} is {row.state} but the SMSC stored part of it"
        states[phone] = row.state
    return states


def test_clean_one_bind_whole_texts_receipts_and_unbind(tmp_path: Path) -> None:
    with NodeSmsc(tmp_path) as smsc:
        root = make_project(tmp_path / "site", smsc.port)
        report = run(root)
        assert (report.tally("sms").delivered, report.tally("sms").calls) == (6, 3)
        assert check_promises(root, smsc) == dict.fromkeys(KEYS.values(), DELIVERED)
        assert [b["mode"] for b in smsc.events("bind")] == ["transceiver"]  # one bind a run
        assert len(smsc.events("unbind")) == 1 and smsc.events("enquire_link_resp")
        assert all(s["total"] >= 2 for s in smsc.stored())  # the texts are concatenated
        answered = smsc.events("deliver_sm_resp")
    assert len(answered) == len(smsc.stored()) and {a["status"] for a in answered} == {0}
    with Ledger(ledger_path(Project.open(root))) as ledger:
        states = {KEYS[target]: state.receipts for (_, target), state
                  in ledger.handset_states().items()}
    parts = Counter(s["phone"] for s in smsc.stored())
    assert states == {"8613800000001": {"handset-delivered": parts["8613800000001"]},
                      "8613800000002": {"undeliverable": parts["8613800000002"]},
                      "8613800000003": {"expired": parts["8613800000003"]}}
    shown = json.loads(cli(root, "status", "--format", "json"))["deliveries"]
    assert {row["target_label"]: row["handset"]["receipts"] for row in shown} == {
        "138****0001": {"handset-delivered": parts["8613800000001"]},
        "138****0002": {"undeliverable": parts["8613800000002"]},
        "138****0003": {"expired": parts["8613800000003"]}}
    table = cli(root, "status")
    assert f"handset: undeliverable {parts['8613800000002']}/" in table
    assert "13800000002" not in table


def cli(root: Path, *args: str) -> str:
    """Run the real command line; returns what it printed on stdout."""
    done = subprocess.run([sys.executable, "-m", "pipeline", "-C", str(root), *args],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": "250"})
    return done.stdout


@pytest.mark.parametrize("scenario", ["drop", "silence"])
def test_no_answer_after_part_one_is_in_doubt_and_never_resent(tmp_path: Path,
                                                               scenario: str) -> None:
    with NodeSmsc(tmp_path, scenario) as smsc:
        root = make_project(tmp_path / "site", smsc.port)
        run(root)
        (faulted,) = smsc.events("dropped" if scenario == "drop" else "silent")
        states = check_promises(root, smsc)
        assert states[faulted["phone"]] == IN_DOUBT
        assert Counter(states.values()) == {IN_DOUBT: 1, DELIVERED: 2}
        doubt = [r for r in rows(root) if r.state == IN_DOUBT]  # the notices of one text
        # The SMSC stored part 1 but never said so: from here, every part is unknown.
        assert doubt and all("for part(s) 1, 2" in (r.reason or "") and "not resent"
                             in (r.reason or "") for r in doubt)
        before = len(smsc.stored())
        run(root, DAY1 + timedelta(hours=1))  # the next run: nothing resent
        assert len(smsc.stored()) == before
        check_promises(root, smsc)
        assert len(smsc.events("bind")) == 2  # the run bound again after the fault, once


def test_a_throttled_part_two_is_resent_alone(tmp_path: Path) -> None:
    with NodeSmsc(tmp_path, "throttle") as smsc:
        root = make_project(tmp_path / "site", smsc.port)
        run(root)
        assert check_promises(root, smsc) == dict.fromkeys(KEYS.values(), DELIVERED)
        (refused,) = smsc.events("refused")
        resent = [s for s in smsc.stored() if (s["phone"], s["ref"]) == (
            refused["phone"], refused["ref"])]
        assert sorted(s["seq"] for s in resent) == list(range(1, refused["total"] + 1))
        assert len(smsc.events("bind")) == 1


def test_throttled_past_the_bound_is_in_doubt_naming_the_accepted_parts(
        tmp_path: Path) -> None:
    with NodeSmsc(tmp_path, "throttle", throttles="99") as smsc:
        root = make_project(tmp_path / "site", smsc.port, throttle_retries=2)
        run(root)
        assert set(check_promises(root, smsc).values()) == {IN_DOUBT}
        for row in rows(root):
            assert "part 2 of" in (row.reason or "") and "after 2 resend(s)" in row.reason
            assert "were accepted" in row.reason and "13800000" not in row.reason
        assert Counter(r["phone"] for r in smsc.events("refused")) == dict.fromkeys(
            KEYS.values(), 3)


def test_a_transceiver_only_account(tmp_path: Path) -> None:
    with NodeSmsc(tmp_path, "transceiver-only") as smsc:
        root = make_project(tmp_path / "site", smsc.port, bind="transmitter")
        report = run(root)
        assert report.tally("sms").retried == 6 and smsc.stored() == []
        assert all("try smpp.bind: transceiver" in (r.reason or "") for r in rows(root))
        make_project(root, smsc.port)  # the default: a transceiver bind
        run(root, DAY1 + timedelta(hours=2))
        assert check_promises(root, smsc) == dict.fromkeys(KEYS.values(), DELIVERED)
        assert [b["mode"] for b in smsc.events("bind") if b["status"] == 0] == ["transceiver"]


def test_a_reply_t_opts_the_phone_out(tmp_path: Path) -> None:
    with NodeSmsc(tmp_path, "reply", reply_from="8613800000001") as smsc:
        root = make_project(tmp_path / "site", smsc.port)
        run(root)
        (reply,) = smsc.wait_for("reply")
        assert [a for a in smsc.events("deliver_sm_resp") if a["kind"] == "reply"]
        before = len(smsc.stored())
        add_notice(root, "sg-2018-0009", "马祖村", datetime(2018, 7, 9, 9, 0))
        run(root, DAY1 + timedelta(days=1))  # a new notice for 马祖村: phones 1 and 3
        check_promises(root, smsc)
        assert {s["phone"] for s in smsc.stored()[before:]} == {"8613800000003"}
        assert not [s for s in smsc.stored()
                    if s["phone"] == reply["phone"] and s["at"] > reply["at"]]
    shown = cli(root, "subscribers")
    assert "138****0001" in shown and "opted out 2" in shown and "replied T (smpp)" in shown
    assert "13800000001" not in shown
    (opted_out,) = json.loads(cli(root, "subscribers", "--opted-out", "--format", "json"))[
        "subscribers"]
    assert (opted_out["phone"], opted_out["opted_out"]["word"]) == ("138****0001", "T")


def test_transmitter_and_receiver_binds_get_the_receipts(tmp_path: Path) -> None:
    with NodeSmsc(tmp_path) as smsc:
        root = make_project(tmp_path / "site", smsc.port, bind="transmitter+receiver")
        run(root)
        assert check_promises(root, smsc) == dict.fromkeys(KEYS.values(), DELIVERED)
        assert sorted(b["mode"] for b in smsc.events("bind")) == ["receiver", "transmitter"]
        assert len(smsc.events("unbind")) == 2
    with Ledger(ledger_path(Project.open(root))) as ledger:
        received = sum(sum(s.receipts.values()) for s in ledger.handset_states().values())
    assert received == len(smsc.stored())
