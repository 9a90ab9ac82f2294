"""The newspaper channel: the inbox folder, and e-mail to a real aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels.base import Delivery, InDoubtError, PermanentError, TransientError
from channels.newspaper import NewspaperChannel
from pipeline.config import Config
from pipeline.renderers.base import Artifact

TITLE = "师古镇马祖村产业道路硬化工程项目公示"
ZONE = "Asia/Shanghai"
EDITOR = "bianji@paper.example"


def artifacts(notice_id: str = "sf-2018-0012", revision: int = 1) -> list[Artifact]:
    meta = {"notice_id": notice_id, "title": TITLE, "issue_date": "2018-07-04",
            "width_mm": 114.0, "height_mm": 143.1, "grid_columns": 2, "text_columns": 2,
            "body_pt": 9.0, "fit": "fits"}
    common: dict[str, Any] = {"renderer": "newspaper", "notice_id": notice_id,
                              "revision": revision, "meta": {"issue_date": "2018-07-04"}}
    return [
        Artifact(path=f"{notice_id}/block.pdf", data=b"%PDF-1.7 block",
                 media_type="application/pdf", **common),
        Artifact(path=f"{notice_id}/proof.png", data=b"\x89PNG proof", media_type="image/png",
                 **common),
        Artifact(path=f"{notice_id}/block.json", data=json.dumps(meta).encode(),
                 media_type="application/json", **common),
    ]


def config(**newspaper: Any) -> Config:
    return Config(channels={"newspaper": newspaper})


def delivery(channel: NewspaperChannel, cfg: Config, event: str = "publish",
             revision: int = 1) -> Delivery:
    [target] = channel.targets(cfg)
    return Delivery("sf-2018-0012", revision, target, artifacts(revision=revision),
                    event=event)  # type: ignore[arg-type]


# -- the inbox folder ----------------------------------------------------------------------

def test_inbox_gets_pdf_proof_and_metadata_by_issue_date(tmp_path: Path) -> None:
    cfg = config()
    channel = NewspaperChannel.from_config(cfg, tmp_path / "sink")
    [target] = channel.targets(cfg)
    assert target.key == "inbox"
    receipt = channel.deliver(delivery(channel, cfg))
    folder = tmp_path / "sink" / "2018-07-04"
    assert sorted(p.name for p in folder.iterdir()) == [
        "sf-2018-0012-r1.json", "sf-2018-0012-r1.pdf", "sf-2018-0012-r1.png"]
    assert (folder / "sf-2018-0012-r1.pdf").read_bytes() == b"%PDF-1.7 block"
    assert json.loads((folder / "sf-2018-0012-r1.json").read_text("utf-8"))["event"] == "publish"
    assert receipt.remote_id == "2018-07-04/sf-2018-0012-r1.pdf"
    assert not list(folder.glob(".*"))  # no temporary files left behind

    again = channel.deliver(delivery(channel, cfg))  # idempotent: the same files
    assert again.details["files"] == receipt.details["files"]
    correction = channel.deliver(delivery(channel, cfg, "correction", revision=2))
    assert correction.remote_id == "2018-07-04/sf-2018-0012-r2-correction.pdf"

    channel.withdraw(receipt)
    assert sorted(p.name for p in folder.iterdir()) == [
        "sf-2018-0012-r2-correction.json", "sf-2018-0012-r2-correction.pdf",
        "sf-2018-0012-r2-correction.png"]


def test_without_a_block_the_delivery_is_permanent_error(tmp_path: Path) -> None:
    cfg = config()
    channel = NewspaperChannel.from_config(cfg, tmp_path)
    [target] = channel.targets(cfg)
    with pytest.raises(PermanentError, match="noticecast build"):
        channel.deliver(Delivery("sf-2018-0012", 1, target, []))


# -- SMTP ----------------------------------------------------------------------------------

@dataclass
class Mailroom:
    """An aiosmtpd handler that keeps what it receives and refuses scripted recipients."""

    received: list[Any] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)
    hang_up_after_data: int = 0  # take the message, then drop the line before replying

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope)
        if self.hang_up_after_data:
            self.hang_up_after_data -= 1
            server.transport.close()
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailroom, int]]:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.smtp import AuthResult, LoginPassword

    mailroom = Mailroom()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        mailroom.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")

    port = free_port()
    controller = controller_module.Controller(
        mailroom, hostname="127.0.0.1", port=port, authenticator=authenticate,
        auth_require_tls=False)
    controller.start()
    try:
        yield mailroom, port
    finally:
        controller.stop()


def test_email_to_the_editor_carries_pdf_and_proof(smtp_server: tuple[Mailroom, int],
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mailroom, port = smtp_server
    monkeypatch.setenv("NC_TEST_SMTP_USER", "noticecast")
    monkeypatch.setenv("NC_TEST_SMTP_PASSWORD", "s3cret")
    cfg = config(to=EDITOR, smtp_host="127.0.0.1", smtp_port=port,
                 sender="gongshi@office.example", smtp_user_env="NC_TEST_SMTP_USER",
                 smtp_password_env="NC_TEST_SMTP_PASSWORD")
    channel = NewspaperChannel.from_config(cfg, tmp_path)
    channel.clock = lambda zone: datetime(2018, 7, 3, 23, 0, tzinfo=UTC)  # 7:00 the 4th there
    [target] = channel.targets(cfg)
    assert EDITOR not in target.key and target.label == "editor b***@paper.example"
    receipt = channel.deliver(delivery(channel, cfg, "correction", revision=2))

    assert mailroom.logins == [("noticecast", "s3cret")]
    [envelope] = mailroom.received
    assert envelope.rcpt_tos == [EDITOR]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == f"【更正】报纸公告版样：{TITLE}（2018年7月4日）"
    assert message["Message-ID"] == receipt.remote_id
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(parts) == {f"sf-2018-0012-r2 {TITLE}.pdf", f"sf-2018-0012-r2 {TITLE} 校样.png"}
    assert parts[f"sf-2018-0012-r2 {TITLE}.pdf"].get_content_type() == "application/pdf"
    assert parts[f"sf-2018-0012-r2 {TITLE}.pdf"].get_content() == b"%PDF-1.7 block"
    assert parts[f"sf-2018-0012-r2 {TITLE} 校样.png"].get_content() == b"\x89PNG proof"
    assert "114.0 × 143.1 毫米" in message.get_body(("plain",)).get_content()
    assert "拟于2018年7月4日刊登" in message.get_body(("plain",)).get_content()
    assert message["Date"].endswith("+0800")  # the office's time zone, Asia/Shanghai
    assert message["Date"].datetime == datetime(2018, 7, 4, 7, 0, tzinfo=ZoneInfo(ZONE))
    assert not list(tmp_path.iterdir())  # e-mail instead of the inbox folder


@pytest.mark.parametrize(("sent", "issue_days", "proposed"), [
    (datetime(2018, 7, 5, 15, 30, tzinfo=UTC), ["mon", "wed", "fri"], "2018年7月6日"),
    (datetime(2018, 7, 6, 16, 30, tzinfo=UTC), ["mon", "wed", "fri"], "2018年7月9日"),
    (datetime(2018, 7, 1, 8, 0, tzinfo=UTC), ["mon", "wed", "fri"], "2018年7月4日"),
    (datetime(2018, 7, 20, 1, 0, tzinfo=UTC), ["sat"], "2018年7月21日"),
])
def test_the_proposed_print_date_is_the_next_issue_on_or_after_sending(
        smtp_server: tuple[Mailroom, int], tmp_path: Path, sent: datetime,
        issue_days: list[str], proposed: str) -> None:
    mailroom, port = smtp_server
    cfg = Config(newspaper={"issue_days": issue_days},
                 channels={"newspaper": {"to": EDITOR, "smtp_host": "127.0.0.1",
                                         "smtp_port": port}})
    channel = NewspaperChannel.from_config(cfg, tmp_path)
    channel.clock = lambda zone: sent
    receipt = channel.deliver(delivery(channel, cfg))
    message = message_from_bytes(mailroom.received[0].content, policy=policy.default)
    # Never the notice's own, past date; never before the block's date (the 4th, a Wednesday).
    assert f"拟于{proposed}刊登" in message.get_body(("plain",)).get_content()
    assert message["Subject"].endswith(f"（{proposed}）")
    assert receipt.details["print_date"]


def test_a_retry_is_the_same_message_and_a_lost_reply_is_in_doubt(
        smtp_server: tuple[Mailroom, int], tmp_path: Path) -> None:
    mailroom, port = smtp_server
    cfg = config(to=EDITOR, smtp_host="127.0.0.1", smtp_port=port,
                 sender="gongshi@office.example")
    channel = NewspaperChannel.from_config(cfg, tmp_path)
    assert channel.delivery == "at-most-once"  # an e-mail reaches a person
    mailroom.hang_up_after_data = 1
    with pytest.raises(InDoubtError, match="may have been accepted"):
        channel.deliver(delivery(channel, cfg))
    # The operator resends it (`noticecast resolve --resend`): the same Message-ID, so the
    # editor's client can tell the second copy for what it is.
    again = NewspaperChannel.from_config(cfg, tmp_path).deliver(delivery(channel, cfg))
    first, second = (message_from_bytes(e.content, policy=policy.default)
                     for e in mailroom.received)
    assert first["Message-ID"] == second["Message-ID"] == again.remote_id
    assert again.remote_id.startswith("<sf-2018-0012.r1.")
    assert again.remote_id.endswith("@office.example>")
    # Another delivery key is another message.
    other = channel.deliver(delivery(channel, cfg, "correction", revision=2))
    assert other.remote_id != again.remote_id


@pytest.mark.parametrize(("reply", "error"), [("550 5.1.1 no such mailbox", PermanentError),
                                              ("451 4.3.0 try again later", TransientError)])
def test_refused_recipient_is_classified(smtp_server: tuple[Mailroom, int], tmp_path: Path,
                                         reply: str, error: type[Exception]) -> None:
    mailroom, port = smtp_server
    mailroom.refuse[EDITOR] = reply
    cfg = config(to=EDITOR, smtp_host="127.0.0.1", smtp_port=port)
    channel = NewspaperChannel.from_config(cfg, tmp_path)
    with pytest.raises(error, match=reply[:3]) as caught:
        channel.deliver(delivery(channel, cfg))
    assert str(caught.value).startswith("sf-2018-0012: ")
    assert EDITOR not in str(caught.value)  # the address is masked in messages
    assert mailroom.received == []


def test_starttls_with_an_untrusted_certificate_is_permanent(tmp_path: Path) -> None:
    """STARTTLS is used when configured, and the server's certificate is verified."""
    controller_module = pytest.importorskip("aiosmtpd.controller")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the test server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    mailroom, port = Mailroom(), free_port()
    controller = controller_module.Controller(mailroom, hostname="127.0.0.1", port=port,
                                              tls_context=tls, require_starttls=True)
    controller.start()
    try:
        cfg = config(to=EDITOR, smtp_host="127.0.0.1", smtp_port=port, starttls=True)
        channel = NewspaperChannel.from_config(cfg, tmp_path / "sink")
        with pytest.raises(PermanentError, match="certificate not trusted"):
            channel.deliver(delivery(channel, cfg))
    finally:
        controller.stop()
    assert mailroom.received == []


def test_no_server_is_transient(tmp_path: Path) -> None:
    cfg = config(to=EDITOR, smtp_host="127.0.0.1", smtp_port=free_port())
    channel = NewspaperChannel.from_config(cfg, tmp_path)
    with pytest.raises(TransientError, match=r"cannot reach the mail server 127\.0\.0\.1"):
        channel.deliver(delivery(channel, cfg))
