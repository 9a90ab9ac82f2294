"""The SMS channel: one digest text per subscriber, at most once.

The publisher composes each subscriber's digest (``pipeline.renderers.sms.compose_digest``) and
hands it over as one JSON artifact ``{"digest_id", "parts", "notice_ids"}``; this channel only
sends those parts, cut by us, through one of three transports:

* ``outbox`` (the default, and the fallback whenever a secret is not set): one JSON file per
  message under ``out/channels/sms/``, ``{"phone", "parts", "digest_id"}``, written atomically;
* ``smpp``: SMPP 3.4 through smpplib (``channels.smpp``);
* ``http``: a JSON POST to an SMS gateway (``channels.sms_http``).

A text that was sent cannot be taken back: ``withdraw`` does nothing, and the publisher sends a
【撤回】 item in the next digest instead. Phones never appear in receipts (the target key is a
hash) nor in logs and errors (masked).

What comes back (handset receipts, replies) is kept with the ledger by ``channels.sms_inbox``.
A phone that replied with an opt-out word is no longer a target, and ``deliver`` refuses it
too (a reply may arrive in the middle of a run). ``close`` ends the run's SMPP session.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from channels.base import Delivery, DeliveryKind, Receipt, Scope, Target
from channels.sms_inbox import SmsInbox
from pipeline.build import write_atomic
from pipeline.config import Config
from pipeline.errors import PermanentError, Problem
from pipeline.renderers.sms_segment import LIMITS, encoding_of, units_of
from pipeline.subscribers import (
    SubscriberScan,
    configured_subscribers,
    mask_phone,
    normalise_phone,
)

log = logging.getLogger("noticecast.sms")


class SmsTransport(Protocol):
    name: str

    def send(self, phone: str, parts: Sequence[str], digest_id: str,
             reference_key: str) -> tuple[str, dict[str, Any]]:
        """Send the parts as one (concatenated) message; returns (remote id, details)."""
        ...


@dataclass
class OutboxTransport:
    """One JSON file per message in the sink folder, for the demo and for inspection."""

    folder: Path
    name: str = "outbox"

    def send(self, phone: str, parts: Sequence[str], digest_id: str,
             reference_key: str) -> tuple[str, dict[str, Any]]:
        file_name = f"{digest_id}.{reference_key}.json"  # no phone in a file name
        data = {"phone": phone, "parts": list(parts), "digest_id": digest_id}
        write_atomic(self.folder / file_name,
                     (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode())
        log.info("sms: %d part(s) of %s written to the outbox for %s", len(parts), digest_id,
                 mask_phone(phone))
        return file_name, {}


def make_inbox(config: Config) -> SmsInbox:
    """The SMS tables of the run's ledger (opened only when used)."""
    return SmsInbox(config.path(config.publish.ledger), tuple(config.sms.opt_out_words))


def make_transport(config: Config, sink: Path, inbox: SmsInbox | None = None
                   ) -> SmsTransport:
    """The configured transport, or the outbox when its secret is not set."""
    settings = config.channels.sms
    if settings.transport == "smpp" and settings.smpp is not None:
        password = config.secret(settings.smpp.password_env)
        if password is not None:
            from channels.smpp import SmppTransport

            return SmppTransport(settings.smpp, password, inbox=inbox)
        log.warning("sms: %s is not set; writing to the outbox instead of SMPP",
                    settings.smpp.password_env)
    if settings.transport == "http" and settings.http is not None:
        token = config.secret(settings.http.token_env)
        if token is not None:
            from channels.sms_http import HttpSmsTransport

            return HttpSmsTransport(settings.http, token, inbox=inbox)
        log.warning("sms: %s is not set; writing to the outbox instead of the gateway",
                    settings.http.token_env)
    return OutboxTransport(sink)


def listen_between_runs(config: Config, sink: Path) -> Callable[[float], None]:
    """For ``publish --watch``: a wait that, where the transport can (an SMPP account that
    receives), spends the time between runs bound, reading receipts and replies."""

    def wait(seconds: float) -> None:
        SmsChannel.from_config(config, sink).listen(seconds)

    return wait


def subscriber_targets(config: Config, channel: str = "sms",
                       scan: SubscriberScan | None = None) -> list[Target]:
    """One target per good row of ``sms.subscribers``; a bad row is skipped, and it, or a
    missing or empty list, is reported in ``scan`` (see ``configured_subscribers``)."""
    scan = scan if scan is not None else SubscriberScan()
    return [Target(channel=channel, key=s.key, label=s.masked,
                   address={"phone": s.phone, "area": s.area})
            for s in configured_subscribers(config, scan, publishing=True)]


