"""The board channel: each notice's sheet goes to the clerk of the board that must carry it.

One target per board in ``channels.board.boards`` (an area and its clerk); a board gets the
notices of its own area. Per board, the sheet (``out/board/<id>/sheet.pdf``) is

* printed on the board's printer through CUPS (IPP, ``printer: ipp://host:631/printers/Q``),
* or e-mailed to the clerk (``email:``, over the SMTP settings of ``channels.board``),
* or, by default, dropped into a folder, ``out/channels/board/<area>/``, atomically.

Idempotent per (notice, revision, board): the file has the same name; the e-mail the same
Message-ID; the print job a name made of the delivery key, and a repeated delivery that finds
its job in the queue's history does not print again. A withdrawal takes the earlier sheet out
of the folder; on paper, the 撤回公告 sheet tells the clerk which sheet to take down.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar

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
from channels.ipp import IppPrinter
from channels.smtp import mask_address, send
from pipeline.build import write_atomic
from pipeline.config import BoardChannel as Settings
from pipeline.config import BoardTarget, Config
from pipeline.errors import NoticecastError
from pipeline.model import Notice

EVENT_SUFFIX = {"publish": "", "correction": "-correction", "withdrawal": "-withdrawal",
                "expiry": "-expiry"}
EVENT_SUBJECT = {"publish": "请张贴", "correction": "更正，请替换", "withdrawal": "撤回，请揭下",
                 "expiry": "公示期满"}


def board_name(board: BoardTarget) -> str:
    return board.name or f"{board.area.replace('/', '')}公示栏"


def area_folder(area: str) -> str:
    """什邡市/师古镇/马祖村 -> 什邡市-师古镇-马祖村 (one folder per board)."""
    return area.replace("/", "-")


def job_name(delivery: Delivery) -> str:
    """The print job's name: the delivery key, ASCII (the board's area as a short hash)."""
    board = hashlib.sha256(delivery.target.key.encode()).hexdigest()[:8]
    return (f"noticecast {delivery.notice_id} r{delivery.revision} {delivery.event} "
            f"board-{board}")


def sheet_of(delivery: Delivery) -> tuple[Artifact, dict[str, object]]:
    """The sheet PDF of a delivery and its metadata."""
    by_name = {a.path.rsplit("/", 1)[-1]: a for a in delivery.artifacts if a.renderer == "board"}
    pdf = by_name.get("sheet.pdf")
    if pdf is None:
        raise PermanentError(f"{delivery.notice_id}: no board sheet to deliver; run "
                             "`noticecast build --only board` first")
    meta_file = by_name.get("sheet.json")
    return pdf, json.loads(meta_file.data) if meta_file else dict(pdf.meta)


class BoardChannel:
    name: ClassVar[str] = "board"
    delivery: ClassVar[DeliveryKind] = "idempotent"
    scope: ClassVar[Scope] = "notice"
    renderer: ClassVar[str] = "board"

    def __init__(self, settings: Settings, sink: Path, *, root: Path | None = None,
                 min_days: int = 10, user: str | None = None,
                 password: str | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.root = root or Path(".")
        self.min_days = min_days
        self._user = user
        self._password = password

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> BoardChannel:
        settings = config.channels.board
        for board in settings.boards:
            # A board whose area matches no notice would silently never get a sheet.
            known, wrong = config.area_known(board.area)
            if not known:
                raise NoticecastError(
                    f"channels.board.boards: area {board.area!r} is not in the configured "
                    f"regions ({wrong or board.area!r}); write it as a path of regions:, "
                    "e.g. 什邡市/师古镇/马祖村")
        return cls(settings, sink, root=config.root, min_days=config.rules.min_publicity_days,
                   user=Config.secret(settings.smtp_user_env),
                   password=Config.secret(settings.smtp_password_env))

    # -- targets: one per board ------------------------------------------------------------

    def targets(self, config: Config) -> list[Target]:
        return [self.target(board) for board in self.settings.boards]

    def target(self, board: BoardTarget) -> Target:
        name = board_name(board)
        if board.printer:
            address = {"area": board.area, "via": "printer", "printer": board.printer}
            label = f"{name} (printer)"
        elif board.email:
            address = {"area": board.area, "via": "email", "to": board.email,
                       "clerk": board.clerk}
            label = f"{name} ({board.clerk} {mask_address(board.email)})"
        else:
            folder = (self.root / board.folder if board.folder
                      else self.sink / area_folder(board.area))
            address = {"area": board.area, "via": "folder", "folder": str(folder)}
            label = f"{name} (folder)"
        return Target(self.name, board.area, {**address, "name": name}, label=label)

    def board_for(self, area: str) -> BoardTarget | None:
        return next((b for b in self.settings.boards if b.area == area), None)

    # -- which notices a board gets (asked by the publish plan) ----------------------------

    def accepts(self, notice: Notice, target: Target) -> bool:
        """A board carries the notices of its own area: 分配到哪里、公开到哪里."""
        return notice.area == target.address.get("area")

    def newsworthy(self, notice: Notice, today: date) -> bool:
        """A sheet is worth printing while it still has days to hang (not last year's)."""
        from pipeline.renderers.board_pack import carried_on

        return carried_on(notice, today, self.min_days)

    # -- delivering ------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> Receipt:
        sheet, meta = sheet_of(delivery)
        via = delivery.target.address.get("via", "folder")
        if via == "printer":
            return self._print(delivery, sheet.data)
        if via == "email":
            return self._mail(delivery, sheet, meta)
        return self._drop(delivery, sheet.data)

    def withdraw(self, receipt: Receipt) -> None:
        """Take the earlier sheet out of the board's folder; paper cannot be taken back (the
        撤回公告 sheet says which sheet to take down)."""
        folder = receipt.details.get("folder")
        for name in receipt.details.get("files", ()):
            if folder:
                path = Path(str(folder)) / str(name)
                if path.parent == Path(str(folder)):
                    path.unlink(missing_ok=True)

    def send_pack(self, board: BoardTarget, pdf: bytes, day: date) -> str:
        """Send a board's print pack the way its sheets go; returns where it went."""
        target = self.target(board)
        artifact = Artifact("board", f"packs/{day.isoformat()}.pdf", pdf, "application/pdf",
                            meta={"sheet": "pack", "title": f"公示栏张贴清单（{day.isoformat()}）"})
        delivery = Delivery(f"pack-{day.isoformat()}", 0, target, [artifact])
        via = target.address.get("via")
        if via == "printer":  # a pack is printed each time the clerk asks for it
            receipt = self._print(delivery, pdf, reuse=False)
        elif via == "email":
            receipt = self._mail(delivery, artifact, dict(artifact.meta))
        else:
            receipt = self._drop(delivery, pdf)
        return f"{target.label}: {receipt.remote_id}"

    def _stem(self, delivery: Delivery) -> str:
        suffix = EVENT_SUFFIX.get(delivery.event, f"-{delivery.event}")
        return f"{delivery.notice_id}-r{delivery.revision}{suffix}"

    def _drop(self, delivery: Delivery, pdf: bytes) -> Receipt:
        folder = Path(str(delivery.target.address.get("folder") or
                          self.sink / area_folder(delivery.target.key)))
        name = f"{self._stem(delivery)}.pdf"
        try:
            write_atomic(folder / name, pdf)
        except OSError as exc:
            raise TransientError(f"{delivery.notice_id}: cannot write to the board folder "
                                 f"{folder}: {exc.strerror or exc}") from None
        return Receipt(self.name, delivery.target.key, remote_id=name,
                       details={"via": "folder", "folder": str(folder), "files": [name],
                                "event": delivery.event})

    def _print(self, delivery: Delivery, pdf: bytes, *, reuse: bool = True) -> Receipt:
        printer = IppPrinter(str(delivery.target.address["printer"]),
                             timeout_s=self.settings.ipp_timeout_s)
        name = job_name(delivery)
        # A repeated delivery (a crash, a lost answer) finds its job and prints nothing: by
        # its name in the queue while CUPS still shows it (a finished job's name can vanish
        # from the queue's answer), and by the channel's own record of the jobs it sent.
        alive = {job.id: job for job in printer.jobs()
                 if job.state not in ("canceled", "aborted")} if reuse else {}
        earlier = [job.id for job in alive.values() if job.name == name]
        earlier += [job_id for job_id in self._printed(printer.uri).get(name, ())
                    if job_id in alive]
        if earlier:
            job_id = earlier[0]
        else:
            job_id = printer.print_pdf(pdf, name)
            self._record_print(printer.uri, name, job_id)
        return Receipt(self.name, delivery.target.key, remote_id=f"job {job_id}",
                       details={"via": "printer", "printer": printer.uri, "job_id": job_id,
                                "job_name": name, "reused": bool(earlier),
                                "event": delivery.event})

    def _print_log(self) -> Path:
        return self.sink / "printed.jsonl"

    def _printed(self, uri: str) -> dict[str, list[int]]:
        """The jobs this channel sent to ``uri``, by job name (from its own record)."""
        found: dict[str, list[int]] = {}
        try:
            lines = self._print_log().read_text("utf-8").splitlines()
        except OSError:
            return found
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                if entry["printer"] == uri:
                    found.setdefault(str(entry["name"]), []).append(int(entry["job_id"]))
        return found

    def _record_print(self, uri: str, name: str, job_id: int) -> None:
        line = json.dumps({"printer": uri, "name": name, "job_id": job_id}) + "\n"
        with contextlib.suppress(OSError):  # the queue's own answer still finds a live job
            self.sink.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._print_log(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def message(self, delivery: Delivery, sheet: Artifact, meta: dict[str, object],
                to: str) -> EmailMessage:
        """The e-mail to the clerk: what to post (or take down), and the sheet to print."""
        address = delivery.target.address
        title = str(meta.get("title") or delivery.notice_id)
        action = EVENT_SUBJECT.get(delivery.event, "请张贴")
        message = EmailMessage()
        message["Subject"] = f"【公示栏】{action}：{title}"
        message["From"] = self.settings.sender
        message["To"] = to
        message["Date"] = format_datetime(datetime.now(UTC))
        domain = self.settings.sender.rpartition("@")[2] or "localhost"
        # The same delivery always has the same Message-ID: a second copy is a duplicate.
        board = hashlib.sha256(delivery.target.key.encode()).hexdigest()[:8]
        message["Message-ID"] = (f"<{delivery.notice_id}.r{delivery.revision}."
                                 f"{delivery.event}.board-{board}@{domain}>")
        lines = [f"{address.get('clerk') or '同志'}：", "",
                 f"附件为《{title}》的公示栏张贴稿（{address.get('name')}）。"]
        if delivery.event == "correction":
            lines.append("这是更正公示：请揭下原公示，张贴本更正公示。")
        elif delivery.event == "withdrawal":
            lines.append("这是撤回公告：请揭下原公示，张贴本撤回公告。")
        if meta.get("publicity"):
            lines.append(f"公示期：{meta['publicity']}。公示期自张贴之日起计算，期满前请勿揭下。")
        lines += [f"纸张：{meta.get('paper', 'A4')}，共{meta.get('pages', 1)}页，请按原大打印。",
                  f"编号：{delivery.notice_id}（第{delivery.revision}版）", "",
                  "张贴后请回复本邮件告知张贴日期，以便登记。"]
        message.set_content("\n".join(lines) + "\n")
        message.add_attachment(sheet.data, maintype="application", subtype="pdf",
                               filename=f"{delivery.notice_id}-r{delivery.revision} {title}.pdf")
        return message

    def _mail(self, delivery: Delivery, sheet: Artifact, meta: dict[str, object]) -> Receipt:
        to = str(delivery.target.address["to"])
        message = self.message(delivery, sheet, meta, to)
        send(self.settings, message, to, delivery.notice_id, user=self._user,
             password=self._password)
        return Receipt(self.name, delivery.target.key, remote_id=str(message["Message-ID"]),
                       details={"via": "email", "event": delivery.event})
