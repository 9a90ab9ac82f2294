"""The SMS channel against real loopback peers: the outbox, an SMPP peer, an HTTP gateway."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from peers.http_recorder import HttpRecorder
from peers.smpp_peer import SmppPeer
from smpplib import consts

from channels.base import Delivery, Target
from channels.smpp import SmppTransport
from channels.sms import OutboxTransport, SmsChannel
from channels.sms_http import HttpSmsTransport
from pipeline.config import Config
from pipeline.errors import InDoubtError, PermanentError, TransientError
from pipeline.renderers.base import Artifact
from pipeline.renderers.sms_segment import segment
from pipeline.subscribers import Subscriber

PHONE = "+8613800000001"
CHINESE = ("【扶贫公示】\n1.马祖村产业道路硬化工程，68.5万元 https://gongshi.example.gov.cn/n/sf-2018-0012"
           "\n2.2018年脱贫攻坚项目库第…，309万元 https://gongshi.example.gov.cn/n/sf-2018-0008\n回T退订")
LATIN = "[Notice] Road works {phase 2} cost 685000 CNY ~ see https://example.org/n/1 | €" * 3


def config_with(sms: dict[str, Any] | None = None, root: Path | None = None) -> Config:
    data: dict[str, Any] = {"sms": {"subscribers": None}}
    if sms:
        data["channels"] = {"sms": sms}
    if root:
        data["root"] = root
    return Config.model_validate(data)


def delivery(text: str, phone: str = PHONE, digest_id: str = "dg-0123456789abcdef"
             ) -> Delivery:
    subscriber = Subscriber(phone, "什邡市/师古镇/马祖村")
    target = Target(channel="sms", key=subscriber.key, label=subscriber.masked,
                    address={"phone": phone, "area": subscriber.area})
    data = {"digest_id": digest_id, "parts": list(segment(text).parts), "notice_ids": ["x"]}
    artifact = Artifact(renderer="sms", path="digest.json", data=json.dumps(data).encode(),
                        media_type="application/json")
    return Delivery(notice_id=digest_id, revision=0, target=target, artifacts=[artifact])


# -- the outbox ----------------------------------------------------------------------------

def test_outbox_writes_one_json_file_per_message(tmp_path: Path) -> None:
    channel = SmsChannel.from_config(config_with(), tmp_path / "sms")
    assert isinstance(channel.transport, OutboxTransport)
    assert (channel.name, channel.delivery, channel.scope) == ("sms", "at-most-once", "digest")
    job = delivery(CHINESE)
    receipt = channel.deliver(job)
    files = list((tmp_path / "sms").iterdir())
    assert [f.name for f in files] == [receipt.remote_id]
    data = json.loads(files[0].read_text("utf-8"))
    assert data == {"phone": PHONE, "parts": list(segment(CHINESE).parts),
                    "digest_id": "dg-0123456789abcdef"}
    assert "13800000001" not in receipt.remote_id
    assert "13800000001" not in json.dumps(receipt.as_dict(), ensure_ascii=False)
    assert receipt.target_key == job.target.key and receipt.details["parts"] == 3
    channel.withdraw(receipt)  # an SMS cannot be recalled: nothing happens, nothing fails


def test_targets_are_the_subscribers(demo_project: Path) -> None:
    from pipeline.project import Project

    config = Project.open(demo_project).config
    targets = SmsChannel.from_config(config, demo_project / "out").targets(config)
    assert len(targets) == 13
    first = targets[0]
    assert first.key.startswith("sub-") and first.label == "138****0001"
    assert first.address == {"phone": PHONE, "area": "什邡市/师古镇/马祖村"}


def test_bad_input_is_permanent(tmp_path: Path) -> None:
    channel = SmsChannel.from_config(config_with(), tmp_path)
    with pytest.raises(PermanentError, match="no valid mobile number"):
        channel.deliver(delivery("hi", phone="+86123"))
    too_long = delivery("hi")
    data = {"digest_id": "dg-1", "parts": ["中" * 68, "中"], "notice_ids": []}
    too_long = Delivery("dg-1", 0, too_long.target, [Artifact(
        "sms", "digest.json", json.dumps(data).encode(), "application/json")])
    with pytest.raises(PermanentError, match="part 1 has 68 UCS-2 units, more than 67"):
        channel.deliver(too_long)
    empty = Delivery("dg-1", 0, too_long.target, [])
    with pytest.raises(PermanentError, match=r"no digest\.json"):
        channel.deliver(empty)


# -- SMPP ------------------------------------------------------------------------------------

def smpp_channel(peer: SmppPeer, tmp_path: Path, **smpp: Any) -> SmsChannel:
    config = config_with({"transport": "smpp", "smpp": {
        "host": "127.0.0.1", "port": peer.port, "system_id": "noticecast",
        "password_env": "NOTICECAST_TEST_SMPP_PASSWORD", "messages_per_second": 1000,
        "timeout_s": 5, "throttle_pause_s": 0.01, "linger_s": 0.3, **smpp}}, root=tmp_path)
    channel = SmsChannel.from_config(config, tmp_path)
    assert isinstance(channel.transport, SmppTransport)
    return channel


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTICECAST_TEST_SMPP_PASSWORD", "secret")
    monkeypatch.chdir(tmp_path)  # a config without a root keeps its ledger here


def test_smpp_one_session_for_the_run_whole_texts_and_a_clean_unbind(tmp_path: Path) -> None:
    with SmppPeer() as peer:
        channel = smpp_channel(peer, tmp_path)
        first = channel.deliver(delivery(CHINESE))
        latin = channel.deliver(delivery(LATIN, phone="+8613800000002"))
        channel.deliver(delivery("short", phone="+8613800000003"))
        channel.close()
    assert peer.texts() == [("8613800000001", CHINESE), ("8613800000002", LATIN),
                            ("8613800000003", "short")]
    assert peer.binds == [{"system_id": "noticecast", "password": "secret",
                           "mode": "transceiver"}]  # one bind for three texts
    assert peer.commands.count("unbind") == 1 and peer.commands[-1] == "unbind"
    assert "enquire_link_resp" in peer.answered  # the SMSC's keep-alive is answered
    parts = peer.accepted[:3]
    assert [s.data_coding for s in parts] == [8, 8, 8]  # UCS-2
    assert all(s.registered_delivery == 1 and s.esm_class & 0x40 for s in parts)
    assert {s.udh[1] for s in parts} == {3}
    assert [s.data_coding for s in peer.accepted[3:5]] == [0, 0]  # GSM-7, extension chars ok
    assert first.remote_id == "m1,m2,m3" and latin.details["encoding"] == "GSM-7"


def test_smpp_a_throttled_part_alone_is_sent_again_in_the_same_session(tmp_path: Path) -> None:
    # Part 2 is throttled twice: parts 1 and 3 are not sent again, part 2 is, after a pause.
    with SmppPeer(submit_script=[0, consts.SMPP_ESME_RTHROTTLED, 0,
                                 consts.SMPP_ESME_RTHROTTLED]) as peer:
        channel = smpp_channel(peer, tmp_path)
        receipt = channel.deliver(delivery(CHINESE))
        channel.close()
    assert peer.texts() == [("8613800000001", CHINESE)]
    assert [s.udh[2] for s in peer.submits] == [1, 2, 3, 2, 2]
    assert len(peer.binds) == 1 and receipt.details["message_ids"] == ["m1", "m5", "m3"]


def test_smpp_throttled_past_the_bound_is_in_doubt_naming_the_accepted_parts(
        tmp_path: Path) -> None:
    throttled = consts.SMPP_ESME_RTHROTTLED
    with SmppPeer(submit_script=[0, throttled, 0, throttled, throttled]) as peer:
        channel = smpp_channel(peer, tmp_path, throttle_retries=2)
        with pytest.raises(InDoubtError) as caught:
            channel.deliver(delivery(CHINESE))
        channel.close()
    message = str(caught.value)
    assert "part 2 of 3" in message and "after 2 resend(s)" in message
    assert "1 (m1), 3 (m3) of 3 were accepted" in message and "138****0001" in message
    assert "13800000001" not in message
    assert [s.udh[2] for s in peer.submits] == [1, 2, 3, 2, 2]  # never part 1 or 3 again


def test_smpp_throttled_with_nothing_accepted_is_transient(tmp_path: Path) -> None:
    with SmppPeer(submit_script=[consts.SMPP_ESME_RTHROTTLED] * 2) as peer:
        channel = smpp_channel(peer, tmp_path, throttle_retries=1)
        with pytest.raises(TransientError, match="Throttling") as caught:
            channel.deliver(delivery("short"))
        channel.close()
    assert caught.value.retry_after == pytest.approx(0.02)
    assert peer.accepted == []


def test_smpp_invalid_destination_is_permanent(tmp_path: Path) -> None:
    with SmppPeer(invalid_destinations={"8613800000009"}) as peer:
        channel = smpp_channel(peer, tmp_path)
        with pytest.raises(PermanentError, match=r"invalid destination.*138\*\*\*\*0009"):
            channel.deliver(delivery(CHINESE, phone="+8613800000009"))
        channel.close()
    assert peer.commands[-1] == "unbind"
    assert len(peer.submits) == 3  # the window was out; the refusals stored nothing


def test_smpp_wrong_password_is_permanent(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTICECAST_TEST_SMPP_PASSWORD", "not-the-password")
    with SmppPeer() as peer:
        channel = smpp_channel(peer, tmp_path)
        with pytest.raises(PermanentError, match="Invalid Password") as caught:
            channel.deliver(delivery(CHINESE))
    assert "not-the-password" not in str(caught.value)
    assert peer.submits == []


def test_smpp_a_transceiver_only_account(tmp_path: Path) -> None:
    with SmppPeer(bind_modes=("transceiver",)) as peer:
        channel = smpp_channel(peer, tmp_path, bind="transmitter")
        # Bind Failed may be passing (an overloaded SMSC says it too): retried, with a hint.
        with pytest.raises(TransientError, match=r"try smpp\.bind: transceiver"):
            channel.deliver(delivery("short"))
        channel = smpp_channel(peer, tmp_path)  # the default bind
        channel.deliver(delivery("short"))
        channel.close()
    assert [b["mode"] for b in peer.binds] == ["transmitter", "transceiver"]
    assert peer.texts() == [("8613800000001", "short")]


def test_smpp_a_drop_after_a_part_went_out_is_in_doubt(tmp_path: Path) -> None:
    with SmppPeer(drop_after_submits=1) as peer:
        channel = smpp_channel(peer, tmp_path, window=1)
        # Part 1 was accepted, then the link dropped: resending would repeat it for a person.
        with pytest.raises(InDoubtError, match=r"link was lost.*part\(s\) 1 \(m1\) of 3"):
            channel.deliver(delivery(CHINESE))
        peer.drop_after_submits = None
        channel.deliver(delivery("short", phone="+8613800000002"))  # binds again
        channel.close()
    assert len(peer.binds) == 2 and len(peer.accepted) == 2


def test_smpp_silence_until_the_timeout_is_in_doubt(tmp_path: Path) -> None:
    with SmppPeer(silent_after_submits=1) as peer:
        channel = smpp_channel(peer, tmp_path, timeout_s=0.5)
        with pytest.raises(InDoubtError, match=r"no answer within 0.5 s for part\(s\) 2, 3"):
            channel.deliver(delivery(CHINESE))
        channel.close()


def test_smpp_nothing_to_bind_to_is_transient(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    config = config_with({"transport": "smpp", "smpp": {
        "host": "127.0.0.1", "port": closed_port, "system_id": "x",
        "password_env": "NOTICECAST_TEST_SMPP_PASSWORD"}})
    channel = SmsChannel.from_config(config, tmp_path)
    with pytest.raises(TransientError, match="cannot bind"):
        channel.deliver(delivery(CHINESE))


def test_smpp_receipts_and_an_opt_out_reach_the_ledger(tmp_path: Path) -> None:
    from pipeline.ledger import Ledger

    receipts = {"*": "DELIVRD", "8613800000002": "UNDELIV", "8613800000003": "EXPIRED"}
    with SmppPeer(receipts=receipts, replies=[("8613800000004", "t")]) as peer:
        channel = smpp_channel(peer, tmp_path)
        for number in (1, 2, 3):
            channel.deliver(delivery(CHINESE, phone=f"+861380000000{number}",
                                     digest_id=f"dg-{number}"))
        channel.close()
    with Ledger(tmp_path / ".noticecast" / "ledger.sqlite") as ledger:
        states = ledger.handset_states()
        (opted_out,) = ledger.suppressions()
    by_digest = {batch: state for (batch, _), state in states.items()}
    assert by_digest["dg-1"].receipts == {"handset-delivered": 3}
    assert by_digest["dg-2"].receipts == {"undeliverable": 3}
    assert by_digest["dg-3"].summary() == "expired 3/3"
    assert (opted_out.target_label, opted_out.word, opted_out.source) == (
        "138****0004", "T", "smpp")
    assert opted_out.target == Subscriber("+8613800000004", "").key
    assert peer.commands.count("deliver_sm_resp") == 10  # 9 receipts and the reply

    # The phone that replied T gets nothing more: not a target, and refused if asked.
    with pytest.raises(PermanentError, match=r"138\*\*\*\*0004 opted out"):
        channel.deliver(delivery("short", phone="+8613800000004"))


def test_opt_out_words_and_receipt_texts() -> None:
    from channels.sms_inbox import opt_out_word, parse_receipt

    words = ("T", "TD", "退订")
    assert [opt_out_word(t, words) for t in ("T", " t ", "Ｔ", "td。", "退订", "退订！")] == [
        "T", "T", "T", "TD", "退订", "退订"]
    assert [opt_out_word(t, words) for t in ("Thanks", "TT", "不退订", "")] == [None] * 4
    receipt = parse_receipt("id:m7 sub:001 dlvrd:001 submit date:1807081000 done "
                            "date:1807081001 stat:DELIVRD err:000 text:hello")
    assert receipt is not None and (receipt.message_id, receipt.state) == (
        "m7", "handset-delivered")
    assert parse_receipt("stat:UNDELIV", message_id="x1").state == "undeliverable"
    assert parse_receipt("id:a stat:ENROUTE").state is None  # not final: only acknowledged
    assert parse_receipt("", message_id="b", message_state=3).state == "expired"
    assert parse_receipt("no id here") is None


def test_without_the_password_smpp_falls_back_to_the_outbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTICECAST_TEST_SMPP_PASSWORD", raising=False)
    config = config_with({"transport": "smpp", "smpp": {
        "host": "127.0.0.1", "system_id": "x", "password_env": "NOTICECAST_TEST_SMPP_PASSWORD"}})
    assert isinstance(SmsChannel.from_config(config, tmp_path).transport, OutboxTransport)


def test_smpp_transport_needs_its_settings() -> None:
    with pytest.raises(ValueError, match="transport smpp needs an 'smpp:' block"):
        config_with({"transport": "smpp"})


# -- the HTTP gateway -------------------------------------------------------------------------

def http_channel(server: HttpRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 timeout_s: float = 5) -> SmsChannel:
    monkeypatch.setenv("NOTICECAST_TEST_SMS_TOKEN", "tok-123")
    config = config_with({"transport": "http", "http": {
        "url": server.url("/sms"), "token_env": "NOTICECAST_TEST_SMS_TOKEN",
        "timeout_s": timeout_s}})
    channel = SmsChannel.from_config(config, tmp_path)
    assert isinstance(channel.transport, HttpSmsTransport)
    return channel


def test_http_gateway_posts_json_with_the_bearer_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpRecorder(default=(200, {"Content-Type": "application/json"},
                               b'{"id": "gw-42"}')) as server:
        receipt = http_channel(server, tmp_path, monkeypatch).deliver(delivery(CHINESE))
    assert receipt.remote_id == "gw-42"
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/sms")
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Idempotency-Key"].startswith("dg-0123456789abcdef:sub-")
    body = json.loads(request.body)
    assert body["to"] == PHONE and "".join(body["parts"]) == CHINESE == body["text"]
    assert body["parts"] == list(segment(CHINESE).parts)
    assert body["encoding"] == "UCS-2" and body["digest_id"] == "dg-0123456789abcdef"


@pytest.mark.parametrize(("status", "error"), [
    (500, TransientError), (503, TransientError), (429, TransientError),
    (400, PermanentError), (401, PermanentError), (404, PermanentError),
])
def test_http_gateway_errors(status: int, error: type[Exception], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {"Retry-After": "7"} if status == 429 else {}
    with HttpRecorder(default=(status, headers, b"no")) as server, pytest.raises(error) as caught:
        http_channel(server, tmp_path, monkeypatch).deliver(delivery(CHINESE))
    message = str(caught.value)
    assert str(status) in message and "138****0001" in message
    assert "tok-123" not in message and "13800000001" not in message
    if status == 429:
        assert caught.value.retry_after == 7.0


def test_http_gateway_timeout_is_transient(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpRecorder(delay_s=1.0) as server:
        channel = http_channel(server, tmp_path, monkeypatch, timeout_s=0.2)
        # The gateway may have taken it: an at-most-once text is not resent on a timeout.
        with pytest.raises(InDoubtError, match="did not answer"):
            channel.deliver(delivery(CHINESE))


def test_without_the_token_http_falls_back_to_the_outbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTICECAST_TEST_SMS_TOKEN", raising=False)
    config = config_with({"transport": "http", "http": {
        "url": "http://127.0.0.1:9/sms", "token_env": "NOTICECAST_TEST_SMS_TOKEN"}})
    assert isinstance(SmsChannel.from_config(config, tmp_path).transport, OutboxTransport)


def test_the_rate_limiter_spaces_messages_evenly() -> None:
    from channels.smpp import RateLimiter

    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25]  # the first goes at once, then one every 1/4 s
    now[0] += 10  # after a pause nothing waits
    limiter.wait()
    assert len(slept) == 3
