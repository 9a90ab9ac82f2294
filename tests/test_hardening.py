"""Issue 24: bad notices, bad settings, special files, a full disk; each one located line, run
for real as subprocesses, and the good notices still built and published.

The corpora are tests/fixtures/hardening/notices/ and tests/fixtures/hardening/config/, each
with an EXPECTED.txt of the one located line each file must give.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "fixtures" / "hardening"
TODAY = "2018-07-08"


def noticecast(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("noticecast")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "pipeline"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def expected(folder: Path) -> dict[str, tuple[int, int, str]]:
    table = {}
    for row in (folder / "EXPECTED.txt").read_text("utf-8").splitlines():
        if row.strip() and not row.startswith("#"):
            name, line, col, message = row.split(":", 3)
            table[name] = (int(line), int(col), message.strip())
    return table


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "internal error" not in text, text


def test_every_bad_notice_is_one_located_line() -> None:
    folder = CORPUS / "notices"
    result = noticecast("check", str(folder), cwd=REPO)
    assert_clean(result)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    table = expected(folder)
    assert len(lines) == len(table), result.stdout
    for name, (line, col, message) in table.items():
        prefix = f"tests/fixtures/hardening/notices/{name}:{line}:{col}: "
        found = [entry for entry in lines if entry.startswith(prefix)]
        assert len(found) == 1 and message in found[0], (name, result.stdout)
    assert "1 valid" in result.stderr  # body-with-bidi-good.yaml: free text is escaped


@pytest.mark.parametrize("name", sorted(expected(CORPUS / "config")))
def test_every_bad_setting_is_one_located_line(tmp_path: Path, name: str) -> None:
    shutil.copy(CORPUS / "config" / name, tmp_path / "noticecast.yaml")
    result = noticecast("check", cwd=tmp_path)
    assert_clean(result)
    line, col, message = expected(CORPUS / "config")[name]
    assert result.returncode == 1
    # A wrong channel setting takes only that channel out of service, so the rest of the
    # config loads and check goes on (its other findings may follow); any other is alone.
    lines = [entry for entry in (result.stdout + result.stderr).splitlines()
             if entry.startswith("noticecast.yaml:")]
    assert len(lines) == 1 and lines[0].startswith(f"noticecast.yaml:{line}:{col}: "), lines
    assert message in lines[0]
    if not message.startswith("channels."):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_wrong_channel_setting_stops_that_channel_only(project: Path) -> None:
    config = project / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace(
        "    endpoint: null                  # set a signage/playout URL to push by HTTP",
        "    endpoint: http://127.0.0.1:99999/x"), "utf-8")
    result = noticecast("publish", "--today", TODAY, "--channel", "ticker", cwd=project)
    assert_clean(result)
    assert result.returncode == 1
    assert "noticecast.yaml:" in result.stderr and "has a port outside 1 to 65535" in \
        result.stderr
    assert "channel ticker: out of service until its settings are fixed" in result.stderr
    site = noticecast("publish", "--today", TODAY, "--channel", "site", cwd=project)
    assert site.returncode == 0, site.stderr
    assert (project / "out" / "channels" / "site").is_dir()


@pytest.fixture
def project(demo_project: Path) -> Path:
    return demo_project


def test_bad_notices_leave_the_good_ones_built_and_published(project: Path) -> None:
    for path in (CORPUS / "notices").glob("*.yaml"):
        shutil.copy(path, project / "content" / path.name)
    build = noticecast("build", "--only", "ticker", "--today", TODAY, cwd=project)
    assert_clean(build)
    assert build.returncode == 1
    assert "10 problem(s); the valid notices were built." in build.stderr
    assert (project / "out" / "ticker" / "sf-2018-0012").is_dir()  # a good demo notice
    assert (project / "out" / "ticker" / "body-with-bidi-good").is_dir()
    published = noticecast("publish", "--channel", "sms", "--today", TODAY, cwd=project)
    assert_clean(published)
    assert published.returncode == 1  # the bad files are reported...
    assert "publicity-end-year-9999.yaml:11:8:" in published.stderr
    assert list((project / "out" / "channels" / "sms").glob("*.json"))  # ...the rest went out


def test_special_files_in_content_are_refused_never_opened(project: Path) -> None:
    content = project / "content"
    os.mkfifo(content / "fifo.yaml")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(content / "sock.yaml"))
        (content / "device.yaml").symlink_to("/dev/zero")
        result = noticecast("check", cwd=project, timeout=60)  # a FIFO that is opened hangs
    assert_clean(result)
    assert result.returncode == 1
    lines = sorted(result.stdout.splitlines())
    assert lines == [
        "content/device.yaml: is a character device, not a regular file; only files may be "
        "read here, remove it or replace it by a file",
        "content/fifo.yaml: is a FIFO (named pipe), not a regular file; only files may be read "
        "here, remove it or replace it by a file",
        "content/sock.yaml: is a socket, not a regular file; only files may be read here, "
        "remove it or replace it by a file",
    ]


def test_new_with_an_overlong_id_says_so(project: Path) -> None:
    result = noticecast("new", "project_notice", "a" * 300, cwd=project)
    assert_clean(result)
    assert result.returncode == 1
    assert result.stderr.strip() == ("<command line>: id is 300 characters long, over the "
                                     "limit of 80; choose a shorter id, e.g. sf-2018-0012")


def test_a_missing_subscriber_list_warns_in_check_and_fails_publish(project: Path) -> None:
    (project / "subscribers.csv").unlink()
    check = noticecast("check", cwd=project)
    assert check.returncode == 0
    assert ("subscribers.csv: warning: the subscriber list configured in sms.subscribers does "
            "not exist") in check.stderr
    published = noticecast("publish", "--channel", "sms", "--today", TODAY, cwd=project)
    assert_clean(published)
    assert published.returncode == 1
    assert "subscribers.csv: the subscriber list configured in sms.subscribers does not " \
           "exist, so no SMS can be sent" in published.stderr
    config = project / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace(
        "  subscribers: subscribers.csv", "  subscribers: subscribers.csv\n"
        "  require_subscribers: false"), "utf-8")
    relaxed = noticecast("publish", "--channel", "sms", "--today", TODAY, cwd=project)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "warning: the subscriber list configured" in relaxed.stderr


def test_one_bad_subscriber_row_skips_only_that_row(project: Path) -> None:
    rows = (project / "subscribers.csv").read_text("utf-8").splitlines()
    rows.insert(2, "1380000bad,什邡市/师古镇/马祖村,坏行")
    (project / "subscribers.csv").write_text("\n".join(rows) + "\n", "utf-8")
    result = noticecast("publish", "--channel", "sms", "--today", TODAY, cwd=project)
    assert_clean(result)
    assert result.returncode == 1
    assert "subscribers.csv:3:1: ******* is not a Chinese mobile number" in result.stderr
    sent = [json.loads(p.read_text("utf-8"))["phone"]
            for p in (project / "out" / "channels" / "sms").glob("*.json")]
    assert "+8613800000001" in sent and "+8613800000002" in sent


# -- serve ---------------------------------------------------------------------------------------

def test_serve_answers_malformed_paths_and_stays_in_the_site(tmp_path: Path) -> None:
    import http.client

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>hi</p>", "utf-8")
    (tmp_path / "secret.txt").write_text("secret", "utf-8")
    (site / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (site / "up").symlink_to(tmp_path)
    script = Path(sys.executable).with_name("noticecast")
    server = subprocess.Popen([str(script), "serve", "--port", "0", "--dir", str(site)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        answers = {}
        for path in ("/", "/%00", "/../secret.txt", "/leak.txt", "/up/secret.txt",
                     "/" + "a" * 5000, "/%ff%fe", "/%2e%2e/secret.txt"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path)
            response = connection.getresponse()
            answers[path[:20]] = (response.status, b"secret" in response.read())
            connection.close()
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert answers == {"/": (200, False), "/%00": (400, False), "/../secret.txt": (404, False),
                       "/leak.txt": (404, False), "/up/secret.txt": (404, False),
                       "/" + "a" * 19: (400, False), "/%ff%fe": (400, False),
                       "/%2e%2e/secret.txt": (404, False)}
    assert "Traceback" not in errors


# -- import-feed ---------------------------------------------------------------------------------

class _Trickle(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        try:
            for _ in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def trickle() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()


def _limits(project: Path, text: str) -> None:
    config = project / "noticecast.yaml"
    config.write_text(config.read_text("utf-8") + f"\nimport_feed:\n{text}", "utf-8")


def test_import_feed_stops_at_its_deadline(project: Path, trickle: str) -> None:
    _limits(project, "  deadline_s: 2\n")
    started = time.monotonic()
    result = noticecast("import-feed", trickle, cwd=project)
    assert time.monotonic() - started < 20
    assert_clean(result)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"{trickle}: the feed took more than 2 s to download; try "
                                     "again later, or raise import_feed.deadline_s in "
                                     "noticecast.yaml")


def test_import_feed_refuses_a_feed_over_its_size_cap(project: Path) -> None:
    _limits(project, "  max_bytes: 1024\n")
    feed = project / "big.xml"
    feed.write_text("<rss version='2.0'><channel>" + " " * 4096 + "</channel></rss>", "utf-8")
    result = noticecast("import-feed", str(feed), cwd=project)
    assert_clean(result)
    assert result.returncode == 1
    assert "the feed is over the limit of 1,024 bytes" in result.stderr


def test_import_feed_never_drops_an_entry_whose_id_collides(project: Path) -> None:
    feed = REPO / "tests" / "fixtures" / "feeds"
    source = sorted(feed.glob("*.xml"))[0]
    first = noticecast("import-feed", str(source), cwd=project)
    assert first.returncode == 0, first.stderr
    folder = project / "content" / "imported"
    state = json.loads((folder / ".import-state.json").read_text("utf-8"))
    # Give every imported draft's id to another entry, as a hash collision of one day would.
    state["entries"] = {f"other-{key}": record for key, record in state["entries"].items()}
    (folder / ".import-state.json").write_text(json.dumps(state), "utf-8")
    again = noticecast("import-feed", str(source), cwd=project)
    assert_clean(again)
    written = [line for line in again.stdout.splitlines() if line.startswith("draft written")]
    assert len(written) == len(state["entries"])  # every entry got a draft of its own
    ids = [Path(line.split(": ", 1)[1]).stem for line in written]
    assert all(len(i.rsplit("-", 1)[1]) == 12 for i in ids), ids
    assert len({*ids, *(Path(r["file"]).stem for r in state["entries"].values())}) == \
        2 * len(ids)


# -- a full disk ----------------------------------------------------------------------------------

def test_new_on_a_full_disk_is_one_line_and_leaves_nothing(project: Path,
                                                           full_disk: Path) -> None:
    result = noticecast("new", "project_notice", "sf-2018-0999", "--dir",
                        str(full_disk / "folder"), cwd=project)
    assert_clean(result)
    assert result.returncode == 74  # EX_IOERR
    assert result.stderr.strip() == (
        f"error: {full_disk}/folder/sf-2018-0999.yaml: No space left on device: the disk is "
        "full; free some space and run the command again")
    assert not (full_disk / "folder" / "sf-2018-0999.yaml").exists()


def test_import_feed_on_a_full_disk_is_one_line(project: Path, full_disk: Path) -> None:
    source = sorted((REPO / "tests" / "fixtures" / "feeds").glob("*.xml"))[0]
    result = noticecast("import-feed", str(source), "--into", str(full_disk / "folder"),
                        cwd=project)
    assert_clean(result)
    assert result.returncode == 74
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {full_disk}/folder/imp-")
    assert lines[0].endswith("No space left on device: the disk is full; free some space and "
                             "run the command again")
    assert not list((full_disk / "folder").glob("*.tmp"))


def test_check_reads_from_a_full_disk(project: Path, full_disk: Path) -> None:
    shutil.move(str(project / "content"), str(project / "elsewhere"))
    result = noticecast("check", str(project / "elsewhere"), cwd=project)
    assert result.returncode == 0, result.stdout  # check writes nothing; a full disk is fine


def test_build_on_a_full_disk_is_one_line(project: Path, full_disk: Path) -> None:
    (project / "out").symlink_to(full_disk / "folder")
    result = noticecast("build", "--only", "web", "--today", TODAY, cwd=project)
    assert_clean(result)
    assert result.returncode == 74
    assert "the disk is full" in result.stderr
    assert not list((full_disk / "folder").rglob("*.tmp"))


def test_free_text_keeps_control_and_bidi_characters_visible_not_active() -> None:
    from pipeline.config import load_config
    from pipeline.load import parse_notice

    path = CORPUS / "notices" / "body-with-bidi-good.yaml"
    notice = parse_notice(path, load_config(REPO / "noticecast.yaml"), path.name)
    assert "现将[U+202E]马祖村[U+202C]" in notice.body
    assert "\t（附表）" in notice.body  # a tab is ordinary free text
    assert not any(ch in notice.body for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2069")


def test_the_widest_panel_builds_its_preview_within_a_memory_budget(project: Path) -> None:
    config = project / "noticecast.yaml"
    config.write_text(config.read_text("utf-8").replace(
        "  panel_width: 192", "  panel_width: 8192\n  preview_scale: 8").replace(
        "  panel_height: 16", "  panel_height: 32"), "utf-8")
    result = noticecast("build", "--only", "ticker", "--today", TODAY, cwd=project)
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    playlist = json.loads((project / "out" / "ticker" / "playlist.json").read_text("utf-8"))
    preview = playlist["preview"]
    assert preview["scale"] < 8
    assert preview["frames"] * 8192 * 32 * preview["scale"] ** 2 <= 128 * 1024 * 1024
