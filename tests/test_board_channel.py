"""The board channel: the folder, e-mail to the clerk against aiosmtpd, and a real CUPS with the
cups-pdf virtual printer on 127.0.0.1 (IPP)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from test_newspaper_channel import Mailroom, free_port, smtp_server  # noqa: F401

from channels.base import Delivery, PermanentError, TransientError
from channels.board import BoardChannel, job_name
from channels.ipp import IppPrinter
from pipeline.config import Config
from pipeline.errors import NoticecastError
from pipeline.model import Notice
from pipeline.project import Project
from pipeline.renderers.base import Artifact, RenderContext
from pipeline.renderers.board import BoardRenderer
from pipeline.renderers.board_pack import make_pack
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
MAZU = "什邡市/师古镇/马祖村"
CLERK = "wenshu@mazu.example"
CUPS_PDF_OUT = Path("/var/spool/cups-pdf/out")
QUEUE = "noticecast-pdf"


def demo_notice(notice_id: str = "sf-2018-0012") -> Notice:
    from pipeline.load import load_notices

    project = Project.open(REPO)
    loaded = load_notices((project.content_dir,), project.config, project.root)
    return next(n for n in loaded.notices if n.id == notice_id)


def context() -> RenderContext:
    return RenderContext(config=Project.open(REPO).config, today=date(2018, 7, 8),
                         templates=make_environment(template_dirs(REPO)))


@pytest.fixture(scope="module")
def sheet() -> list[Artifact]:
    return list(BoardRenderer().render([demo_notice()], context()))


def config(tmp_path: Path, **board: Any) -> Config:
    boards = [{"area": MAZU, "name": "马祖村村务公开栏", "clerk": "张秀英", **board},
              {"area": "什邡市/师古镇/宏达村", "clerk": "刘志刚"}]
    return Config(channels={"board": {"boards": boards}}, root=tmp_path)


def delivery(channel: BoardChannel, cfg: Config, artifacts: list[Artifact],
             event: str = "publish", revision: int = 1) -> Delivery:
    target = next(t for t in channel.targets(cfg) if t.key == MAZU)
    return Delivery("sf-2018-0012", revision, target, artifacts, event=event)  # type: ignore


# -- targets and the choice of notices -----------------------------------------------------------

def test_one_target_per_board_and_each_board_carries_its_own_area(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    targets = channel.targets(cfg)
    assert [t.key for t in targets] == [MAZU, "什邡市/师古镇/宏达村"]
    assert targets[0].label == "马祖村村务公开栏 (folder)"
    assert targets[1].address["name"] == "什邡市师古镇宏达村公示栏"
    mazu = demo_notice()
    assert channel.accepts(mazu, targets[0]) and not channel.accepts(mazu, targets[1])
    assert channel.accepts(demo_notice("sf-2018-0013"), targets[1])
    # A sheet is printed while it has days to hang, not after its period.
    assert channel.newsworthy(mazu, date(2018, 7, 8))
    assert not channel.newsworthy(mazu, date(2018, 8, 30))


def test_folder_is_the_default_idempotent_and_a_withdrawal_takes_the_sheet_out(
        tmp_path: Path, sheet: list[Artifact]) -> None:
    cfg = config(tmp_path)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    receipt = channel.deliver(delivery(channel, cfg, sheet))
    folder = tmp_path / "sink" / "什邡市-师古镇-马祖村"
    pdf = next(a for a in sheet if a.path.endswith("sheet.pdf")).data
    assert (folder / "sf-2018-0012-r1.pdf").read_bytes() == pdf
    again = channel.deliver(delivery(channel, cfg, sheet))
    assert again.details["files"] == receipt.details["files"]
    assert sorted(p.name for p in folder.iterdir()) == ["sf-2018-0012-r1.pdf"]
    channel.deliver(delivery(channel, cfg, sheet, "correction", revision=2))
    channel.withdraw(receipt)
    assert sorted(p.name for p in folder.iterdir()) == ["sf-2018-0012-r2-correction.pdf"]


def test_a_board_with_its_own_folder(tmp_path: Path, sheet: list[Artifact]) -> None:
    cfg = config(tmp_path, folder="boards/mazu")
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    channel.deliver(delivery(channel, cfg, sheet))
    assert (tmp_path / "boards" / "mazu" / "sf-2018-0012-r1.pdf").is_file()


def test_a_board_outside_the_regions_is_refused(tmp_path: Path) -> None:
    cfg = Config(regions={"什邡市": {"师古镇": ["马祖村"]}},
                 channels={"board": {"boards": [{"area": "什邡市/师古镇/马祖屯", "clerk": "张"}]}})
    with pytest.raises(NoticecastError, match="马祖屯"):
        BoardChannel.from_config(cfg, tmp_path)


def test_no_sheet_is_a_permanent_error(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    with pytest.raises(PermanentError, match="no board sheet"):
        channel.deliver(delivery(channel, cfg, []))


# -- e-mail to the clerk ------------------------------------------------------------------------

def test_email_to_the_clerk_carries_the_sheet(smtp_server: tuple[Mailroom, int],  # noqa: F811
                                              tmp_path: Path, sheet: list[Artifact]) -> None:
    mailroom, port = smtp_server
    cfg = Config(channels={"board": {
        "boards": [{"area": MAZU, "name": "马祖村村务公开栏", "clerk": "张秀英", "email": CLERK}],
        "smtp_host": "127.0.0.1", "smtp_port": port, "sender": "gongshi@office.example"}},
        root=tmp_path)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    [target] = channel.targets(cfg)
    assert CLERK not in target.label and "w***@mazu.example" in target.label
    first = channel.deliver(delivery(channel, cfg, sheet))
    second = channel.deliver(delivery(channel, cfg, sheet))  # a repeat: the same message
    assert first.remote_id == second.remote_id
    assert len(mailroom.received) == 2
    envelope = mailroom.received[0]
    assert envelope.rcpt_tos == [CLERK]
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "【公示栏】请张贴：师古镇马祖村产业道路硬化工程项目公示"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "张秀英" in body and "公示期：2018年7月4日至7月14日" in body
    [attachment] = list(message.iter_attachments())
    pdf = next(a for a in sheet if a.path.endswith("sheet.pdf")).data
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf
    assert not any((tmp_path / "sink").rglob("*.pdf"))  # mailed, not dropped


def test_email_refusals_are_classified(smtp_server: tuple[Mailroom, int],  # noqa: F811
                                       tmp_path: Path, sheet: list[Artifact]) -> None:
    mailroom, port = smtp_server
    mailroom.refuse[CLERK] = "550 5.1.1 no such user"
    cfg = Config(channels={"board": {
        "boards": [{"area": MAZU, "clerk": "张秀英", "email": CLERK}],
        "smtp_host": "127.0.0.1", "smtp_port": port}}, root=tmp_path)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    with pytest.raises(PermanentError, match="550"):
        channel.deliver(delivery(channel, cfg, sheet))
    mailroom.refuse[CLERK] = "450 4.2.1 mailbox busy"
    with pytest.raises(TransientError, match="450"):
        channel.deliver(delivery(channel, cfg, sheet))


# -- a real CUPS with the cups-pdf printer ----------------------------------------------------

@pytest.fixture(scope="module")
def printer() -> Iterator[str]:
    """The IPP URI of the cups-pdf queue; .ci/cups-pdf starts cupsd and adds it (as root)."""
    missing = [t for t in ("cupsd", "lpstat") if shutil.which(t) is None]
    if missing or not Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd").is_file():
        pytest.skip("CUPS with cups-pdf is not installed (Debian cups and "
                    "printer-driver-cups-pdf; .ci/system-deps --test installs them)")
    if os.geteuid() != 0 and subprocess.run(["lpstat", "-p", QUEUE],
                                            capture_output=True).returncode != 0:
        pytest.skip("the cups-pdf queue is not set up and setting it up needs root; run "
                    ".ci/cups-pdf as root")
    started = subprocess.run(["bash", str(REPO / ".ci" / "cups-pdf"), QUEUE],
                             capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"could not start CUPS: {started.stderr.strip()}")
    yield started.stdout.strip().splitlines()[-1]


def wait_for_job(uri: str, job_id: int, timeout_s: float = 60.0) -> Path:
    """The PDF cups-pdf wrote for ``job_id``, once the job is done."""
    deadline = time.monotonic() + timeout_s
    ipp = IppPrinter(uri)
    while time.monotonic() < deadline:
        state = next((j.state for j in ipp.jobs() if j.id == job_id), None)
        written = sorted(CUPS_PDF_OUT.glob(f"*job_{job_id}.pdf"))
        if state == "completed" and written:
            return written[-1]
        assert state not in ("aborted", "canceled"), state
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not complete in {timeout_s} s")


def page_sizes(pdf: Path) -> list[tuple[int, int]]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(pdf)], capture_output=True,
                          text=True, check=True).stdout
    return [(round(float(w)), round(float(h))) for w, h in
            re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)]


def renders(pdf: Path, folder: Path) -> list[Any]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / pdf.stem
    # ghostscript's Type 3 glyphs make pdftoppm warn about their bounding boxes: harmless.
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(pdf), str(prefix)],
                   check=True, capture_output=True)
    return [Image.open(p).convert("L") for p in sorted(folder.glob(f"{pdf.stem}-*.png"))]


def difference(a: Any, b: Any) -> float:
    """Mean grey difference of two page renders at thumbnail size: ghostscript (cups-pdf)
    redraws the glyphs, so pixels differ at their edges, while another page differs all over."""
    from PIL import Image, ImageChops, ImageStat

    size = (50, 70)
    a, b = a.resize(size, Image.Resampling.BOX), b.resize(size, Image.Resampling.BOX)
    return float(ImageStat.Stat(ImageChops.difference(a, b)).mean[0])


def test_the_pack_printed_through_cups_comes_out_with_the_same_pages(
        printer: str, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils is not installed")
    mazu = demo_notice()
    second = demo_notice("sf-2018-0013").model_copy(update={"area": MAZU})  # a correction
    pack = make_pack([mazu, second], MAZU, date(2018, 7, 8), context(),
                     board_name="马祖村村务公开栏", clerk="张秀英")
    assert pack.pages == 3  # the cover and two sheets
    cfg = config(tmp_path, printer=printer)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    board = channel.board_for(MAZU)
    assert board is not None
    sent = channel.send_pack(board, pack.pdf, date(2018, 7, 8))
    job_id = int(sent.rsplit("job ", 1)[1])
    printed = wait_for_job(printer, job_id)

    original = tmp_path / "pack.pdf"
    original.write_bytes(pack.pdf)
    assert page_sizes(printed) == page_sizes(original) == [(595, 842)] * 3
    before, after = renders(original, tmp_path / "a"), renders(printed, tmp_path / "b")
    assert len(before) == len(after) == 3
    for page, a in enumerate(before):
        same = difference(a, after[page])
        others = [difference(a, b) for other, b in enumerate(after) if other != page]
        assert same < 5 and same < min(others), (page, same, others)  # each page, in order


def test_a_repeated_print_delivery_finds_its_job_and_prints_nothing(
        printer: str, tmp_path: Path, sheet: list[Artifact]) -> None:
    cfg = config(tmp_path, printer=printer)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    # A key of its own for this run, so that an earlier run's job does not answer for it.
    stamp = str(time.time_ns())
    target = next(t for t in channel.targets(cfg) if t.key == MAZU)
    once = Delivery(f"sf-2018-0012-{stamp}", 1, target, sheet)
    first = channel.deliver(once)
    assert first.details["via"] == "printer" and not first.details["reused"]
    printed = wait_for_job(printer, first.details["job_id"])
    again = channel.deliver(once)
    assert again.details["reused"] and again.details["job_id"] == first.details["job_id"]
    names = [j.name for j in IppPrinter(printer).jobs()]
    assert names.count(job_name(once)) == 1
    assert page_sizes(printed) == [(595, 842)]


def test_an_unknown_queue_is_a_permanent_error_and_no_cups_a_transient_one(
        printer: str, tmp_path: Path, sheet: list[Artifact]) -> None:
    missing = printer.rsplit("/", 1)[0] + "/no-such-queue"
    cfg = config(tmp_path, printer=missing)
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    with pytest.raises(PermanentError, match="no-such-queue"):
        channel.deliver(delivery(channel, cfg, sheet))
    cfg = config(tmp_path, printer=f"ipp://127.0.0.1:{free_port()}/printers/{QUEUE}")
    channel = BoardChannel.from_config(cfg, tmp_path / "sink")
    with pytest.raises(TransientError, match="cannot reach the printer"):
        channel.deliver(delivery(channel, cfg, sheet))
