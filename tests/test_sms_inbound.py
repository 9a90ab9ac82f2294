"""What comes back from SMS outside a send: receipts and replies heard between the runs of
``publish --watch`` (SMPP), and the HTTP gateway's callbacks (``noticecast serve-callbacks``,
run as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from peers.http_recorder import HttpRecorder
from peers.smpp_peer import SmppPeer
from test_sms_channel import delivery

from channels.sms import SmsChannel, listen_between_runs
from pipeline.config import Config
from pipeline.ledger import Ledger
from pipeline.subscribers import Subscriber


def ledger_of(root: Path) -> Ledger:
    return Ledger(root / ".noticecast" / "ledger.sqlite")


def smpp_config(peer: SmppPeer, root: Path, **smpp: Any) -> Config:
    return Config.model_validate({"sms": {"subscribers": None}, "root": root, "channels": {
        "sms": {"transport": "smpp", "smpp": {
            "host": "127.0.0.1", "port": peer.port, "system_id": "noticecast",
            "password_env": "NOTICECAST_TEST_SMPP_PASSWORD", "timeout_s": 5, **smpp}}}})


def test_between_watch_runs_the_session_hears_replies(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTICECAST_TEST_SMPP_PASSWORD", "secret")
    with SmppPeer(replies=[("8613800000004", "退订"), ("8613800000005", "谢谢")]) as peer:
        listen_between_runs(smpp_config(peer, tmp_path), tmp_path)(0.5)
    assert [b["mode"] for b in peer.binds] == ["transceiver"]
    assert peer.commands.count("deliver_sm_resp") == 2 and peer.commands[-1] == "unbind"
    with ledger_of(tmp_path) as ledger:
        (opted_out,) = ledger.suppressions()  # 谢谢 ("thanks") opts nobody out
    assert (opted_out.target_label, opted_out.word) == ("138****0004", "退订")


def test_a_transmitter_account_cannot_listen_and_only_waits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTICECAST_TEST_SMPP_PASSWORD", "secret")
    with SmppPeer(replies=[("8613800000004", "T")]) as peer:
        listen_between_runs(smpp_config(peer, tmp_path, bind="transmitter"), tmp_path)(0.1)
        channel = SmsChannel.from_config(smpp_config(peer, tmp_path, bind="transmitter"),
                                         tmp_path)
        channel.deliver(delivery("short"))
        channel.close()
    assert [b["mode"] for b in peer.binds] == ["transmitter"]  # the send; no listening bind
    assert peer.accepted[0].registered_delivery == 0  # no receipts asked: none could come


@pytest.fixture
def callbacks(tmp_path: Path) -> Any:
    """`noticecast serve-callbacks` in a project whose SMS goes through an HTTP gateway."""
    config = {"sms": {"subscribers": None}, "publish": {"durability": "normal"},
              "channels": {"sms": {"transport": "http", "http": {
                  "url": "http://127.0.0.1:9/sms", "token_env": "NOTICECAST_TEST_SMS_TOKEN",
                  "callback_secret_env": "NOTICECAST_TEST_CALLBACK_SECRET"}}}}
    (tmp_path / "noticecast.yaml").write_text(yaml.safe_dump(config), "utf-8")
    env = {**os.environ, "NOTICECAST_TEST_CALLBACK_SECRET": "s3cret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "-C", str(tmp_path), "serve-callbacks", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), process.stderr.read()
    yield url
    process.terminate()
    process.wait(timeout=5)


def test_the_gateway_callbacks_record_receipts_and_opt_outs(
        tmp_path: Path, callbacks: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTICECAST_TEST_SMS_TOKEN", "tok")
    monkeypatch.chdir(tmp_path)
    with HttpRecorder(default=(200, {"Content-Type": "application/json"},
                               b'{"id": "gw-7"}')) as gateway:
        config = Config.model_validate({"sms": {"subscribers": None}, "root": tmp_path,
                                        "channels": {"sms": {"transport": "http", "http": {
                                            "url": gateway.url("/sms"),
                                            "token_env": "NOTICECAST_TEST_SMS_TOKEN"}}}})
        channel = SmsChannel.from_config(config, tmp_path)
        job = delivery("short")
        channel.deliver(job)
        channel.close()
    secret = {"Authorization": "Bearer s3cret"}
    with httpx.Client(timeout=5) as client:
        refused = client.post(f"{callbacks}receipt", json={"message_id": "gw-7",
                                                            "status": "DELIVRD"},
                              headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        bad = client.post(f"{callbacks}receipt", json={"status": "DELIVRD"}, headers=secret)
        assert bad.status_code == 400
        done = client.post(f"{callbacks}receipt", json={"message_id": "gw-7",
                                                         "status": "delivered"}, headers=secret)
        assert done.json() == {"state": "handset-delivered"}
        reply = client.post(f"{callbacks}reply", headers={"X-Noticecast-Secret": "s3cret"},
                            json={"from": "+8613800000001", "text": "TD"})
        assert reply.json() == {"opted_out": True}
        chat = client.post(f"{callbacks}reply", headers=secret,
                           json={"from": "+8613800000002", "text": "好的"})
        assert chat.json() == {"opted_out": False}
        assert client.post(f"{callbacks[:-4]}elsewhere", headers=secret,
                           json={}).status_code == 404
    with ledger_of(tmp_path) as ledger:
        states = ledger.handset_states()
        (opted_out,) = ledger.suppressions()
    assert states[("dg-0123456789abcdef", job.target.key)].summary() == "handset-delivered 1/1"
    assert opted_out.target == Subscriber("+8613800000001", "").key
    assert (opted_out.word, opted_out.source) == ("TD", "http callback")
    shown = subprocess.run(
        [sys.executable, "-m", "pipeline", "-C", str(tmp_path), "subscribers", "--format",
         "json"], capture_output=True, text=True, check=True).stdout
    (entry,) = json.loads(shown)["subscribers"]
    assert entry["phone"] == "138****0001" and not entry["listed"]
    assert "13800000001" not in shown


def test_serve_callbacks_needs_its_secret(tmp_path: Path) -> None:
    (tmp_path / "noticecast.yaml").write_text("sms:\n  subscribers: null\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NOTICECAST_SMS_CALLBACK_SECRET"}
    done = subprocess.run([sys.executable, "-m", "pipeline", "-C", str(tmp_path),
                           "serve-callbacks", "--port", "0"], capture_output=True, text=True,
                          env=env, timeout=30)
    assert done.returncode == 1
    assert "NOTICECAST_SMS_CALLBACK_SECRET is not set" in done.stderr
    assert "Traceback" not in done.stderr
