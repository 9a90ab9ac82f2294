"""The README's nginx server block serves the site channel's swapped web root at once.

Debian's nginx runs on 127.0.0.1 with the server block copied out of README.md; the site
channel swaps a new version in; the next request gets it. The same server with nginx's
``open_file_cache`` on keeps serving the old version, which is why the README says to leave
it off.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from channels.base import Delivery, Target
from channels.site import SiteChannel

REPO = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).is_file()), None)

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian package 'nginx-light'; "
                          ".ci/system-deps --test installs it)")


def readme_server_block() -> str:
    text = (REPO / "README.md").read_text("utf-8")
    found = re.search(r"<!-- nginx-site-block -->\s*```nginx\n(.*?)```", text, re.S)
    assert found, "README.md lost its nginx server block"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def nginx(work: Path, web_root: Path, *, cache: bool = False) -> Iterator[str]:
    port = free_port()
    block = readme_server_block()
    block = re.sub(r"^(\s*)listen \d+;", rf"\g<1>listen 127.0.0.1:{port};", block, flags=re.M)
    block = re.sub(r"^(\s*)root [^;]+;", rf"\g<1>root {web_root};", block, flags=re.M)
    assert ("open_file_cache off;" in block) and str(web_root) in block
    if cache:
        block = block.replace("open_file_cache off;",
                              "open_file_cache max=100 inactive=60s; "
                              "open_file_cache_valid 60s;")
    temp = "".join(f"{name}_temp_path {work / name};\n"
                   for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config = work / "nginx.conf"
    config.write_text(
        f"daemon off;\nmaster_process off;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\naccess_log off;\n{temp}types {{ text/html html; }}\n{block}}}\n", "utf-8")
    process = subprocess.Popen([str(NGINX), "-p", str(work), "-c", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"nginx did not start: {output}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def deliver(channel: SiteChannel, source: Path, text: str) -> None:
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    (source / "index.html").write_text(f"<!DOCTYPE html><title>{text}</title><p>{text}</p>",
                                       "utf-8")
    target = Target("site", "web_root", {"web_root": str(channel.web_root),
                                         "source_dir": str(source)})
    channel.deliver(Delivery("*", 0, target, []))


@pytest.mark.parametrize(("cache", "after_swap"), [(False, "第二版"), (True, "第一版")])
def test_the_readme_block_serves_the_new_tree_right_after_a_swap(
        tmp_path: Path, cache: bool, after_swap: str) -> None:
    channel = SiteChannel(web_root=tmp_path / "site", source_dir=tmp_path / "build")
    deliver(channel, tmp_path / "build", "第一版")
    work = tmp_path / "nginx"
    work.mkdir()
    with nginx(work, channel.web_root, cache=cache) as url, httpx.Client() as client:
        for _ in range(3):  # read, as readers do, until nginx has it in any cache it keeps
            first = client.get(url)
            assert first.status_code == 200 and "第一版" in first.text
        assert "charset=utf-8" in first.headers["Content-Type"]
        deliver(channel, tmp_path / "build", "第二版")
        assert after_swap in client.get(url).text
        assert after_swap in client.get(url + "index.html").text
    if cache:  # the reason for `open_file_cache off`: the old tree, still served
        assert (tmp_path / "site.previous" / "index.html").read_text("utf-8").count("第一版")