@dataclass
class SmsChannel:
    name: ClassVar[str] = "sms"
    delivery: ClassVar[DeliveryKind] = "at-most-once"
    scope: ClassVar[Scope] = "digest"

    transport: SmsTransport
    inbox: SmsInbox | None = None
    target_problems: list[Problem] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> SmsChannel:
        inbox = make_inbox(config)
        return cls(transport=make_transport(config, sink, inbox), inbox=inbox)

    def targets(self, config: Config) -> list[Target]:
        scan = SubscriberScan()
        targets = subscriber_targets(config, self.name, scan)
        self.target_problems = scan.problems  # rows skipped, a missing list: for the report
        if self.inbox is None or not targets:
            return targets
        suppressed = self.inbox.suppressed(t.key for t in targets)
        if suppressed:
            log.info("sms: %d subscriber(s) opted out; not texted", len(suppressed))
        return [t for t in targets if t.key not in suppressed]

    def deliver(self, delivery: Delivery) -> Receipt:
        target = delivery.target
        phone = normalise_phone(str(target.address.get("phone", "")))
        if phone is None:
            raise PermanentError(f"sms: {target.label or target.key} has no valid mobile number")
        if self.inbox is not None:
            opted_out = self.inbox.suppressed([target.key]).get(target.key)
            if opted_out is not None:
                raise PermanentError(
                    f"sms: {target.label or target.key} opted out (replied "
                    f"{opted_out.word!r} at {opted_out.at:%Y-%m-%d %H:%M} UTC); not sent")
        digest = _digest_of(delivery)
        parts = digest["parts"]
        remote_id, details = self.transport.send(phone, parts, digest["digest_id"], target.key)
        return Receipt(channel=self.name, target_key=target.key, remote_id=remote_id or None,
                       details={"digest_id": digest["digest_id"], "parts": len(parts),
                                "notice_ids": list(digest.get("notice_ids") or []),
                                "transport": self.transport.name, **details})

    def withdraw(self, receipt: Receipt) -> None:
        """An SMS cannot be recalled; the next digest carries a 【撤回】 item instead."""

    def close(self) -> None:
        """End the run: the transport's session (unbind after the receipts it waits for),
        then the inbox's hold on the ledger."""
        try:
            close = getattr(self.transport, "close", None)
            if close is not None:
                close()
        finally:
            if self.inbox is not None:
                self.inbox.close()

    def listen(self, seconds: float) -> None:
        """Hear receipts and replies for ``seconds`` where the transport can (SMPP), between
        the runs of ``publish --watch``; else just wait."""
        listen = getattr(self.transport, "listen", None)
        try:
            if listen is not None:
                listen(seconds)
            else:
                time.sleep(seconds)
        finally:
            if self.inbox is not None:
                self.inbox.close()


def _digest_of(delivery: Delivery) -> dict[str, Any]:
    """The digest JSON of a delivery, checked: parts that an SMSC would refuse are permanent."""
    where = f"sms: digest for {delivery.target.label or delivery.target.key}"
    for artifact in delivery.artifacts:
        # An Artifact, or anything with the digest's bytes in ``data`` (a Digest itself).
        if getattr(artifact, "media_type", "application/json") != "application/json":
            continue
        try:
            data = json.loads(artifact.data)
        except ValueError:
            continue
        if isinstance(data, dict) and "parts" in data and "digest_id" in data:
            break
    else:
        raise PermanentError(f"{where}: the delivery has no digest.json artifact")
    parts = data["parts"]
    if not (isinstance(parts, list) and parts and all(isinstance(p, str) for p in parts)):
        raise PermanentError(f"{where}: 'parts' must be a non-empty list of texts")
    if len(parts) > 255:  # the concatenation header counts parts in one octet
        raise PermanentError(f"{where}: {len(parts)} parts; at most 255 can be joined")
    _check_parts(parts, where)
    return data


def _check_parts(parts: list[str], where: str) -> None:
    encoding = encoding_of("".join(parts))  # one encoding for the whole message
    single, per_part = LIMITS[encoding]
    limit = single if len(parts) == 1 else per_part
    for number, part in enumerate(parts, start=1):
        units = units_of(part, encoding)
        if units > limit:
            raise PermanentError(f"{where}: part {number} has {units} {encoding} units, "
                                 f"more than {limit}")
