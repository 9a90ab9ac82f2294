"""What every channel is: something that delivers finished artifacts to a target.

Channels never render. ``deliver`` raises ``TransientError`` (retry later) or
``PermanentError`` (never retry); anything else it raises is treated as transient by the
publisher, because a delivery must never be lost to an unexpected exception.

``delivery`` tells the ledger what a crash in the middle of a call means:

* ``idempotent``: delivering twice is harmless (files, a playlist); a half-done delivery is
  simply repeated.
* ``at-most-once``: a duplicate reaches a person (SMS, Telegram); a half-done delivery becomes
  *in doubt* and waits for an operator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from pipeline.errors import DeliveryError, InDoubtError, PermanentError, TransientError
from pipeline.renderers.base import Artifact

if TYPE_CHECKING:
    from pipeline.config import Config

__all__ = [
    "Artifact",
    "Channel",
    "Delivery",
    "DeliveryError",
    "InDoubtError",
    "PermanentError",
    "Receipt",
    "Target",
    "TransientError",
    "close_channel",
]

DeliveryKind = Literal["idempotent", "at-most-once"]
Scope = Literal["notice", "collection", "digest"]
Event = Literal["publish", "correction", "withdrawal", "expiry"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: a chat, a subscriber's phone, an inbox, a web root.

    ``key`` is stable and part of the ledger's delivery key; it must not contain secrets or
    personal data in clear (an SMS target key is a hash of the phone, not the phone).
    ``address`` holds what the channel needs to reach it.
    """

    channel: str
    key: str
    address: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""  # for people: "@shifang_notices", "138****1234"


@dataclass(frozen=True)
class Receipt:
    """Proof of a delivery, stored in the ledger; enough to correct or withdraw it later."""

    channel: str
    target_key: str
    delivered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    remote_id: str | None = None  # message id, SMPP message_id, file path, HTTP id
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "target_key": self.target_key,
            "delivered_at": self.delivered_at.isoformat(),
            "remote_id": self.remote_id,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        return cls(
            channel=data["channel"],
            target_key=data["target_key"],
            delivered_at=datetime.fromisoformat(data["delivered_at"]),
            remote_id=data.get("remote_id"),
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True)
class Delivery:
    """One unit of work for a channel: the artifacts of a notice (or a digest) for a target.

    ``event`` says why: a first publication, a correction (a new revision, "更正"), a
    withdrawal ("撤回") or the end of the publicity period. ``previous`` is the receipt of the
    earlier delivery to the same target, when there was one (a correction replies to it, a
    withdrawal edits it). ``earlier`` holds the receipts of every earlier delivery of the
    notice to that target that reached it (a publication and any corrections), oldest first,
    so that a correction or a withdrawal can mark each of them; ``previous`` is the last.
    """

    notice_id: str
    revision: int
    target: Target
    artifacts: Sequence[Artifact]
    event: Event = "publish"
    previous: Receipt | None = None
    earlier: tuple[Receipt, ...] = ()


@runtime_checkable
class Channel(Protocol):
    """A delivery adapter.

    ``from_config`` builds the channel from the office's config; ``sink`` is the channel's
    local folder (``out/channels/<name>/``), used when no real transport is configured.

    A channel lives for one publish run: it is built once, delivers every batch of the run,
    and, if it has a ``close()`` method (optional, so it is not part of this protocol), is
    closed at the end of the run, whatever happened (``close_channel``). That is where a
    channel holding a session (an SMPP bind, an HTTP client) ends it; a channel opens what it
    needs lazily, on its first delivery, so a run with nothing to deliver connects to nothing.
    """

    name: ClassVar[str]
    delivery: ClassVar[DeliveryKind]
    # What one delivery carries: one notice's outputs ("notice": Telegram, newspaper), the
    # whole current build ("collection": the site, the ticker playlist) or a per-person digest
    # of several notices ("digest": SMS).
    scope: ClassVar[Scope]

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> Channel: ...

    def targets(self, config: Config) -> list[Target]:
        """Where this channel delivers by default (chats, endpoints, the web root)."""
        ...

    def deliver(self, delivery: Delivery) -> Receipt:
        """Deliver, or raise TransientError / PermanentError."""
        ...

    def withdraw(self, receipt: Receipt) -> None:
        """Take back what was delivered, where the channel can; else do nothing."""
        ...


def close_channel(channel: object) -> None:
    """Call a channel's optional ``close()`` at the end of a run; never raises, since every
    outcome of the run is recorded already and a failed goodbye changes none of them."""
    close = getattr(channel, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception as exc:  # a channel's bug in closing must not hide the run's report
        logging.getLogger("noticecast.publish").warning(
            "closing the %s channel failed: %s: %s", getattr(channel, "name", "?"),
            type(exc).__name__, exc)
