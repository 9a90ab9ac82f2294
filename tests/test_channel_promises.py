"""What the channels promise, through real `noticecast publish` runs against peers on 127.0.0.1.

* Telegram, against a Bot API whose success answers cannot be read (the post is made all the
  same): every such delivery is in doubt, and a second run posts nothing again.
* A gateway that answers 4xx with what it received (the bearer token, the phone number):
  neither appears anywhere noticecast writes: out/, the ledger, stdout, stderr, crash files.
* A Telegram 429 beyond the limiter: one line, no traceback.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from peers.fake_bot_api import FakeBotApi
from peers.http_recorder import HttpRecorder
from peers.publish_project import make_project, run_cli, write_notice

from pipeline.errors import RenderError
from pipeline.fonts import SANS, find_font

TOKEN = "7000001:AAH-promise_t0ken-echoed"
PHONE = "13812345678"

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


def _cards_possible() -> None:
    try:  # the card is drawn with Debian's fonts-noto-cjk
        find_font(SANS)
    except RenderError as missing:
        pytest.skip(str(missing))


def _telegram_project(root: Path, base_url: str, count: int) -> Path:
    make_project(root, count=count, channels=("telegram",))
    with (root / "noticecast.yaml").open("a", encoding="utf-8") as config:
        config.write(f"channels:\n  telegram:\n    chat: '@promise_test'\n"
                     f"    api_base_url: {base_url}\n    timeout_s: 5\n"
                     "    flood_retries: 0\n")
    return root


def _states(root: Path) -> dict[str, int]:
    """How many deliveries of notices are in each state, as `noticecast status` tells it."""
    result = run_cli(root, "status", "--format", "json")
    counts: dict[str, int] = {}
    for row in json.loads(result.stdout)["deliveries"]:
        if not row["notice_id"].startswith("*"):  # a collection's own bookkeeping
            counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


@pytest.mark.parametrize("how", ["not-json", "bad-message"])
def test_telegram_malformed_success_answers_make_no_duplicate(tmp_path: Path, how: str) -> None:
    _cards_possible()
    with FakeBotApi(TOKEN) as api:
        api.malform("sendPhoto", how)
        root = _telegram_project(tmp_path / "project", api.base_url, count=3)
        env = {"NOTICECAST_TELEGRAM_TOKEN": TOKEN}
        first = run_cli(root, "publish", "--today", "2018-07-08", **env)
        second = run_cli(root, "publish", "--today", "2018-07-09", **env)
        posts = api.of("sendPhoto")
        captions = [c.fields["caption"] for c in api.of("sendPhoto")]
    assert len(posts) == 3, (first.stderr, second.stderr)
    assert len(set(captions)) == 3  # one post per notice: 0 duplicates
    # getMe once for three posts; the second run had nothing to send and connected to nothing.
    assert [c.method for c in api.calls].count("getMe") == 1
    assert _states(root) == {"in-doubt": 3}
    for run in (first, second):
        assert "Traceback" not in run.stderr
        assert TOKEN not in run.stdout + run.stderr
        # The library's own complaint is not repeated per notice; the ledger has the reason.
        assert "invalid JSON" not in run.stderr


def test_telegram_correction_then_withdrawal_mark_every_earlier_post(tmp_path: Path) -> None:
    _cards_possible()
    with FakeBotApi(TOKEN) as api:
        root = _telegram_project(tmp_path / "project", api.base_url, count=0)
        write_notice(root, "t-001", channels=("telegram",), publicity=("2018-07-01", "2018-07-20"))
        env = {"NOTICECAST_TELEGRAM_TOKEN": TOKEN}
        runs = [run_cli(root, "publish", "--today", "2018-07-02", **env)]
        write_notice(root, "t-001", channels=("telegram",), revision=2,
                     publicity=("2018-07-01", "2018-07-20"))
        runs.append(run_cli(root, "publish", "--today", "2018-07-03", **env))
        write_notice(root, "t-001", channels=("telegram",), revision=2, status="withdrawn",
                     publicity=("2018-07-01", "2018-07-20"))
        runs.append(run_cli(root, "publish", "--today", "2018-07-04", **env))
        runs.append(run_cli(root, "publish", "--today", "2018-07-05", **env))
        methods = [c.method for c in api.calls if c.method != "getMe"]
        marked = api.of("editMessageCaption")
        withdrawn = api.of("editMessageMedia")
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert methods == ["sendPhoto",  # the publication, message 101
                       "editMessageCaption", "sendPhoto",  # 101 marked, correction 102
                       "editMessageMedia", "editMessageMedia"]  # both withdrawn
    assert marked[0].fields["message_id"] == "101"
    assert marked[0].fields["caption"].startswith("【已更正，以第2版为准】")
    assert [w.fields["message_id"] for w in withdrawn] == ["101", "102"]
    for edit in withdrawn:
        caption = edit.json_field("media")["caption"]
        assert caption.startswith("【已撤回】") and "公示中" not in caption
    assert _states(root) == {"delivered": 3}


def test_telegram_429_is_one_line_without_traceback(tmp_path: Path) -> None:
    _cards_possible()
    with FakeBotApi(TOKEN) as api:
        api.fail("sendPhoto", 429, "Too Many Requests: retry after 30", retry_after=30)
        root = _telegram_project(tmp_path / "project", api.base_url, count=1)
        result = run_cli(root, "publish", "--today", "2018-07-08",
                         NOTICECAST_TELEGRAM_TOKEN=TOKEN)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert _states(root) == {"retry": 1}
    status = json.loads(run_cli(root, "status", "--format", "json").stdout)
    reason = status["deliveries"][0]["reason"]
    assert "429" in reason and "\n" not in reason


def _crash_files() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("noticecast-crash-*.txt"))


def _everything_written(root: Path, crashes_before: set[Path], *streams: str
                        ) -> list[tuple[str, bytes]]:
    """Every file under the project (out/, the ledger and its journal), every new crash file
    and the streams."""
    found = [(str(p), p.read_bytes()) for p in root.rglob("*") if p.is_file()]
    found += [(f"stream {n}", s.encode()) for n, s in enumerate(streams)]
    found += [(str(p), p.read_bytes()) for p in _crash_files() - crashes_before]
    return found


def _assert_nowhere(secret: str, written: list[tuple[str, bytes]]) -> None:
    leaks = [name for name, data in written if secret.encode() in data]
    assert not leaks, f"{secret!r} written to {leaks}"


def test_a_ticker_endpoint_echoing_token_and_phone_leaks_neither(tmp_path: Path) -> None:
    ticker_token = "tk-SECRET-0f9e8d7c6b5a"
    crashes_before = _crash_files()
    with HttpRecorder() as gateway:
        echo = (f'{{"error": "invalid credentials", "got": "Bearer {ticker_token}", '
                f'"operator": "+86 {PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}"}}').encode()
        gateway.default = (401, {"Content-Type": "application/json"}, echo)
        root = make_project(tmp_path / "project", count=2, channels=("ticker",))
        with (root / "noticecast.yaml").open("a", encoding="utf-8") as config:
            config.write(f"channels:\n  ticker:\n    endpoint: {gateway.url('/push')}\n")
        env = {"NOTICECAST_TICKER_TOKEN": ticker_token}
        result = run_cli(root, "publish", "--today", "2018-07-08", **env)
        status = run_cli(root, "status", "--format", "json", **env)
        log = run_cli(root, "log", **env)
    assert gateway.requests, "the push never reached the gateway"
    assert gateway.requests[0].headers["Authorization"] == f"Bearer {ticker_token}"
    assert _states(root) == {"failed": 2}  # a 401 is a refusal, not retried
    written = _everything_written(root, crashes_before, result.stdout, result.stderr,
                                  status.stdout, status.stderr, log.stdout, log.stderr)
    _assert_nowhere(ticker_token, written)
    for shown in (PHONE, f"{PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}"):
        _assert_nowhere(shown, written)
    assert "138****5678" in status.stdout  # masked, not dropped: still useful to a person
    assert "<secret>" in status.stdout
    assert "Traceback" not in result.stderr


def test_the_sms_gateway_echoing_token_and_phone_leaks_neither(tmp_path: Path) -> None:
    sms_token = "sms-SECRET-a1b2c3d4e5"
    crashes_before = _crash_files()
    with HttpRecorder() as gateway:
        root = make_project(tmp_path / "project", count=1, channels=("sms",))
        config = (root / "noticecast.yaml").read_text("utf-8")
        config = config.replace("  subscribers: null\n", "  subscribers: subscribers.csv\n")
        config += (f"channels:\n  sms:\n    transport: http\n    http:\n"
                   f"      url: {gateway.url('/sms')}\n      token_env: NOTICECAST_SMS_TOKEN\n")
        (root / "noticecast.yaml").write_text(config, "utf-8")
        (root / "subscribers.csv").write_text(f"phone,name,area\n{PHONE},张三,测试县\n",
                                              "utf-8")

        def echo_back() -> None:
            gateway.default = (400, {"Content-Type": "text/plain"},
                               f"rejected: Authorization: Bearer {sms_token}; to={PHONE}; "
                               f"E.164 +86{PHONE}".encode())

        echo_back()
        result = run_cli(root, "publish", "--today", "2018-07-01",
                         NOTICECAST_SMS_TOKEN=sms_token)
        status = run_cli(root, "status", "--format", "json", NOTICECAST_SMS_TOKEN=sms_token)
    if not gateway.requests:
        pytest.skip(f"no text was sent (nothing due for SMS): {result.stderr[-400:]}")
    written = _everything_written(root, crashes_before, result.stdout, result.stderr,
                                  status.stdout, status.stderr)
    written = [(n, d) for n, d in written if not n.endswith("subscribers.csv")]
    _assert_nowhere(sms_token, written)
    _assert_nowhere(PHONE, written)
    assert "Traceback" not in result.stderr
