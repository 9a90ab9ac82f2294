"""The ticker channel: it delivers the current playlist to the LED controller or TV playout.

What it delivers is the ticker renderer's collection (``playlist.json``, ``strip.png``,
``preview.gif``, ``tv.html``). Delivering is idempotent: the playlist is the whole current state,
so sending it twice is harmless, and a notice leaves the screens when the next playlist no
longer names it (``withdraw`` has nothing to take back).

* **Folder** (default): the files go into the sink folder, each through a temporary file and a
  rename, the assets first and ``playlist.json`` last. A controller that watches
  ``playlist.json`` therefore never reads half a playlist, nor a playlist whose assets are
  not there yet.
* **HTTP push** (``channels.ticker.endpoint``, and any number of ``endpoints``): one multipart
  POST per endpoint with ``playlist.json`` and the assets that endpoint names (``assets``;
  by default only ``strip.png``: ``tv.html`` is for playout, and the preview GIF, megabytes
  long, is for people), with ``Authorization: Bearer <token>`` when the environment variable
  named by ``token_env`` is set. A timeout, a connection failure, a 5xx, 408 or 429 is
  transient (the publisher retries with backoff); any other 4xx is permanent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from channels.base import (
    Delivery,
    DeliveryKind,
    PermanentError,
    Receipt,
    Scope,
    Target,
    TransientError,
)
from channels.http import post, without_credentials
from pipeline.build import write_atomic
from pipeline.config import DEFAULT_TICKER_ASSETS, Config
from pipeline.renderers.base import Artifact

PLAYLIST = "playlist.json"
ASSETS = ("strip.png", "preview.gif", "tv.html")  # the folder gets them all


@dataclass(frozen=True)
class Endpoint:
    url: str
    assets: tuple[str, ...] = DEFAULT_TICKER_ASSETS
    token: str | None = None


@dataclass
class TickerChannel:
    name: ClassVar[str] = "ticker"
    delivery: ClassVar[DeliveryKind] = "idempotent"
    scope: ClassVar[Scope] = "collection"
    renderer: ClassVar[str] = "ticker"  # whose collection artifacts it delivers

    sink: Path
    endpoint: str | None = None
    token: str | None = None
    timeout_s: float = 10.0
    assets: tuple[str, ...] = DEFAULT_TICKER_ASSETS  # what ``endpoint`` is sent
    more: tuple[Endpoint, ...] = ()  # ``endpoints`` of the config
    # One client for the life of the channel: building one costs a TLS context (~0.3 s).
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> TickerChannel:
        settings = config.channels.ticker
        token = config.secret(settings.token_env)
        more = tuple(Endpoint(e.url, e.assets,
                              config.secret(e.token_env) if e.token_env else token)
                     for e in settings.endpoints)
        return cls(sink=sink, endpoint=settings.endpoint, token=token,
                   timeout_s=settings.timeout_s, assets=settings.assets, more=more)

    def _endpoints(self) -> list[Endpoint]:
        first = [Endpoint(self.endpoint, self.assets, self.token)] if self.endpoint else []
        return first + list(self.more)

    def targets(self, config: Config) -> list[Target]:
        endpoints = self._endpoints()
        if endpoints:
            # The token stays out of the target (it goes to the ledger); _push looks it up.
            return [Target(channel=self.name, key=f"http:{without_credentials(e.url)}",
                           address={"endpoint": e.url, "assets": list(e.assets)},
                           label=without_credentials(e.url)) for e in endpoints]
        return [Target(channel=self.name, key="folder", address={"folder": str(self.sink)},
                       label=str(self.sink))]

    def deliver(self, delivery: Delivery) -> Receipt:
        playlist, assets = _playlist_files(delivery.artifacts)
        endpoint = delivery.target.address.get("endpoint")
        if endpoint:
            wanted = delivery.target.address.get("assets", DEFAULT_TICKER_ASSETS)
            return self._push(str(endpoint), playlist, [a for a in assets if a.path in wanted],
                              delivery.target)
        folder = Path(delivery.target.address.get("folder") or self.sink)
        return self._drop(folder, playlist, assets, delivery.target)

    def withdraw(self, receipt: Receipt) -> None:
        # The playlist is the current state: a withdrawn notice is simply absent from the
        # next one. There is nothing to take back.
        return None

    # -- transports ------------------------------------------------------------------------

    def _drop(self, folder: Path, playlist: Artifact, assets: Sequence[Artifact],
              target: Target) -> Receipt:
        try:
            for artifact in (*assets, playlist):  # playlist.json last: it names the others
                write_atomic(folder / artifact.path, artifact.data)
        except OSError as exc:
            raise TransientError(f"ticker: cannot write the playlist into {folder}: "
                                 f"{exc.strerror or exc}") from None
        return Receipt(channel=self.name, target_key=target.key, remote_id=playlist.sha256,
                       details={"folder": str(folder),
                                "files": [a.path for a in (*assets, playlist)]})

    def _push(self, endpoint: str, playlist: Artifact, assets: Sequence[Artifact],
              target: Target) -> Receipt:
        shown = without_credentials(endpoint)
        files = [(Path(a.path).stem, (a.path, a.data, a.media_type))
                 for a in (playlist, *assets)]
        token = next((e.token for e in self._endpoints() if e.url == endpoint), self.token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = post(self._http(), endpoint, what="ticker: the playlist", files=files,
                        headers=headers)
        status = response.status_code
        return Receipt(channel=self.name, target_key=target.key,
                       remote_id=response.headers.get("X-Playlist-Id") or playlist.sha256,
                       details={"endpoint": shown, "status": status,
                                "files": [a.path for a in (playlist, *assets)]})


    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        return self._client


def _playlist_files(artifacts: Sequence[Artifact]) -> tuple[Artifact, list[Artifact]]:
    """playlist.json and the assets it names, from the delivery's artifacts."""
    by_path = {a.path: a for a in artifacts if a.renderer == "ticker"}
    playlist = by_path.get(PLAYLIST)
    if playlist is None:
        raise PermanentError("ticker: the delivery carries no playlist.json; run "
                             "`noticecast build` (the ticker renderer) first")
    return playlist, [by_path[name] for name in ASSETS if name in by_path]


