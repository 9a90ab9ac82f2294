"""Small, real channels for the publish tests: each records what reaches it on disk.

They run inside `noticecast publish` subprocesses (see ``peers.publish_cli``), so everything
they know goes through files under their sink folder (``out/channels/<name>/``):

* ``targets.json``  (optional) the target keys, default ``["inbox"]`` or ``["alice", "bob"]``;
* ``faults.json``   (optional) ``{"<notice>" or "<notice>/<target>": ["transient",
  "transient:120", "permanent", "boom"]}``: the next calls for that notice (or that notice to
  that target) raise these, one per call (``transient:N`` has ``retry_after`` N s, ``boom`` is
  an unexpected RuntimeError);
* ``calls.log``     one line per call, written when the call starts (the kill test's clock);
* what "arrived": ``inbox/`` files (file channel), ``received.log`` (at-most-once channel, the
  person's phone), the HTTP peer's request list (HTTP channel), ``swaps.log`` (collection).

``NOTICECAST_TEST_DELAY_MS`` makes every call sleep before and after its effect, so that a
SIGKILL can land between the effect and the ledger's record of it; ``NOTICECAST_TEST_GATE``
(a path) holds every call until that file exists, to keep a run (and its lock) alive.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from channels.base import Delivery, Receipt, Target
from pipeline.build import write_atomic
from pipeline.config import Config
from pipeline.errors import InDoubtError, PermanentError, TransientError


def _wait_for_gate() -> None:
    """With ``NOTICECAST_TEST_GATE`` set, hold every call until that file exists."""
    gate = os.environ.get("NOTICECAST_TEST_GATE")
    deadline = time.monotonic() + 60
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.005)


def _pause() -> None:
    delay = float(os.environ.get("NOTICECAST_TEST_DELAY_MS") or 0) / 1000
    if delay:
        time.sleep(delay)


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one write: a kill never leaves half a line
    finally:
        os.close(fd)


class _Recording:
    name: ClassVar[str] = ""
    delivery: ClassVar[str] = "idempotent"
    scope: ClassVar[str] = "notice"
    renderer: ClassVar[str | None] = None
    default_targets: ClassVar[tuple[str, ...]] = ("inbox",)

    def __init__(self, sink: Path) -> None:
        self.sink = sink

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> Any:
        return cls(sink)

    def targets(self, config: Config) -> list[Target]:
        listed = self.sink / "targets.json"
        keys = json.loads(listed.read_text()) if listed.is_file() else self.default_targets
        return [Target(channel=self.name, key=k, label=f"<{k}>") for k in keys]

    def deliver(self, delivery: Delivery) -> Receipt:
        _append(self.sink / "calls.log", json.dumps(_describe(delivery)))
        self._fault(delivery.notice_id, delivery.target.key)
        _wait_for_gate()
        _pause()
        remote = self.effect(delivery)
        _pause()
        return Receipt(channel=self.name, target_key=delivery.target.key, remote_id=remote,
                       details={"event": delivery.event})

    def withdraw(self, receipt: Receipt) -> None:
        _append(self.sink / "withdrawn.log", json.dumps(receipt.as_dict()))

    def effect(self, delivery: Delivery) -> str:
        raise NotImplementedError

    def _fault(self, notice_id: str, target: str) -> None:
        path = self.sink / "faults.json"
        if not path.is_file():
            return
        faults = json.loads(path.read_text())
        queue = faults.get(f"{notice_id}/{target}") or faults.get(notice_id) or []
        if not queue:
            return
        fault = queue.pop(0)
        write_atomic(path, json.dumps(faults).encode())
        kind, _, after = fault.partition(":")
        if kind == "transient":
            raise TransientError("gateway busy", retry_after=float(after) if after else None)
        if kind == "permanent":
            raise PermanentError("unknown recipient")
        if kind == "indoubt":
            raise InDoubtError("timed out after the request went out")
        raise RuntimeError("the adapter tripped over something")


def _describe(delivery: Delivery) -> dict[str, Any]:
    return {"notice": delivery.notice_id, "revision": delivery.revision,
            "event": delivery.event, "target": delivery.target.key,
            "previous": delivery.previous.remote_id if delivery.previous else None}


class FileChannel(_Recording):
    """Idempotent: one file per delivery in ``inbox/``; writing it twice changes nothing."""

    name: ClassVar[str] = "tfile"

    def effect(self, delivery: Delivery) -> str:
        d = _describe(delivery)
        path = (self.sink / "inbox" /
                f"{d['notice']}.{d['revision']}.{d['event']}.{d['target']}.json")
        write_atomic(path, json.dumps(d).encode())
        return path.name


class OnceChannel(_Recording):
    """At-most-once: each call appends a line to ``received.log``, like a text to a phone."""

    name: ClassVar[str] = "tonce"
    delivery: ClassVar[str] = "at-most-once"
    default_targets: ClassVar[tuple[str, ...]] = ("alice", "bob")

    def effect(self, delivery: Delivery) -> str:
        _append(self.sink / "received.log", json.dumps(_describe(delivery)))
        return f"{delivery.notice_id}/{delivery.target.key}/{delivery.revision}"


class HttpChannel(_Recording):
    """Idempotent, over loopback HTTP to an HttpRecorder: the URL in ``endpoint.txt`` or in
    ``NOTICECAST_TEST_HTTP_URL``."""

    name: ClassVar[str] = "thttp"

    def effect(self, delivery: Delivery) -> str:
        body = json.dumps(_describe(delivery)).encode()
        endpoint = self.sink / "endpoint.txt"
        url = (endpoint.read_text().strip() if endpoint.is_file()
               else os.environ["NOTICECAST_TEST_HTTP_URL"])
        request = urllib.request.Request(
            url, data=body, method="PUT",
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"HTTP {exc.code}") from None
            raise PermanentError(f"HTTP {exc.code}") from None
        except OSError as exc:
            raise TransientError(f"cannot reach the endpoint: {exc}") from None
        return delivery.notice_id


class CollectionChannel(_Recording):
    """A collection channel (like the ticker playlist): one call covers every due notice."""

    name: ClassVar[str] = "tcoll"
    scope: ClassVar[str] = "collection"

    def effect(self, delivery: Delivery) -> str:
        _append(self.sink / "swaps.log", json.dumps(_describe(delivery)))
        return "swap"


class RenderedChannel(OnceChannel):
    """At-most-once, carrying built outputs (the SMS renderer's per-notice ``sms.json``):
    ``received.log`` records the sha256 of each artifact that arrived."""

    name: ClassVar[str] = "trender"
    renderer: ClassVar[str | None] = "sms"
    default_targets: ClassVar[tuple[str, ...]] = ("alice",)

    def effect(self, delivery: Delivery) -> str:
        line = {**_describe(delivery),
                "artifacts": {a.path: a.sha256 for a in delivery.artifacts}}
        _append(self.sink / "received.log", json.dumps(line))
        return f"{delivery.notice_id}/{delivery.target.key}/{delivery.revision}"


TEST_CHANNELS = {
    "trender": "peers.fault_channels:RenderedChannel",
    "tfile": "peers.fault_channels:FileChannel",
    "tonce": "peers.fault_channels:OnceChannel",
    "thttp": "peers.fault_channels:HttpChannel",
    "tcoll": "peers.fault_channels:CollectionChannel",
}


def register() -> None:
    """Register the test channels for good (in a `noticecast` subprocess)."""
    from pipeline import registry

    for name, target in TEST_CHANNELS.items():
        registry.add_channel(name, target)


@contextmanager
def registered_channels() -> Iterator[None]:
    """The test channels, registered only for the ``with`` block (in the test process, so
    that other tests never see them)."""
    from pipeline import registry

    added = [name for name in TEST_CHANNELS if name not in registry.CHANNELS]
    for name in added:
        registry.add_channel(name, TEST_CHANNELS[name])
    try:
        yield
    finally:
        for name in added:
            registry.CHANNELS.pop(name, None)
