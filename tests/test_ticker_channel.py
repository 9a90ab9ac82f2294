"""The ticker channel: the playlist folder (atomic, playlist.json last) and HTTP push."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
from pathlib import Path

import pytest
from peers.http_recorder import HttpRecorder
from test_ticker import collection, context, make_notice, urgent

from channels.base import Delivery, PermanentError, Target, TransientError
from channels.ticker import TickerChannel
from pipeline.build import COLLECTION
from pipeline.config import Channels, Config
from pipeline.config import TickerChannel as TickerSettings
from pipeline.errors import InDoubtError
from pipeline.renderers.base import Artifact

TOKEN_ENV = "NOTICECAST_TEST_TICKER_TOKEN"


@pytest.fixture(scope="module")
def artifacts() -> list[Artifact]:
    return list(collection([make_notice(), urgent()], context()).values())


def config_for(endpoint: str | None = None, timeout_s: float = 5.0) -> Config:
    return Config(channels=Channels(ticker=TickerSettings(
        endpoint=endpoint, token_env=TOKEN_ENV, timeout_s=timeout_s)))


def delivery(channel: TickerChannel, config: Config, artifacts: list[Artifact]) -> Delivery:
    (target,) = channel.targets(config)
    return Delivery(notice_id=COLLECTION, revision=0, target=target, artifacts=artifacts)


def test_the_channel_says_what_it_is() -> None:
    assert (TickerChannel.name, TickerChannel.delivery, TickerChannel.scope) == (
        "ticker", "idempotent", "collection")


# -- the playlist folder ----------------------------------------------------------------------

def test_folder_delivery_writes_every_file_playlist_last(tmp_path: Path,
                                                         artifacts: list[Artifact]) -> None:
    config = config_for()
    sink = tmp_path / "channels" / "ticker"
    channel = TickerChannel.from_config(config, sink)
    (target,) = channel.targets(config)
    assert target == Target("ticker", "folder", {"folder": str(sink)}, str(sink))
    receipt = channel.deliver(delivery(channel, config, artifacts))
    names = ["strip.png", "preview.gif", "tv.html", "playlist.json"]
    assert receipt.details["files"] == names
    assert sorted(p.name for p in sink.iterdir()) == sorted(names)  # no temporary files left
    by_path = {a.path: a for a in artifacts}
    for name in names:
        assert (sink / name).read_bytes() == by_path[name].data
    # playlist.json is renamed into place after the assets it names.
    mtimes = {name: os.stat(sink / name).st_mtime_ns for name in names}
    assert mtimes["playlist.json"] >= max(mtimes.values())
    playlist = json.loads((sink / "playlist.json").read_text("utf-8"))
    assert receipt.remote_id == by_path["playlist.json"].sha256
    assert set(playlist["assets"]) == set(names[:3])


def test_folder_delivery_is_idempotent(tmp_path: Path, artifacts: list[Artifact]) -> None:
    config = config_for()
    channel = TickerChannel.from_config(config, tmp_path)
    first = channel.deliver(delivery(channel, config, artifacts))
    second = channel.deliver(delivery(channel, config, artifacts))
    assert first.remote_id == second.remote_id
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(first.details["files"])


def test_a_delivery_without_a_playlist_is_permanent(tmp_path: Path,
                                                    artifacts: list[Artifact]) -> None:
    config = config_for()
    channel = TickerChannel.from_config(config, tmp_path)
    assets_only = [a for a in artifacts if a.path != "playlist.json"]
    with pytest.raises(PermanentError, match=r"no playlist\.json"):
        channel.deliver(delivery(channel, config, assets_only))
    assert not list(tmp_path.iterdir())


# -- HTTP push --------------------------------------------------------------------------------

def parts_of(body: bytes, content_type: str) -> dict[str, tuple[str, bytes]]:
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP)
    return {part.get_param("name", header="content-disposition"):
            (part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_parts()}


def test_push_retries_after_a_503_and_then_succeeds(artifacts: list[Artifact],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    with HttpRecorder() as server:
        server.script = [(503, {"Retry-After": "7"}, b"busy"),
                         (200, {"Content-Type": "application/json", "X-Playlist-Id": "pl-42"},
                          b"{}")]
        config = config_for(server.url("/signage/playlist?site=1"))
        channel = TickerChannel.from_config(config, tmp_path)
        (target,) = channel.targets(config)
        assert target.key == f"http:http://127.0.0.1:{server.port}/signage/playlist"
        with pytest.raises(TransientError, match="answered 503") as failure:
            channel.deliver(delivery(channel, config, artifacts))
        assert failure.value.retry_after == 7.0
        # The publisher retries with backoff; here the retry is simply the next call.
        receipt = channel.deliver(delivery(channel, config, artifacts))
    assert receipt.remote_id == "pl-42"
    assert len(server.requests) == 2
    request = server.requests[-1]
    assert request.method == "POST" and request.path == "/signage/playlist?site=1"
    assert request.headers["Authorization"] == "Bearer s3cret-token"
    parts = parts_of(request.body, request.headers["Content-Type"])
    by_path = {a.path: a for a in artifacts}
    assert parts["playlist"] == ("playlist.json", by_path["playlist.json"].data)
    # By default a sign gets the playlist and its strip; the GIF is for people.
    assert set(parts) == {"playlist", "strip"}
    assert parts["strip"] == ("strip.png", by_path["strip.png"].data)
    assert "s3cret" not in json.dumps(receipt.as_dict())
    assert not list(tmp_path.iterdir()), "an HTTP push writes nothing locally"


def test_each_endpoint_gets_the_assets_it_names(artifacts: list[Artifact],
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    monkeypatch.setenv("NC_TEST_PLAYOUT_TOKEN", "playout-token")
    with HttpRecorder() as led, HttpRecorder() as playout:
        config = Config(channels=Channels(ticker=TickerSettings(
            endpoint=led.url("/led"), token_env=TOKEN_ENV, endpoints=(
                {"url": playout.url("/casparcg"), "assets": ["tv.html"],
                 "token_env": "NC_TEST_PLAYOUT_TOKEN"},))))
        channel = TickerChannel.from_config(config, tmp_path)
        targets = channel.targets(config)
        assert [t.label for t in targets] == [led.url("/led"), playout.url("/casparcg")]
        for target in targets:
            channel.deliver(Delivery(COLLECTION, 0, target, artifacts))
    led_parts = parts_of(led.requests[0].body, led.requests[0].headers["Content-Type"])
    playout_parts = parts_of(playout.requests[0].body,
                             playout.requests[0].headers["Content-Type"])
    assert set(led_parts) == {"playlist", "strip"}
    assert set(playout_parts) == {"playlist", "tv"}
    assert led.requests[0].headers["Authorization"] == "Bearer s3cret-token"
    assert playout.requests[0].headers["Authorization"] == "Bearer playout-token"
    sizes = {a.path: len(a.data) for a in artifacts}
    assert len(led.requests[0].body) < sizes["preview.gif"]  # the GIF stayed at home
    for target in targets:
        assert "token" not in json.dumps(dict(target.address))


def test_an_unknown_asset_name_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    from pipeline.config import load_config

    path = tmp_path / "noticecast.yaml"
    path.write_text("channels:\n  ticker:\n    endpoint: http://127.0.0.1:9/x\n"
                    "    assets: [strip.png, video.mp4]\n", "utf-8")
    # The ticker is out of service, with the located reason; the rest of the office publishes.
    problems = load_config(path).broken_channels["ticker"]
    assert any("assets" in str(p) for p in problems), problems


def test_a_400_is_permanent(artifacts: list[Artifact], tmp_path: Path) -> None:
    with HttpRecorder() as server:
        server.script = [(400, {"Content-Type": "text/plain"}, b"unknown screen id")]
        config = config_for(server.url("/push"))
        channel = TickerChannel.from_config(config, tmp_path)
        with pytest.raises(PermanentError, match=r"refused it with 400.*unknown screen"):
            channel.deliver(delivery(channel, config, artifacts))
    assert len(server.requests) == 1
    assert "Authorization" not in server.requests[0].headers  # no token set, none sent


def test_a_timeout_is_transient(artifacts: list[Artifact], tmp_path: Path) -> None:
    with HttpRecorder(delay_s=1.0) as server:
        config = config_for(server.url("/push"), timeout_s=0.2)
        channel = TickerChannel.from_config(config, tmp_path)
        # Sent but unanswered: the publisher retries it, the channel being idempotent.
        with pytest.raises(InDoubtError, match=r"did not answer within 0\.2 s"):
            channel.deliver(delivery(channel, config, artifacts))


def test_a_refused_connection_is_transient(artifacts: list[Artifact], tmp_path: Path) -> None:
    with HttpRecorder() as server:
        url = server.url("/push")
    config = config_for(url)  # the server has stopped: nothing listens there any more
    channel = TickerChannel.from_config(config, tmp_path)
    with pytest.raises(TransientError, match="cannot reach"):
        channel.deliver(delivery(channel, config, artifacts))


def test_withdraw_has_nothing_to_take_back(tmp_path: Path, artifacts: list[Artifact]) -> None:
    config = config_for()
    channel = TickerChannel.from_config(config, tmp_path)
    receipt = channel.deliver(delivery(channel, config, artifacts))
    channel.withdraw(receipt)
    assert (tmp_path / "playlist.json").exists()


# -- through the real publisher ---------------------------------------------------------------

def test_the_publisher_retries_a_503_push_and_never_a_400(demo_project: Path) -> None:
    from datetime import datetime, timedelta

    from pipeline.project import Project
    from pipeline.publish import PublishOptions, publish

    config_file = demo_project / "noticecast.yaml"
    original = config_file.read_text("utf-8")
    first_run = datetime.fromisoformat("2018-07-08T10:00:00+08:00")
    with HttpRecorder() as server:
        config_file.write_text(original.replace(
            "endpoint: null", f"endpoint: {server.url('/playlist')}"), "utf-8")
        server.script = [(503, {"Retry-After": "60"}, b"busy")]
        report = publish(Project.open(demo_project, None),
                         PublishOptions(now=first_run, channel="ticker"))
        assert report.tally("ticker").calls == 1
        assert report.tally("ticker").retried > 0 and report.tally("ticker").delivered == 0
        # Later, after the backoff, the same keys go again and the push succeeds.
        report = publish(Project.open(demo_project, None),
                         PublishOptions(now=first_run + timedelta(hours=1), channel="ticker"))
        assert report.tally("ticker").delivered > 0 and report.tally("ticker").failed == 0
        assert len(server.requests) == 2
        assert b'"playlist.json"' in server.requests[-1].body
    shutil.rmtree(demo_project / ".noticecast")  # a fresh ledger: the same keys, anew
    with HttpRecorder() as server:
        config_file.write_text(original.replace(
            "endpoint: null", f"endpoint: {server.url('/playlist')}"), "utf-8")
        server.script = [(400, {}, b"bad playlist")]
        report = publish(Project.open(demo_project, None),
                         PublishOptions(now=first_run, channel="ticker"))
        assert report.tally("ticker").failed > 0 and report.tally("ticker").retried == 0
        later = publish(Project.open(demo_project, None),
                        PublishOptions(now=first_run + timedelta(hours=2), channel="ticker"))
        assert later.tally("ticker").failed == 0 and later.tally("ticker").delivered == 0
        assert len(server.requests) == 1  # a 400 is never retried
