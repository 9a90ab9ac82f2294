"""Publish integrity: what reaches people is the current revision, never early, never twice,
and a crash never blocks the next run. Each test is one way this promise was broken, run as a
real `noticecast` subprocess against a small project (see ``peers.publish_project``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from peers.publish_project import (
    REPO,
    cli_command,
    cli_env,
    lines,
    make_project,
    run_cli,
    set_faults,
    set_targets,
    sink,
    write_notice,
)

from pipeline.ledger import Key, Ledger
from pipeline.project import Project
from pipeline.publish import PublishOptions, publish

DAY1 = "2018-07-08"
LEDGER = Path(".noticecast") / "ledger.sqlite"
LONG_BODY = "本项目建设内容包括道路硬化、排水沟渠和护栏安装，资金全部用于项目实施。" * 400


def _files_text(folder: Path) -> str:
    """Every file under ``folder`` as text (binary files decoded leniently)."""
    if not folder.exists():
        return ""
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in sorted(folder.rglob("*")) if p.is_file())


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, \
        result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _states(root: Path) -> dict[str, tuple[str, str | None]]:
    with Ledger(root / LEDGER) as ledger:
        return {str(r.key): (r.state, r.reason) for r in ledger.current()}


# -- 1. a correction never carries the previous revision's output ------------------------------

def test_a_correction_that_fails_to_render_waits_and_never_sends_the_old_output(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    write_notice(root, "road-1", channels=("newspaper",), published="2018-07-08 09:00:00")
    first = run_cli(root, "publish", "--today", DAY1)
    assert first.returncode == 0, first.stderr
    inbox = sink(root, "newspaper")
    sent_before = sorted(p.name for p in inbox.rglob("*.pdf"))
    assert sent_before

    # Revision 2 whose block overflows the newspaper grid: the render fails.
    write_notice(root, "road-1", channels=("newspaper",), published="2018-07-08 09:00:00",
                 revision=2, body=LONG_BODY)
    second = run_cli(root, "publish", "--today", DAY1)
    assert second.returncode != 0
    assert "not sent, waiting: road-1:2:correction:newspaper" in second.stderr
    assert sorted(p.name for p in inbox.rglob("*.pdf")) == sent_before
    state, reason = _states(root)["road-1:2:correction:newspaper:inbox"]
    assert state == "pending" and reason and reason.startswith("blocked: render failed")

    # Fixed: the correction goes out, made from revision 2.
    write_notice(root, "road-1", channels=("newspaper",), published="2018-07-08 09:00:00",
                 revision=2, body="更正后的正文。")
    third = run_cli(root, "publish", "--today", DAY1)
    assert third.returncode == 0, third.stderr
    assert _states(root)["road-1:2:correction:newspaper:inbox"][0] == "delivered"
    with Ledger(root / LEDGER) as ledger:
        payload = ledger.payload(Key("road-1", 2, "correction", "newspaper", "inbox"))
    assert payload is not None
    pdf = next(f for f in payload.files if f["path"].endswith(".pdf"))
    old = next(p for p in inbox.rglob("*.pdf") if p.name in sent_before)
    assert payload.blobs[pdf["sha256"]] != old.read_bytes()
    assert json.loads(next(payload.blobs[f["sha256"]] for f in payload.files
                           if f["path"].endswith(".json")))["revision"] == 2


# -- 2. nothing is public before its hour ------------------------------------------------------

def test_a_notice_for_15_00_is_nowhere_after_a_10_00_publish(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    write_notice(root, "morning-1", channels=("site", "ticker"),
                 published="2018-07-08 09:00:00", publicity=("2018-07-08", "2018-07-18"))
    write_notice(root, "afternoon-1", channels=("site", "ticker"),
                 published="2018-07-08 15:00:00", publicity=("2018-07-08", "2018-07-18"),
                 title="下午三点发布的公告")
    early = run_cli(root, "publish", "--now", "2018-07-08T10:00:00+08:00")
    assert early.returncode == 0, early.stderr
    public = _files_text(root / "out" / "channels") + _files_text(root / "out" / "web")
    assert "morning-1" in public
    assert "afternoon-1" not in public and "下午三点发布的公告" not in public

    late = run_cli(root, "publish", "--now", "2018-07-08T15:00:00+08:00")
    assert late.returncode == 0, late.stderr
    site = _files_text(root / "out" / "channels" / "site")
    assert "下午三点发布的公告" in site
    assert "afternoon-1" in _files_text(sink(root, "ticker"))


# -- 3. an edit after publication is handled on purpose -----------------------------------------

def test_an_edit_without_a_new_revision_updates_the_site_and_asks_about_the_rest(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    write_notice(root, "road-1", channels=("site", "tonce"), published="2018-07-08 09:00:00")
    set_targets(root, "tonce", ["alice"])
    assert run_cli(root, "publish", "--today", DAY1).returncode == 0
    assert "测试公告 road-1" in _files_text(root / "out" / "channels" / "site")

    write_notice(root, "road-1", channels=("site", "tonce"), published="2018-07-08 09:00:00",
                 title="改过标题的公告")
    edited = run_cli(root, "publish", "--today", DAY1)
    assert edited.returncode == 0, edited.stderr
    assert "改过标题的公告" in _files_text(root / "out" / "channels" / "site")
    assert "road-1 changed since revision 1 was sent on" in edited.stderr
    assert "bump `revision` and add `correction:`" in edited.stderr.lower().replace(
        "Bump", "bump")
    assert len(lines(sink(root, "tonce") / "received.log")) == 1  # never resent silently
    check = run_cli(root, "check")
    assert "road-1 changed since revision 1 was sent" in check.stdout + check.stderr

    write_notice(root, "road-1", channels=("site", "tonce"), published="2018-07-08 09:00:00",
                 title="改过标题的公告", minor_edit=True)
    minor = run_cli(root, "publish", "--today", DAY1)
    assert minor.returncode == 0, minor.stderr
    assert "changed since" not in minor.stderr
    with Ledger(root / LEDGER) as ledger:
        kinds = [c["kind"] for c in ledger.changes("road-1")]
    assert kinds == ["changed", "minor-edit"]
    assert len(lines(sink(root, "tonce") / "received.log")) == 1


# -- 4. a killed publish never blocks the next one ------------------------------------------------

def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.is_file():
            found.update(int(c) for c in children.read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_publish_killed_while_its_workers_render_leaves_no_orphans_and_no_lock(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    for number in range(40):
        write_notice(root, f"n-{number:03d}", channels=("site", "newspaper"),
                     published="2018-07-08 09:00:00")
    process = subprocess.Popen(cli_command(root, "publish", "--today", DAY1), env=cli_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline and len(workers) < 2:
        workers = _children(process.pid)
        time.sleep(0.02)
    assert process.poll() is None and workers, "the publish never started its render workers"
    time.sleep(0.5)  # let them start working
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "render workers outlived their publish"

    again = run_cli(root, "publish", "--today", DAY1)
    assert again.returncode == 0, again.stderr
    assert "ended without finishing; its lock was taken over" in again.stderr
    assert len(list(sink(root, "newspaper").rglob("*.pdf"))) == 40


# -- 5. a damaged ledger is an error with a way out, not a bug -------------------------------

@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_a_damaged_ledger_is_a_one_line_error_and_nothing_is_sent(tmp_path: Path,
                                                                 damage: str) -> None:
    root = make_project(tmp_path / "p", 3, channels=("tonce",))
    set_targets(root, "tonce", ["alice"])
    assert run_cli(root, "publish", "--today", DAY1).returncode == 0
    path = root / LEDGER
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 3])
    else:
        path.write_bytes(data[:100] + os.urandom(len(data) - 100))
    write_notice(root, "t-004", channels=("tonce",))
    for command in (("status",), ("publish", "--today", DAY1)):
        result = run_cli(root, *command)
        assert result.returncode == 1, (command, result.stderr)
        line = _one_line_error(result)
        assert "ledger" in line and "noticecast ledger check" in line
    assert len(lines(sink(root, "tonce") / "received.log")) == 3
    check = run_cli(root, "ledger", "check")
    assert check.returncode == 1 and "Traceback" not in check.stderr


# -- 6. the cache knows the code ---------------------------------------------------------------

def test_a_change_to_a_renderers_code_re_renders_its_outputs_and_only_those(
        tmp_path: Path) -> None:
    code = tmp_path / "code"
    for package in ("pipeline", "channels", "templates"):
        shutil.copytree(REPO / package, code / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    root = make_project(tmp_path / "p")
    write_notice(root, "road-1", channels=("site", "ticker"), published="2018-07-08 09:00:00",
                 publicity=("2018-07-08", "2018-07-18"))
    env = {**cli_env(), "PYTHONPATH": str(code)}

    script = (
        "import json, sys\n"
        "from datetime import date\n"
        "from pipeline.build import BuildOptions, build\n"
        "from pipeline.project import Project\n"
        "report = build(Project.open(__import__('pathlib').Path(sys.argv[1])),\n"
        "               BuildOptions(today=date(2018, 7, 8), only=('web', 'ticker')))\n"
        "print(json.dumps({n: {'rendered': r.rendered, 'collection': r.collection}\n"
        "                  for n, r in report.renderers.items()}))\n")

    def build() -> dict[str, dict[str, int]]:
        result = subprocess.run([sys.executable, "-c", script, str(root)], env=env,
                                cwd=root, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    where = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"],
                           env=env, cwd=root, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(code)), where.stdout  # the copy is the code that runs
    build()
    assert build()["ticker"]["rendered"] == 0
    line = code / "pipeline" / "renderers" / "ticker_line.py"
    line.write_text(line.read_text("utf-8") + "\n# an upgrade changed this module\n", "utf-8")
    after = build()
    assert after["ticker"]["rendered"] == 1 and after["ticker"]["collection"]
    assert after["web"]["rendered"] == 0


# -- 7. an interrupted build never leaves the wrong page public ------------------------------

def test_an_interrupted_build_then_a_revert_rebuilds_what_the_killed_build_wrote(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    write_notice(root, "a-first", channels=("site",), published="2018-07-08 09:00:00",
                 title="原来的标题")
    for number in range(600):
        write_notice(root, f"n-{number:03d}", channels=("site",),
                     published="2018-07-08 09:00:00")
    command = [sys.executable, "-m", "pipeline", "-C", str(root), "build", "--today", DAY1,
               "--only", "web"]
    assert subprocess.run(command, env=cli_env(), capture_output=True,
                          timeout=300).returncode == 0
    page = root / "out" / "web" / "notices" / "a-first" / "index.html"
    original = write_notice(root, "a-first", channels=("site",),
                            published="2018-07-08 09:00:00", title="原来的标题")
    saved = original.read_bytes()
    write_notice(root, "a-first", channels=("site",), published="2018-07-08 09:00:00",
                 title="没有完成的修改")
    for n in range(600):  # touch every notice so that the build has work after the page
        write_notice(root, f"n-{n:03d}", channels=("site",), published="2018-07-08 09:00:00",
                     summary=f"新的摘要 {n}。")
    process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while process.poll() is None and "没有完成的修改" not in page.read_text("utf-8"):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL, "the build finished before the kill"

    original.write_bytes(saved)  # the clerk reverts the edit
    repair = subprocess.run(command, env=cli_env(), capture_output=True, text=True,
                            timeout=300)
    assert repair.returncode == 0, repair.stderr
    assert "原来的标题" in page.read_text("utf-8")
    assert "没有完成的修改" not in _files_text(root / "out" / "web")
    assert not list((root / "out").rglob("*.tmp"))

    # --force writes every file again, whatever the manifest says.
    page.write_text("edited by hand", "utf-8")
    forced = subprocess.run([*command, "--force"], env=cli_env(), capture_output=True,
                            text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr
    assert "原来的标题" in page.read_text("utf-8")


# -- 8. an empty ledger is never "nothing was sent" --------------------------------------------

def test_an_emptied_ledger_is_refused_until_an_operator_starts_over(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 3, channels=("tonce",))
    set_targets(root, "tonce", ["alice"])
    assert run_cli(root, "publish", "--today", DAY1).returncode == 0
    received = sink(root, "tonce") / "received.log"
    assert len(lines(received)) == 3
    for side in ("-wal", "-shm"):
        Path(f"{root / LEDGER}{side}").unlink(missing_ok=True)
    (root / LEDGER).write_bytes(b"")

    refused = run_cli(root, "publish", "--today", DAY1)
    assert refused.returncode == 1
    assert "the ledger is empty (0 bytes), but this project has published before" in \
        _one_line_error(refused)
    assert len(lines(received)) == 3
    (root / LEDGER).unlink()
    missing = run_cli(root, "publish", "--today", DAY1)
    assert missing.returncode == 1 and "the ledger is missing" in _one_line_error(missing)
    # A fresh ledger put in its place is not the one the project published with.
    Ledger(root / LEDGER).close()
    replaced = run_cli(root, "publish", "--today", DAY1)
    assert replaced.returncode == 1
    assert "not the ledger this project published with" in _one_line_error(replaced)
    assert len(lines(received)) == 3

    assert run_cli(root, "ledger", "init").returncode == 1  # needs --force
    assert run_cli(root, "ledger", "init", "--force").returncode == 0
    again = run_cli(root, "publish", "--today", DAY1)
    assert again.returncode == 0, again.stderr
    assert Counter(r["notice"] for r in lines(received)) == {
        "t-001": 2, "t-002": 2, "t-003": 2}


def test_a_retry_sends_the_bytes_of_the_first_attempt(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    write_notice(root, "road-1", channels=("trender",), published="2018-07-08 09:00:00",
                 publicity=("2018-07-08", "2018-07-18"), summary="第一次的摘要。")
    set_faults(root, "trender", {"road-1": ["transient"]})
    first = run_cli(root, "publish", "--now", "2018-07-08T10:00:00+08:00")
    assert first.returncode == 0, first.stderr
    assert _states(root)["road-1:1:publish:trender:alice"][0] == "retry"
    with Ledger(root / LEDGER) as ledger:
        stored = ledger.payload(Key("road-1", 1, "publish", "trender", "alice"))
    assert stored is not None and stored.files
    first_bytes = {f["path"]: f["sha256"] for f in stored.files}

    # The office edits the summary before the retry: the retry still sends what was planned.
    write_notice(root, "road-1", channels=("trender",), published="2018-07-08 09:00:00",
                 publicity=("2018-07-08", "2018-07-18"), summary="改过的摘要。",
                 title="改过标题的公告")
    retry = run_cli(root, "publish", "--now", "2018-07-08T12:00:00+08:00")
    assert retry.returncode == 0, retry.stderr
    arrived = lines(sink(root, "trender") / "received.log")
    assert [a["artifacts"] for a in arrived] == [first_bytes]
    built = (root / "out" / "sms" / "road-1" / "sms.json").read_bytes()
    assert hashlib.sha256(built).hexdigest() not in first_bytes.values()  # it did change


# -- the schedule rule, as a property ------------------------------------------------------------

MINUTES = 3 * 24 * 60  # three days around the demo day, to the minute
START = datetime(2018, 7, 7, tzinfo=ZoneInfo("Asia/Shanghai"))


@st.composite
def _schedules(draw: st.DrawFn) -> tuple[list[tuple[str, datetime, str]], datetime]:
    count = draw(st.integers(1, 5))
    notices = [(f"s-{n}", START + timedelta(minutes=draw(st.integers(0, MINUTES))),
                draw(st.sampled_from(["approved", "approved", "withdrawn", "draft"])))
               for n in range(count)]
    return notices, START + timedelta(minutes=draw(st.integers(0, MINUTES)))


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_schedules())
@example(case=([("s-0", START + timedelta(hours=33), "approved"),  # 07-08 09:00
                ("s-1", START + timedelta(hours=39), "approved")],  # 07-08 15:00
               START + timedelta(hours=34)))  # 07-08 10:00: the same day, before its hour
def test_no_channel_names_a_notice_before_its_published_moment(
        case: tuple[list[tuple[str, datetime, str]], datetime]) -> None:
    notices, now = case
    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder) / "p")
        for notice_id, published, status in notices:
            write_notice(root, notice_id, channels=("site", "ticker"), status=status,
                         published=published.strftime("%Y-%m-%d %H:%M:%S"),
                         publicity=(published.date().isoformat(),
                                    (published.date() + timedelta(days=10)).isoformat()),
                         title=f"标题{notice_id}")
        project = Project.open(root)
        report = publish(project, PublishOptions(now=now))
        assert not report.problems
        public = (_files_text(root / "out" / "channels") + _files_text(root / "out" / "web")
                  + _files_text(root / "out" / "ticker"))
        for notice_id, published, status in notices:
            if status == "draft" or published > now:
                assert f"标题{notice_id}" not in public, (notice_id, published, now)
                assert not any(i.notice.id == notice_id for i in report.plan.items)


# -- a full disk ---------------------------------------------------------------------------------

def test_a_publish_on_a_full_disk_sends_nothing_half_built_and_the_next_run_completes(
        tmp_path: Path, full_disk: Path) -> None:
    root = make_project(tmp_path / "p")
    for number in range(3):
        write_notice(root, f"n-{number}", channels=("site", "telegram"),
                     published="2018-07-08 09:00:00")
    (root / "out").symlink_to(full_disk / "folder")
    full = run_cli(root, "publish", "--today", DAY1)
    assert full.returncode != 0
    assert "Traceback" not in full.stderr and "internal error" not in full.stderr
    assert "No space left on device: the disk is full" in full.stderr
    states = _states(root)
    assert states and {state for state, _ in states.values()} == {"pending"}
    assert all(reason and reason.startswith("blocked:") for _, reason in states.values())

    (full_disk / "filler").unlink()  # the clerk makes room
    subprocess.run(["mount", "-o", "remount,size=64m", str(full_disk)], check=True)
    again = run_cli(root, "publish", "--today", DAY1)
    assert again.returncode == 0, again.stderr
    assert {state for state, _ in _states(root).values()} == {"delivered"}
    assert not list((full_disk / "folder").rglob("*.tmp"))
    assert len(list((full_disk / "folder" / "channels" / "telegram").rglob("*.json"))) == 3
