"""The WeChat channel through `publish` and its ledger, against the fake WeChat API.

At most once: a publish job submitted without a readable answer is in doubt and is never
submitted again by a later run. And the AppSecret (and the access token) never reach out/, the
ledger, a log or a crash file: `noticecast publish` runs as a real subprocess with every log
record written to a file, and everything it wrote is searched.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from peers.fake_wechat_api import FakeWechatApi
from peers.publish_project import cli_env, make_project, write_notice

from pipeline.errors import RenderError
from pipeline.fonts import SANS, find_font
from pipeline.ledger import DELIVERED, FAILED, IN_DOUBT, Ledger
from pipeline.project import Project
from pipeline.publish import PublishOptions, ledger_path, moment, publish

try:  # the cover is the card, drawn with Debian's fonts-noto-cjk
    find_font(SANS)
except RenderError as missing:
    pytest.skip(str(missing), allow_module_level=True)

pytestmark = pytest.mark.slow

APP_ID = "wx0a1b2c3d4e5f6a7b"
SECRET = "Sekr3t-0f-the-0ffice-9d2c"
WRONG_SECRET = "Wr0ng-Secret-7e1f"
SECRET_ENV = "NOTICECAST_WECHAT_SECRET"
DAY = date(2018, 7, 8)
RUNNER = ("import logging, sys\n"
          "logging.basicConfig(level=logging.DEBUG, filename=sys.argv[1], "
          "format='%(name)s %(levelname)s %(message)s')\n"
          "from pipeline.cli import main\n"
          "main(sys.argv[2:])\n")


def _project(root: Path, api: FakeWechatApi, *, timeout_s: float = 5.0) -> Path:
    make_project(root, count=1, channels=("wechat",))
    with (root / "noticecast.yaml").open("a", encoding="utf-8") as config:
        config.write(f"channels:\n  wechat:\n    app_id: {APP_ID}\n"
                     f"    api_base_url: {api.base_url}\n    timeout_s: {timeout_s}\n"
                     "    poll_interval_s: 0.02\n    publish_timeout_s: 5\n")
    return root


def _states(root: Path) -> dict[tuple[str, int, str], str]:
    with Ledger(ledger_path(Project.open(root))) as ledger:
        return {(r.key.notice_id, r.key.revision, r.key.event): r.state
                for r in ledger.current()}


def test_a_submit_without_an_answer_is_in_doubt_and_never_submitted_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with FakeWechatApi(APP_ID, SECRET) as api:
        root = _project(tmp_path / "site", api, timeout_s=0.5)
        api.delay("freepublish/submit", 1.5)
        project = Project.open(root)
        first = publish(project, PublishOptions(now=moment(project.config, today=DAY)))
        assert first.tallies["wechat"].in_doubt == 1
        assert _states(root) == {("t-001", 1, "publish"): IN_DOUBT}
        # The job went through on WeChat's side all the same.
        assert len(api.of("freepublish/submit")) == 1

        second = publish(project, PublishOptions(now=moment(project.config, today=DAY)))
        assert second.plan.batches == [] and second.tallies["wechat"].in_doubt == 1
    assert len(api.of("freepublish/submit")) == 1  # at most once
    assert api.apis().count("draft/add") == 1


def test_a_rate_limited_draft_is_retried_by_a_later_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with FakeWechatApi(APP_ID, SECRET) as api:
        root = _project(tmp_path / "site", api)
        api.fail("draft/add", 45009, "reach max api daily quota limit")
        project = Project.open(root)
        first = publish(project, PublishOptions(now=moment(project.config, today=DAY)))
        assert first.tallies["wechat"].retried == 1
        later = moment(project.config, today=date(2018, 7, 9))
        publish(project, PublishOptions(now=later))
    assert _states(root) == {("t-001", 1, "publish"): DELIVERED}
    assert len(api.of("freepublish/submit")) == 1 and len(api.articles) == 1


def _run(root: Path, log: Path, tmp: Path, day: date, secret: str
         ) -> subprocess.CompletedProcess[str]:
    env = cli_env(TMPDIR=str(tmp), **{SECRET_ENV: secret})
    return subprocess.run([sys.executable, "-c", RUNNER, str(log), "-C", str(root), "publish",
                           "--today", day.isoformat()],
                          env=env, capture_output=True, text=True, timeout=180)


def test_the_secret_and_the_token_are_nowhere_in_out_the_ledger_logs_or_crash_files(
        tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "publish.log"
    outputs: list[str] = []
    with FakeWechatApi(APP_ID, SECRET) as api:
        root = _project(tmp_path / "site", api, timeout_s=0.5)
        write_notice(root, "t-002", channels=("wechat",))
        # Run 1: both notices, the token expiring between two calls.
        api.expire_token_at("draft/add")
        outputs.append(_run(root, log, tmp, DAY, SECRET).stdout)
        # Run 2: a correction of one, a withdrawal of the other; a submit that times out.
        write_notice(root, "t-001", channels=("wechat",), revision=2)
        write_notice(root, "t-002", channels=("wechat",), status="withdrawn")
        write_notice(root, "t-003", channels=("wechat",))
        api.delay("freepublish/submit", 1.5)
        done = _run(root, log, tmp, date(2018, 7, 9), SECRET)
        outputs += [done.stdout, done.stderr]
        # Run 3: a wrong secret (the cached token is dropped first, so it is used).
        write_notice(root, "t-004", channels=("wechat",))
        cache = root / ".noticecast" / "wechat-token.json"
        cached = cache.read_text("utf-8")
        cache.unlink()
        wrong = _run(root, log, tmp, date(2018, 7, 10), WRONG_SECRET)
        outputs += [wrong.stdout, wrong.stderr]
        tokens = list(api.tokens)

    states = _states(root)
    assert states[("t-001", 1, "publish")] == DELIVERED
    assert states[("t-001", 2, "correction")] in (DELIVERED, IN_DOUBT)
    assert states[("t-002", 1, "withdrawal")] in (DELIVERED, IN_DOUBT)
    assert states[("t-004", 1, "publish")] == FAILED
    assert api.deleted and len(tokens) >= 2

    logged = log.read_text("utf-8")
    assert "HTTP Request: POST" in logged and "access_token=<redacted>" in logged
    files = [p for p in (root / "out").rglob("*") if p.is_file()]
    files += [p for p in (root / ".noticecast").iterdir() if p.name.startswith("ledger")]
    files += [p for p in tmp.rglob("*") if p.is_file()]  # crash files land in TMPDIR
    texts = [p.read_bytes().decode("utf-8", "replace") for p in files]
    texts += [logged, *outputs]
    for secret in (SECRET, WRONG_SECRET, *tokens):
        leaks = [str(p) for p, t in zip(files, texts, strict=False) if secret in t]
        assert not leaks and not any(secret in t for t in texts), (secret, leaks)
    # The token is kept only in the state folder, never the secret.
    assert any(token in cached for token in tokens) and SECRET not in cached
    with Ledger(ledger_path(Project.open(root))) as ledger:
        reason = next(r.reason for r in ledger.current() if r.key.notice_id == "t-004")
    assert reason and "40125" in reason and "AppSecret" in reason
