"""`noticecast serve`: the built site on 127.0.0.1 only."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_web_support import build_web, make_project, notice, serving, site_of

from pipeline.commands.web import make_server, normal_prefix

NOTICECAST = [sys.executable, "-c", "from pipeline.cli import main; main()"]


def test_server_binds_loopback_only(tmp_path: Path) -> None:
    server = make_server(tmp_path, 0, quiet=True)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_prefix_normalisation() -> None:
    assert normal_prefix("") == normal_prefix("/") == ""
    assert normal_prefix("gongshi") == normal_prefix("/gongshi/") == "/gongshi/"
    assert normal_prefix("/a/../b") == "/b/"


def test_prefix_serves_only_under_it(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    with serving(site_of(root), prefix="/gongshi/") as base:
        assert urllib.request.urlopen(base + "notices/sf-2018-0012/").status == 200
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(base.replace("/gongshi/", "/") + "index.html")
        assert caught.value.code == 404


def test_serve_command(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    process = subprocess.Popen(
        [*NOTICECAST, "-C", str(root), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Serving out/web at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "notices/sf-2018-0012/") as response:
            assert "马祖村" in response.read().decode("utf-8")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_without_a_build_is_one_clear_line(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    result = subprocess.run(
        [*NOTICECAST, "-C", str(root), "serve", "--port", "0"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("no built site here; run `noticecast build --only "
                                          "web` first")
    assert "Traceback" not in result.stderr
