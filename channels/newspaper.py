"""The newspaper channel: each notice's block goes to the editors of the local paper.

Without an address, the PDF, its proof PNG and its metadata are dropped into the editors'
inbox folder, ``out/channels/newspaper/<issue date>/``, atomically (a half-written PDF is never
seen). With ``channels.newspaper.to`` set, they are e-mailed to the editor over SMTP (STARTTLS
and login only when configured; the password comes from the environment variable named in the
config). Dropping twice is harmless (the same files). An e-mail reaches a person, so mailing
is at most once: a connection that dies once the message is on its way makes the delivery in
doubt, for an operator (``channels.smtp``). Should a copy go out twice all the same (an operator
resends one that had arrived), it is the same message: the Message-ID is made from the delivery
key, so the editor's mail client can tell it is a copy.

The e-mail proposes a print date (拟于…刊登): the first of the paper's issue days
(``newspaper.issue_days``) on or after the day it is sent, in the office's time zone, and never
before the block's own date. The Date header is in that time zone too.

Errors: a connection failure, a timeout before sending or an SMTP 4xx reply is transient
(retried later); a 5xx reply (an address the server rejects, a refused login) is permanent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from channels.base import (
    Artifact,
    Delivery,
    DeliveryKind,
    PermanentError,
    Receipt,
    Scope,
    Target,
    TransientError,
)
from channels.smtp import mask_address, send
from pipeline.build import write_atomic
from pipeline.config import WEEKDAYS, Config
from pipeline.config import NewspaperChannel as Settings
from pipeline.model import DEFAULT_TIMEZONE, format_date

EVENT_SUFFIX = {"publish": "", "correction": "-correction", "withdrawal": "-withdrawal",
                "expiry": "-expiry"}
EVENT_LABEL = {"publish": "", "correction": "【更正】", "withdrawal": "【撤回】", "expiry": ""}


@dataclass(frozen=True)
class BlockFiles:
    """The three outputs of one newspaper block, picked from a delivery's artifacts."""

    pdf: Artifact
    proof: Artifact | None
    metadata: dict[str, object]

    @classmethod
    def pick(cls, notice_id: str, artifacts: Sequence[Artifact]) -> BlockFiles:
        by_name = {a.path.rsplit("/", 1)[-1]: a for a in artifacts if a.renderer == "newspaper"}
        pdf = by_name.get("block.pdf")
        if pdf is None:
            raise PermanentError(f"{notice_id}: no newspaper block to deliver; run "
                                 "`noticecast build --only newspaper` first")
        meta_file = by_name.get("block.json")
        metadata = json.loads(meta_file.data) if meta_file else dict(pdf.meta)
        return cls(pdf, by_name.get("proof.png"), metadata)

    @property
    def issue_date(self) -> str:
        """YYYY-MM-DD, the inbox folder's name (checked: it becomes part of a path)."""
        value = str(self.metadata.get("issue_date") or self.pdf.meta.get("issue_date") or "")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return "undated"

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or "")


