"""A channel that keeps deliveries in memory: for tests, like httpx's MockTransport.

It can be told to fail: ``fail_with`` maps a target key to a list of exceptions to raise on the
next calls (one per call), so that retry and error paths run through the real publisher.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from channels.base import Delivery, DeliveryKind, Receipt, Scope, Target
from pipeline.config import Config


@dataclass
class MemoryChannel:
    name: ClassVar[str] = "memory"
    delivery: ClassVar[DeliveryKind] = "idempotent"
    scope: ClassVar[Scope] = "notice"

    delivered: list[Delivery] = field(default_factory=list)
    withdrawn: list[Receipt] = field(default_factory=list)
    fail_with: dict[str, list[Exception]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> MemoryChannel:
        return cls()

    def targets(self, config: Config) -> list[Target]:
        return [Target(channel=self.name, key="memory", label="memory")]

    def deliver(self, delivery: Delivery) -> Receipt:
        pending = self.fail_with.get(delivery.target.key)
        if pending:
            raise pending.pop(0)
        self.delivered.append(delivery)
        return Receipt(channel=self.name, target_key=delivery.target.key,
                       remote_id=str(next(self._ids)),
                       details={"event": delivery.event, "revision": delivery.revision})

    def withdraw(self, receipt: Receipt) -> None:
        self.withdrawn.append(receipt)
