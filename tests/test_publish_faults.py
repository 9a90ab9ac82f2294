"""Crash safety under fire: real `noticecast publish` subprocesses, killed with SIGKILL.

Each round publishes 50 notices to three channels — a file inbox (idempotent), an
at-most-once channel that appends to a "phone" log (two recipients), and a loopback HTTP
endpoint that counts what it receives (idempotent) — kills the run at a random point (after a
random number of channel calls have started; the channels pause a few ms around their effect so
that kills land before, during and after it), then re-runs to completion and checks:

* no at-most-once delivery arrived twice;
* every idempotent delivery arrived (at least once);
* every at-most-once key that did not surely arrive is ``in-doubt`` and listed by ``status``.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from peers.fault_channels import registered_channels
from peers.http_recorder import HttpRecorder
from peers.publish_project import (
    cli_command,
    cli_env,
    lines,
    make_project,
    run_cli,
    sink,
)

from pipeline.cli import cli
from pipeline.ledger import DELIVERED, IN_DOUBT, Ledger


@pytest.fixture(autouse=True)
def _test_channels() -> Iterator[None]:
    with registered_channels():
        yield

NOTICES = 50
CHANNELS = ("tfile", "tonce", "thttp")
CALLS = NOTICES * 4  # tfile 1 + tonce 2 + thttp 1 per notice
ROUNDS = 12
SEED = 20180708
TODAY = date(2018, 7, 8)


def _started_calls(root: Path) -> int:
    total = 0
    for channel in CHANNELS:
        path = sink(root, channel) / "calls.log"
        if path.is_file():
            total += path.read_bytes().count(b"\n")
    return total


def _kill_at(root: Path, env: dict[str, str], calls: int, jitter_s: float) -> int | None:
    """Start a publish, SIGKILL it once ``calls`` channel calls have started; its exit code if
    it finished first."""
    process = subprocess.Popen(cli_command(root, "publish", "--today", "2018-07-08"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None and _started_calls(root) < calls:
            time.sleep(0.001)
        time.sleep(jitter_s)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return None
        return process.returncode
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _processes_of(root: Path) -> list[int]:
    """Live processes whose command line names the project (a killed run's orphans)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if str(root).encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def _status_in_doubt(root: Path) -> set[str]:
    result = CliRunner().invoke(cli, ["-C", str(root), "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    listed = {d["key"] for d in data["deliveries"] if d["state"] == IN_DOUBT}
    assert listed == set(data["in_doubt"])
    return listed


def _round(number: int, base: Path, work: Path, server: HttpRecorder,
           rng: random.Random) -> tuple[Path, dict[str, str], dict[str, int]]:
    root = work / f"round-{number:02d}"
    shutil.copytree(base, root)
    path = f"/round-{number:02d}"
    (sink(root, "thttp") / "endpoint.txt").write_text(server.url(path))
    env = cli_env(NOTICECAST_TEST_DELAY_MS="2")
    kill_after, jitter = rng.randrange(0, CALLS), rng.uniform(0, 0.004)
    finished = _kill_at(root, env, kill_after, jitter)
    # Second phase: a plain publish, with no manual clean-up, completes the work, and nothing
    # of the killed run (its workers) is left running.
    completion = run_cli(root, "publish", "--today", "2018-07-08")
    assert completion.returncode == 0, completion.stderr
    assert not _processes_of(root), "a process of the killed run is still alive"

    with Ledger(root / ".noticecast" / "ledger.sqlite") as ledger:
        states = {str(r.key): r.state for r in ledger.current()}
    assert len(states) == CALLS
    in_doubt = {k for k, s in states.items() if s == IN_DOUBT}
    assert set(states.values()) <= {DELIVERED, IN_DOUBT}
    assert all(":tonce:" in k for k in in_doubt), "only at-most-once keys may be in doubt"

    # at-most-once: never twice; delivered ones exactly once; in-doubt ones once or not at all
    arrived = Counter(f"{r['notice']}:1:publish:tonce:{r['target']}"
                      for r in lines(sink(root, "tonce") / "received.log"))
    assert max(arrived.values(), default=0) <= 1, f"duplicates: {arrived.most_common(3)}"
    for key, state in states.items():
        if ":tonce:" in key and state == DELIVERED:
            assert arrived[key] == 1, key
    # idempotent: nothing missing
    inbox = {p.name.split(".")[0] for p in (sink(root, "tfile") / "inbox").iterdir()
             if not p.name.startswith(".")}  # a kill may leave a temporary file behind
    assert len(inbox) == NOTICES
    posted = {json.loads(r.body)["notice"] for r in list(server.requests) if r.path == path}
    assert len(posted) == NOTICES
    return root, states, {"killed": int(finished is None), "in_doubt": len(in_doubt),
                          "kill_after": kill_after}


@pytest.mark.slow
def test_sigkill_at_random_points_never_duplicates_or_loses(tmp_path: Path) -> None:
    base = make_project(tmp_path / "base", NOTICES, channels=CHANNELS)
    rng = random.Random(SEED)
    plans = [random.Random(rng.random()) for _ in range(ROUNDS)]
    with HttpRecorder() as server, ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda n: _round(n, base, tmp_path, server, plans[n]),
                                range(ROUNDS)))
    for root, states, _ in results:  # every in-doubt key is listed by `noticecast status`
        assert _status_in_doubt(root) == {k for k, s in states.items() if s == IN_DOUBT}
    # The kills must have landed mid-run (not all before or after the work), some of them
    # in the middle of an at-most-once call.
    summary = [r for *_, r in results]
    assert sum(r["killed"] for r in summary) >= ROUNDS // 2, summary
    assert sum(r["in_doubt"] for r in summary) >= 1, summary


def test_two_concurrent_publishers_deliver_each_key_once(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 20, channels=("tfile", "tonce"))
    env = cli_env(NOTICECAST_TEST_DELAY_MS="2")
    command = cli_command(root, "publish", "--today", "2018-07-08", "--wait")
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    for process in (first, second):
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    arrived = Counter((r["notice"], r["target"])
                      for r in lines(sink(root, "tonce") / "received.log"))
    assert len(arrived) == 40 and set(arrived.values()) == {1}
    assert len(lines(sink(root, "tfile") / "calls.log")) == 20
    with Ledger(root / ".noticecast" / "ledger.sqlite") as ledger:
        sends = Counter(str(e.key) for e in ledger.history() if e.state == "sending")
    assert len(sends) == 60 and set(sends.values()) == {1}


def test_a_held_lock_is_a_clear_one_line_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", 3, channels=("tonce",))
    gate = tmp_path / "gate"
    env = cli_env(NOTICECAST_TEST_GATE=str(gate))  # the first run waits, holding the lock
    holder = subprocess.Popen(cli_command(root, "publish", "--today", "2018-07-08"), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while _started_calls_of(root, "tonce") < 1 and holder.poll() is None:
            time.sleep(0.005)
        second = run_cli(root, "publish", "--today", "2018-07-08")
    finally:
        gate.touch()
        holder.wait(timeout=120)
    assert holder.returncode == 0
    assert second.returncode == 3
    message = second.stderr.strip()
    assert "another `noticecast publish` is running (pid" in message
    assert "Traceback" not in message and len(message.splitlines()) == 1
    arrived = Counter((r["notice"], r["target"])
                      for r in lines(sink(root, "tonce") / "received.log"))
    assert len(arrived) == 6 and set(arrived.values()) == {1}


def _started_calls_of(root: Path, channel: str) -> int:
    path = sink(root, channel) / "calls.log"
    return path.read_bytes().count(b"\n") if path.is_file() else 0
