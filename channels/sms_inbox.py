"""What comes back from SMS: handset receipts and replies, kept with the ledger.

Every transport reports here: SMPP from the ``deliver_sm`` PDUs of its session, the HTTP gateway
through ``noticecast serve-callbacks``. The inbox

* remembers the message id of every part an SMSC accepted (``Ledger.record_sms_parts``), so a
  receipt that names an id is matched to its delivery (subscriber and digest);
* records a receipt's final state as ``handset-delivered``, ``undeliverable`` or ``expired``
  (an SMSC's ``DELIVRD``, ``UNDELIV``/``REJECTD``/``DELETED``, ``EXPIRED``); the states on the
  way (``ENROUTE``, ``ACCEPTD``, ``UNKNOWN``) say nothing final and are only acknowledged;
* puts a phone that replied with an opt-out word (``sms.opt_out_words``: T, TD, 退订) on the
  suppression list, after which no text goes to it.

Phones are personal data: the ledger keeps the subscriber key (a hash, the same as the
delivery's target) and the masked phone, never the phone itself.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.ledger import Ledger, Suppression, open_readonly
from pipeline.subscribers import Subscriber, mask_phone, normalise_phone

log = logging.getLogger("noticecast.sms")

RECEIPT_STATES: dict[str, str] = {
    "DELIVRD": "handset-delivered", "DELIVERED": "handset-delivered",
    "UNDELIV": "undeliverable", "UNDELIVERABLE": "undeliverable",
    "REJECTD": "undeliverable", "REJECTED": "undeliverable", "DELETED": "undeliverable",
    "EXPIRED": "expired",
}
# SMPP 5.0 message_state values (the TLV some SMSCs send besides the receipt text).
MESSAGE_STATES = {2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 8: "REJECTD"}
_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[\s.,;:!?。，；：！？、\"'“”‘’()（）【】]+")


def subscriber_key(phone: str) -> str:
    """The ledger key of a phone: the same hash as its subscriber's delivery target."""
    return Subscriber(phone=phone, area="").key


@dataclass(frozen=True)
class HandsetReceipt:
    message_id: str
    stat: str  # as the SMSC wrote it: DELIVRD, UNDELIV, EXPIRED, …
    error: str | None = None

    @property
    def state(self) -> str | None:
        """The ledger's name for a final state, or None for a state on the way."""
        return RECEIPT_STATES.get(self.stat.upper())


def parse_receipt(text: str, *, message_id: str | None = None,
                  message_state: int | None = None) -> HandsetReceipt | None:
    """A delivery receipt from its text (``id:… sub:… dlvrd:… stat:DELIVRD err:000 …``, SMPP
    3.4 appendix B) and, where the SMSC sent them, the ``receipted_message_id`` and
    ``message_state`` TLVs, which win. None when no message id can be found."""
    fields = {name.lower(): value for name, value in _FIELD.findall(text)}
    found_id = message_id or fields.get("id")
    stat = MESSAGE_STATES.get(message_state or -1) or fields.get("stat") or "UNKNOWN"
    if not found_id:
        return None
    return HandsetReceipt(message_id=found_id, stat=stat.upper(), error=fields.get("err"))


def opt_out_word(text: str, words: Sequence[str]) -> str | None:
    """The opt-out word a reply is, or None. The whole reply must be the word (T, Ｔ, "t.",
    "退订" all count; "Thanks" does not), so an ordinary answer never unsubscribes anyone."""
    said = _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text)).casefold()
    for word in words:
        if said == _PUNCTUATION.sub("", unicodedata.normalize("NFKC", word)).casefold():
            return word
    return None


@dataclass
class SmsInbox:
    """The ledger's SMS tables, opened only when something is to be read or written (a dry
    run or a plain outbox run never creates a ledger through it)."""

    ledger_path: Path
    opt_out_words: Sequence[str] = ("T", "TD", "退订")
    channel: str = "sms"
    _ledger: Ledger | None = field(default=None, init=False, repr=False)

    def _writable(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.ledger_path, durability="full")
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    # -- writing --------------------------------------------------------------------------

    def sent(self, target: str, batch: str, message_ids: Sequence[tuple[int, int, str]]) -> None:
        """The parts ``(part, parts, message_id)`` of a text that the SMSC accepted."""
        wanted = [(part, total, mid) for part, total, mid in message_ids if mid]
        if wanted:
            self._writable().record_sms_parts(self.channel, target, batch, wanted)

    def receipt(self, receipt: HandsetReceipt, source: str) -> str | None:
        """Record a receipt's final state; returns it (None for a state on the way)."""
        state = receipt.state
        if state is None:
            log.debug("sms: receipt %s says %s; not final", receipt.message_id, receipt.stat)
            return None
        self._writable().record_receipt(self.channel, receipt.message_id, state, receipt.stat,
                                        receipt.error, source)
        log.info("sms: receipt for %s: %s", receipt.message_id, state)
        return state

    def reply(self, sender: str, text: str, source: str) -> bool:
        """A reply from a phone; True when it opted the phone out (first time or again)."""
        word = opt_out_word(text, self.opt_out_words)
        phone = normalise_phone(sender)
        if word is None:
            log.info("sms: a reply from %s that is not an opt-out word", mask_phone(sender))
            return False
        if phone is None:
            log.warning("sms: an opt-out from %s, which is not a mobile number we text",
                        mask_phone(sender))
            return False
        new = self._writable().suppress(subscriber_key(phone), mask_phone(phone), word,
                                        channel=self.channel, source=source)
        if new:
            log.info("sms: %s replied %r: no more texts to it", mask_phone(phone), word)
        return True

    # -- reading --------------------------------------------------------------------------

    def suppressions(self) -> list[Suppression]:
        if self._ledger is not None:
            return self._ledger.suppressions()
        ledger = open_readonly(self.ledger_path)
        if ledger is None:
            return []
        with ledger:
            return ledger.suppressions()

    def suppressed(self, keys: Iterable[str] | None = None) -> dict[str, Suppression]:
        """The suppressions by subscriber key (of ``keys`` only, when given)."""
        wanted = None if keys is None else set(keys)
        return {s.target: s for s in self.suppressions()
                if wanted is None or s.target in wanted}
