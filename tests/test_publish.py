"""`noticecast publish` through the ledger, against small real channels (tests/peers).

Time is controlled by passing the run's ``now``; the channels record what reached them on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from peers.fault_channels import registered_channels
from peers.publish_project import lines, make_project, set_faults, set_targets, sink, write_notice

from pipeline.cli import cli
from pipeline.ledger import CANCELLED, DELIVERED, FAILED, IN_DOUBT, PENDING, RETRY, Key, Ledger
from pipeline.project import Project
from pipeline.publish import PublishOptions, PublishReport, due_moment, ledger_path, publish, watch

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2018, 7, 8, 10, 0, tzinfo=ZONE)


@pytest.fixture(autouse=True)
def _test_channels() -> Iterator[None]:
    with registered_channels():
        yield


def run(root: Path, now: datetime = NOW, **options: object) -> PublishReport:
    return publish(Project.open(root), PublishOptions(now=now, **options))  # type: ignore[arg-type]


def rows(root: Path) -> dict[str, str]:
    with Ledger(ledger_path(Project.open(root))) as ledger:
        return {str(r.key): r.state for r in ledger.current()}


def received(root: Path) -> list[dict[str, object]]:
    return lines(sink(root, "tonce") / "received.log")


def calls(root: Path, channel: str) -> int:
    return len(lines(sink(root, channel) / "calls.log"))


def cli_run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(root), *args])
    error = result.exception
    # `pipeline.cli.main` prints expected errors; invoked directly, they come back here.
    shown = "" if error is None or isinstance(error, SystemExit) else str(error)
    return result.exit_code, result.output + shown


def test_each_key_is_delivered_once_and_a_rerun_sends_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 3, channels=("tfile", "tonce"))
    report = run(root)
    assert report.tallies["tfile"].delivered == 3
    assert report.tallies["tonce"].delivered == 6  # two targets
    assert set(rows(root).values()) == {DELIVERED}
    again = run(root, NOW + timedelta(days=1))
    assert again.plan.batches == []
    assert len(received(root)) == 6
    assert len(list((sink(root, "tfile") / "inbox").iterdir())) == 3


def test_drafts_and_future_notices_are_not_due(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 0)
    write_notice(root, "draft", status="draft")
    write_notice(root, "later", published="2018-07-09 09:00:00")
    assert run(root).plan.batches == []
    assert due_moment(Project.open(root), NOW) == datetime(2018, 7, 9, 9, 0, tzinfo=ZONE)
    report = run(root, datetime(2018, 7, 9, 9, 0, tzinfo=ZONE))
    assert [i.key.notice_id for i in report.plan.items] == ["later"]


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 2, channels=("tfile", "tonce"))
    report = run(root, dry_run=True)
    assert len(report.plan.items) == 6
    assert not ledger_path(Project.open(root)).exists()
    assert calls(root, "tfile") == calls(root, "tonce") == 0
    code, output = cli_run(root, "publish", "--today", "2018-07-08", "--dry-run")
    assert code == 0 and "t-001:1:publish:tonce:alice" in output
    assert not ledger_path(Project.open(root)).exists()


def test_a_transient_failure_is_retried_at_the_right_time(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tonce",))
    set_targets(root, "tonce", ["alice"])
    set_faults(root, "tonce", {"t-001": ["transient"]})
    report = run(root)
    assert report.tallies["tonce"].retried == 1
    with Ledger(ledger_path(Project.open(root))) as ledger:
        row = ledger.current()[0]
    assert row.state == RETRY and row.reason == "gateway busy"
    # backoff_base_s 60: the first retry waits between 30 and 60 s (equal jitter)
    assert NOW + timedelta(seconds=30) <= row.next_at <= NOW + timedelta(seconds=60)
    early = run(root, row.next_at - timedelta(seconds=1))
    assert early.plan.batches == [] and early.tallies["tonce"].waiting == 1
    assert calls(root, "tonce") == 1
    assert due_moment(Project.open(root), NOW) == row.next_at
    on_time = run(root, row.next_at)
    assert on_time.tallies["tonce"].delivered == 1
    assert calls(root, "tonce") == 2 and len(received(root)) == 1


def test_retry_after_from_the_far_side_is_honoured(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tfile",))
    set_faults(root, "tfile", {"t-001": ["transient:600"]})
    run(root)
    with Ledger(ledger_path(Project.open(root))) as ledger:
        assert ledger.current()[0].next_at == NOW + timedelta(seconds=600)


def test_a_permanent_failure_is_never_retried(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tonce",))
    set_targets(root, "tonce", ["alice"])
    set_faults(root, "tonce", {"t-001": ["permanent"]})
    report = run(root)
    assert report.tallies["tonce"].failed == 1 and not report.ok
    for days in (1, 30):
        assert run(root, NOW + timedelta(days=days)).plan.batches == []
    assert calls(root, "tonce") == 1 and received(root) == []
    with Ledger(ledger_path(Project.open(root))) as ledger:
        row = ledger.current()[0]
    assert (row.state, row.reason) == (FAILED, "unknown recipient")


def test_a_timeout_after_sending_is_in_doubt_on_an_at_most_once_channel(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tonce",))
    set_targets(root, "tonce", ["alice"])
    set_faults(root, "tonce", {"t-001": ["indoubt"]})
    report = run(root)
    assert report.tallies["tonce"].in_doubt == 1 and report.tallies["tonce"].failed == 0
    # Never resent by itself, however long we wait: a person may have it already.
    assert run(root, NOW + timedelta(days=3)).plan.batches == []
    assert calls(root, "tonce") == 1
    assert list(rows(root).values()) == [IN_DOUBT]


def test_a_timeout_after_sending_is_retried_on_an_idempotent_channel(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tfile",))
    set_faults(root, "tfile", {"t-001": ["indoubt"]})
    assert run(root).tallies["tfile"].retried == 1
    assert run(root, NOW + timedelta(hours=2)).tallies["tfile"].delivered == 1


def test_retries_stop_after_max_attempts(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tfile",), max_attempts=2)
    set_faults(root, "tfile", {"t-001": ["boom", "transient", "transient"]})
    first = run(root)
    assert first.tallies["tfile"].retried == 1  # an unexpected exception counts as transient
    second = run(root, NOW + timedelta(hours=2))
    assert second.tallies["tfile"].failed == 1
    assert run(root, NOW + timedelta(days=2)).plan.batches == []
    with Ledger(ledger_path(Project.open(root))) as ledger:
        row = ledger.current()[0]
        reasons = [e.reason for e in ledger.history() if e.state == RETRY]
    assert row.state == FAILED and row.reason == "gave up after 2 attempts: gateway busy"
    assert reasons == ["RuntimeError: the adapter tripped over something"]
    assert calls(root, "tfile") == 2


def test_a_correction_reaches_exactly_the_earlier_recipients(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tonce", "tfile"))
    set_targets(root, "tonce", ["alice", "bob", "carol"])
    set_faults(root, "tonce", {"t-001/carol": ["permanent"]})
    run(root)
    first = {(r["target"], r["revision"], r["event"]) for r in received(root)}
    assert first == {("alice", 1, "publish"), ("bob", 1, "publish")}
    set_targets(root, "tonce", ["alice", "bob", "carol", "dave"])  # dave subscribed later
    write_notice(root, "t-001", channels=("tonce", "tfile"), revision=2)
    report = run(root, NOW + timedelta(hours=1))
    corrections = [r for r in received(root) if r["revision"] == 2]
    assert sorted(r["target"] for r in corrections) == ["alice", "bob"]
    assert {r["event"] for r in corrections} == {"correction"}
    # each correction refers to what that person received (a reply to the earlier message)
    assert {r["target"]: r["previous"] for r in corrections} == {
        "alice": "t-001/alice/1", "bob": "t-001/bob/1"}
    assert report.tallies["tfile"].delivered == 1
    assert (sink(root, "tfile") / "inbox" / "t-001.2.correction.inbox.json").is_file()


def test_a_correction_of_a_notice_nobody_received_is_a_first_publication(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 0)
    write_notice(root, "t-001", channels=("tonce",), revision=2)
    run(root)
    assert {(r["target"], r["event"]) for r in received(root)} == {
        ("alice", "publish"), ("bob", "publish")}


def test_a_withdrawal_tells_exactly_the_earlier_recipients(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 0)
    write_notice(root, "t-001", channels=("tonce", "tcoll"))
    write_notice(root, "t-002", channels=("tonce", "tcoll"), published="2018-07-09 09:00:00")
    set_targets(root, "tonce", ["alice"])
    run(root)
    set_targets(root, "tonce", ["alice", "bob"])
    write_notice(root, "t-001", channels=("tonce", "tcoll"), status="withdrawn")
    write_notice(root, "t-002", channels=("tonce", "tcoll"), status="withdrawn",
                 published="2018-07-09 09:00:00")
    report = run(root, NOW + timedelta(days=2))
    withdrawals = [r for r in received(root) if r["event"] == "withdrawal"]
    assert [(r["notice"], r["target"], r["previous"]) for r in withdrawals] == [
        ("t-001", "alice", "t-001/alice/1")]
    swaps = lines(sink(root, "tcoll") / "swaps.log")
    assert [s["event"] for s in swaps] == ["publish", "withdrawal"]  # the ticker drops it
    assert report.tallies["tonce"].delivered == 1
    taken_back = lines(sink(root, "tonce") / "withdrawn.log")
    assert [r["remote_id"] for r in taken_back] == ["t-001/alice/1"]


def test_one_collection_call_covers_every_due_key_and_expiry_redelivers(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 0)
    for number in range(1, 5):
        write_notice(root, f"t-{number:03d}", channels=("tcoll",),
                     publicity=("2018-07-01", "2018-07-10" if number == 1 else "2018-07-30"))
    report = run(root)
    assert report.tallies["tcoll"].calls == 1 and report.tallies["tcoll"].delivered == 4
    assert due_moment(Project.open(root), NOW) == datetime(2018, 7, 11, 0, 0, tzinfo=ZONE)
    assert run(root, datetime(2018, 7, 10, 23, 59, tzinfo=ZONE)).plan.batches == []
    ended = run(root, datetime(2018, 7, 11, 0, 0, tzinfo=ZONE))
    assert [i.key for i in ended.plan.items] == [Key("t-001", 1, "expiry", "tcoll", "inbox")]
    assert run(root, datetime(2018, 7, 12, tzinfo=ZONE)).plan.batches == []
    swaps = lines(sink(root, "tcoll") / "swaps.log")
    assert [s["event"] for s in swaps] == ["publish", "expiry"]


def test_a_notice_published_after_its_period_ended_gets_no_expiry(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 0)
    write_notice(root, "t-001", channels=("tcoll",), publicity=("2018-06-01", "2018-06-20"))
    run(root)
    assert run(root, NOW + timedelta(days=1)).plan.batches == []


def test_a_newer_revision_cancels_pending_retries_of_the_older(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tfile",))
    set_faults(root, "tfile", {"t-001": ["transient"]})
    run(root)
    write_notice(root, "t-001", channels=("tfile",), revision=2)
    report = run(root, NOW + timedelta(hours=1))
    assert report.tallies["tfile"].cancelled == 1
    states = rows(root)
    assert states["t-001:1:publish:tfile:inbox"] == CANCELLED
    assert states["t-001:2:publish:tfile:inbox"] == DELIVERED


def test_a_crash_redelivers_idempotent_and_puts_at_most_once_in_doubt(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tfile", "tonce"))
    set_targets(root, "tonce", ["alice"])
    file_key = Key("t-001", 1, "publish", "tfile", "inbox")
    sms_key = Key("t-001", 1, "publish", "tonce", "alice")
    # What a run killed between its intent and its record leaves behind.
    with Ledger(ledger_path(Project.open(root))) as ledger:
        ledger.claim([(file_key, "", "idempotent"), (sms_key, "", "at-most-once")], as_of=NOW,
                     actor="a run that died")
    report = run(root)
    assert {r.key for r in report.recovered} == {file_key, sms_key}
    assert report.tallies["tfile"].delivered == 1
    assert report.tallies["tonce"].in_doubt == 1 and calls(root, "tonce") == 0
    code, output = cli_run(root, "status", "--format", "json")
    assert code == 0 and json.loads(output)["in_doubt"] == [str(sms_key)]
    code, output = cli_run(root, "status")
    assert "in doubt" in output and str(sms_key) in output
    assert run(root, NOW + timedelta(days=1)).plan.batches == []  # never resent silently
    code, output = cli_run(root, "resolve", str(sms_key), "--resend")
    assert code == 0, output
    assert rows(root)[str(sms_key)] == PENDING
    run(root, NOW + timedelta(days=1))
    assert rows(root)[str(sms_key)] == DELIVERED and len(received(root)) == 1


def test_resolve_delivered_closes_the_key(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tonce",))
    set_targets(root, "tonce", ["alice"])
    key = Key("t-001", 1, "publish", "tonce", "alice")
    with Ledger(ledger_path(Project.open(root))) as ledger:
        ledger.claim([(key, "", "at-most-once")], as_of=NOW, actor="dead")
    run(root)
    assert rows(root)[str(key)] == IN_DOUBT
    code, output = cli_run(root, "resolve", str(key), "--delivered")
    assert code == 0 and "resolved" in output
    assert run(root, NOW + timedelta(days=1)).plan.batches == []
    assert calls(root, "tonce") == 0
    code, output = cli_run(root, "resolve", str(key))
    assert code != 0 and "--delivered or --resend" in output


def test_status_and_log_in_json(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 2, channels=("tfile",))
    set_faults(root, "tfile", {"t-002": ["permanent"]})
    run(root)
    code, output = cli_run(root, "status", "--notice", "t-002", "--format", "json")
    data = json.loads(output)
    assert code == 0 and [d["state"] for d in data["deliveries"]] == [FAILED]
    assert data["deliveries"][0]["reason"] == "unknown recipient"
    code, output = cli_run(root, "log", "--format", "json")
    history = json.loads(output)
    assert [(e["notice_id"], e["state"]) for e in history if e["notice_id"] == "t-001"] == [
        ("t-001", "pending"), ("t-001", "sending"), ("t-001", "delivered")]
    assert all(e["actor"].startswith("publish ") for e in history)
    code, output = cli_run(root, "log")
    assert code == 0 and "unknown recipient" in output


def test_next_prints_the_next_due_moment(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 0)
    write_notice(root, "t-001", channels=("tfile",), published="2018-07-09 09:30:00")
    code, output = cli_run(root, "next", "--today", "2018-07-08")
    assert (code, output.strip()) == (0, "2018-07-09T09:30:00+08:00")
    code, output = cli_run(root, "next", "--now", "2018-07-09T10:00:00")
    assert (code, output.strip()) == (0, "2018-07-09T10:00:00+08:00")  # due already
    run(root, datetime(2018, 7, 9, 10, 0, tzinfo=ZONE))
    code, output = cli_run(root, "next", "--now", "2018-07-09T10:00:00")
    assert code == 1 and output.strip() == "nothing is scheduled"


def test_the_lock_stops_a_second_publisher(tmp_path: Path) -> None:
    from pipeline.errors import LockHeldError
    from pipeline.publish import lock_path
    from pipeline.publish_lock import publish_lock

    root = make_project(tmp_path / "p", 1, channels=("tfile",))
    held = pytest.raises(LockHeldError, match="another `noticecast publish` is running")
    with publish_lock(lock_path(Project.open(root))), held:
        run(root)
    assert calls(root, "tfile") == 0
    assert run(root).tallies["tfile"].delivered == 1


def test_watch_publishes_then_sleeps_until_next(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1, channels=("tfile",))
    project = Project.open(root)
    sleeps: list[float] = []
    moments: list[datetime] = []

    def once(now: datetime) -> PublishReport:
        moments.append(now)
        return publish(project, PublishOptions(now=now))

    watch(project, once, interval=120, sleep=sleeps.append, rounds=2)
    assert len(moments) == 2 and sleeps == [120]  # nothing scheduled: the longest sleep
    assert calls(root, "tfile") == 1


def test_channel_option_limits_the_run(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 2, channels=("tfile", "tonce"))
    progress: list[tuple[str, int, int]] = []
    report = publish(Project.open(root), PublishOptions(now=NOW, channel="tfile"),
                     lambda phase, done, total: progress.append((phase, done, total)))
    assert set(report.tallies) == {"tfile"} and report.tallies["tfile"].delivered == 2
    assert progress[0] == ("deliver", 0, 2) and progress[-1] == ("deliver", 2, 2)
    assert received(root) == []
    code, output = cli_run(root, "publish", "--today", "2018-07-08", "--channel", "nope")
    assert code != 0 and "unknown channel 'nope'" in output
    assert run(root).tallies["tonce"].delivered == 4


def test_watch_refuses_a_fixed_clock(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 1)
    code, output = cli_run(root, "publish", "--watch", "--today", "2018-07-08")
    assert code == 2 and "--watch runs on the real clock" in output
    assert calls(root, "tfile") == 0


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    import random

    from pipeline.publish_backoff import backoff_delay

    rng = random.Random(7)
    for attempt, nominal in ((1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)):
        delays = [backoff_delay(attempt, base=30, cap=3600, rng=rng) for _ in range(50)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(set(delays)) > 1  # jittered, not in lockstep
    assert backoff_delay(3, base=30, cap=3600, retry_after=5) == 5
