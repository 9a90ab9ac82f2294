"""The site channel: atomic publication of the built site, one-step rollback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_web_support import announcement, build_web, make_project, notice, site_of, write_notice

from channels.base import Delivery
from channels.site import SiteChannel, tree_digest
from pipeline.errors import PermanentError
from pipeline.project import Project
from pipeline.renderers.base import Artifact


def channel_for(root: Path) -> tuple[SiteChannel, Delivery]:
    project = Project.open(root)
    channel = SiteChannel.from_config(project.config, root / "out" / "channels" / "site")
    [target] = channel.targets(project.config)
    return channel, Delivery(notice_id="*", revision=1, target=target, artifacts=())


def test_target_and_defaults(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    channel, delivery = channel_for(root)
    assert SiteChannel.delivery == "idempotent" and SiteChannel.scope == "collection"
    assert delivery.target.key == "web_root"
    assert channel.web_root == (root / "out" / "channels" / "site").resolve()
    assert delivery.target.address["source_dir"] == str((root / "out" / "web").resolve())


def test_publish_swap_and_rollback(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    channel, delivery = channel_for(root)
    receipt = channel.deliver(delivery)
    web_root = channel.web_root
    assert (web_root / "notices" / "sf-2018-0012" / "index.html").is_file()
    assert receipt.details["tree"] == tree_digest(site_of(root))
    assert not channel.previous_root.exists()
    # Idempotent: the same build again gives the same web root.
    assert channel.deliver(delivery).details["tree"] == receipt.details["tree"]

    # A second version: the first is kept as <root>.previous.
    write_notice(root, announcement("sf-2018-0300"))
    build_web(root)
    second = channel.deliver(delivery)
    assert (web_root / "notices" / "sf-2018-0300" / "index.html").is_file()
    assert channel.previous_root.is_dir()
    assert not (channel.previous_root / "notices" / "sf-2018-0300").exists()
    assert second.details["tree"] != receipt.details["tree"]
    assert [p.name for p in web_root.parent.iterdir() if p.name.startswith(".")] == []

    channel.rollback()
    assert not (web_root / "notices" / "sf-2018-0300").exists()
    assert tree_digest(web_root) == receipt.details["tree"]
    channel.rollback()  # and forward again
    assert (web_root / "notices" / "sf-2018-0300" / "index.html").is_file()


def test_readers_never_see_a_missing_or_half_site(tmp_path: Path) -> None:
    """While versions are swapped in a loop, the home page is always there and whole."""
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    channel, delivery = channel_for(root)
    channel.deliver(delivery)
    home = channel.web_root / "index.html"
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                text = home.read_text("utf-8")
            except OSError as exc:
                failures.append(str(exc))
                continue
            if not text.rstrip().endswith("</html>"):
                failures.append("half a page")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(15):
            channel.deliver(delivery)
    finally:
        stop.set()
        thread.join()
    assert failures == []


def test_rollback_without_previous_is_a_clear_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    channel, _ = channel_for(root)
    with pytest.raises(PermanentError, match="nothing to roll back"):
        channel.rollback()


def test_unbuilt_site_is_a_permanent_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    channel, delivery = channel_for(root)
    with pytest.raises(PermanentError, match="run `noticecast build"):
        channel.deliver(delivery)


def test_configured_web_root_and_artifacts_fallback(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    with (root / "noticecast.yaml").open("a", encoding="utf-8") as handle:
        handle.write("channels:\n  site:\n    web_root: public/www\n")
    channel, delivery = channel_for(root)
    assert channel.web_root == (root / "public" / "www").resolve()
    artifacts = (Artifact("web", "index.html", b"<!DOCTYPE html><html></html>", "text/html"),
                 Artifact("web", "notices/x/index.html", b"x", "text/html", "x", 1))
    target = delivery.target.__class__(
        channel="site", key="web_root", address={"web_root": str(channel.web_root)})
    channel.source_dir = tmp_path / "nowhere"
    receipt = channel.deliver(Delivery("*", 1, target, artifacts))
    assert receipt.details["files"] == 2
    assert (channel.web_root / "notices" / "x" / "index.html").read_bytes() == b"x"