class NewspaperChannel:
    name: ClassVar[str] = "newspaper"
    delivery: ClassVar[DeliveryKind] = "idempotent"
    scope: ClassVar[Scope] = "notice"

    def __init__(self, settings: Settings, sink: Path, *, user: str | None = None,
                 password: str | None = None, zone: ZoneInfo | None = None,
                 issue_days: Sequence[str] = WEEKDAYS,
                 clock: Callable[[ZoneInfo], datetime] | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self._user = user
        self._password = password
        self.zone = zone or ZoneInfo(DEFAULT_TIMEZONE)
        self.issue_days = frozenset(WEEKDAYS.index(day) for day in issue_days)
        self.clock = clock or datetime.now  # the moment of sending; a test may fix it
        if settings.to:
            # An e-mail reaches a person: the ledger treats a half-done one as in doubt.
            self.delivery = "at-most-once"  # type: ignore[misc]

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> NewspaperChannel:
        settings = config.channels.newspaper
        return cls(settings, sink, user=Config.secret(settings.smtp_user_env),
                   password=Config.secret(settings.smtp_password_env), zone=config.zone,
                   issue_days=config.newspaper.issue_days)

    def print_date(self, sent: date, block_date: date | None = None) -> date:
        """The first issue day on or after ``sent`` (and not before the block's own date)."""
        day = max(sent, block_date) if block_date else sent
        for _ in range(7):
            if day.weekday() in self.issue_days:
                return day
            day += timedelta(days=1)
        return day  # unreachable: the config holds at least one issue day

    def _print_date_of(self, files: BlockFiles, now: datetime) -> date:
        block_date = (date.fromisoformat(files.issue_date)
                      if files.issue_date != "undated" else None)
        return self.print_date(now.date(), block_date)

    def message_id(self, delivery: Delivery) -> str:
        """The same for every attempt of one delivery key, so a copy is recognisable."""
        key = "|".join((delivery.notice_id, str(delivery.revision), delivery.event, self.name,
                        delivery.target.key))
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        # Short enough that the header is never folded (a folded id is read back with a space).
        local = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{delivery.notice_id}.r{delivery.revision}")
        domain = self.settings.sender.rpartition("@")[2] or "localhost"
        return f"<{local[:40]}.{digest}@{domain}>"

    def targets(self, config: Config) -> list[Target]:
        to = self.settings.to
        if to:
            key = "editor-" + hashlib.sha256(to.strip().lower().encode()).hexdigest()[:12]
            return [Target(self.name, key, {"to": to}, label=f"editor {mask_address(to)}")]
        return [Target(self.name, "inbox", {}, label="editors' inbox folder")]

    def deliver(self, delivery: Delivery) -> Receipt:
        files = BlockFiles.pick(delivery.notice_id, delivery.artifacts)
        to = delivery.target.address.get("to")
        if to:
            return self._mail(delivery, files, str(to))
        return self._drop(delivery, files)

    def withdraw(self, receipt: Receipt) -> None:
        """Take a withdrawn block out of the inbox; an e-mail cannot be taken back (the
        withdrawal's own block, marked 【撤回】, tells the editor)."""
        for relative in receipt.details.get("files", ()):
            path = (self.sink / str(relative)).resolve()
            if self.sink.resolve() in path.parents:
                path.unlink(missing_ok=True)

    # -- the inbox folder ----------------------------------------------------------------

    def _drop(self, delivery: Delivery, files: BlockFiles) -> Receipt:
        suffix = EVENT_SUFFIX.get(delivery.event, f"-{delivery.event}")
        stem = f"{delivery.notice_id}-r{delivery.revision}{suffix}"
        folder = Path(files.issue_date)
        written = [(folder / f"{stem}.pdf", files.pdf.data)]
        if files.proof is not None:
            written.append((folder / f"{stem}.png", files.proof.data))
        metadata = {**files.metadata, "event": delivery.event}
        written.append((folder / f"{stem}.json",
                        json.dumps(metadata, ensure_ascii=False, indent=2).encode() + b"\n"))
        try:
            for relative, data in written:
                write_atomic(self.sink / relative, data)
        except OSError as exc:
            raise TransientError(f"{delivery.notice_id}: cannot write to the newspaper inbox "
                                 f"{self.sink}: {exc.strerror or exc}") from None
        paths = [relative.as_posix() for relative, _ in written]
        return Receipt(self.name, delivery.target.key, remote_id=paths[0],
                       details={"files": paths, "issue_date": files.issue_date,
                                "event": delivery.event})

    # -- e-mail to the editor ------------------------------------------------------------

    def now(self) -> datetime:
        """The moment of sending, in the office's time zone."""
        return self.clock(self.zone).astimezone(self.zone)

    def message(self, delivery: Delivery, files: BlockFiles, to: str,
                now: datetime | None = None) -> EmailMessage:
        """The MIME message: a Chinese subject, a short note, the PDF and the proof."""
        label = EVENT_LABEL.get(delivery.event, "")
        now = now or self.now()
        issue = format_date(self._print_date_of(files, now))
        message = EmailMessage()
        message["Subject"] = f"{label}报纸公告版样：{files.title}（{issue}）"
        message["From"] = self.settings.sender
        message["To"] = to
        message["Date"] = format_datetime(now)
        message["Message-ID"] = self.message_id(delivery)
        meta = files.metadata
        message.set_content(
            f"编辑同志：\n\n附件为《{files.title}》的报纸公告版样（{label or '新发布'}），"
            f"拟于{issue}刊登。\n\n"
            f"版块尺寸：{meta.get('width_mm')} × {meta.get('height_mm')} 毫米，"
            f"占 {meta.get('grid_columns')} 栏；正文 {meta.get('body_pt')} 磅，"
            f"分 {meta.get('text_columns')} 栏排。\n"
            f"编号：{delivery.notice_id}（第{delivery.revision}版）\n\n"
            "PDF 为印刷文件（字体已嵌入），PNG 为校样。\n")
        stem = f"{delivery.notice_id}-r{delivery.revision} {files.title}"
        message.add_attachment(files.pdf.data, maintype="application", subtype="pdf",
                               filename=f"{stem}.pdf")
        if files.proof is not None:
            message.add_attachment(files.proof.data, maintype="image", subtype="png",
                                   filename=f"{stem} 校样.png")
        return message

    def _mail(self, delivery: Delivery, files: BlockFiles, to: str) -> Receipt:
        now = self.now()
        message = self.message(delivery, files, to, now)
        self._send(message, to, delivery.notice_id)
        return Receipt(self.name, delivery.target.key, remote_id=str(message["Message-ID"]),
                       details={"issue_date": files.issue_date, "event": delivery.event,
                                "print_date": self._print_date_of(files, now).isoformat(),
                                "attachments": len(list(message.iter_attachments()))})

    def _send(self, message: EmailMessage, to: str, notice_id: str) -> None:
        send(self.settings, message, to, notice_id, user=self._user, password=self._password)
