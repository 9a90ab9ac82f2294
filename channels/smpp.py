"""SMS over SMPP 3.4: one session per publish run, with our own concatenation.

smpplib's ``make_parts`` cuts the encoded bytes blindly (through surrogate pairs and ESC
sequences), so the parts come from ``pipeline.renderers.sms_segment`` and this module only adds
the concatenation header (UDH ``05 00 03 ref total seq``) and encodes each part:

* UCS-2: ``data_coding`` 8, UTF-16 big-endian (a surrogate pair stays in one part);
* GSM-7: ``data_coding`` 0, one unpacked septet a byte (SMPP leaves packing to the SMSC), an
  extension character as ESC (0x1B) and its code.

**One session a run** (``channels.smpp_session``): the first text binds (``smpp.bind``:
transceiver, transmitter, or transmitter plus a receiver), every later text of the run uses
the same bind, and ``close`` stays bound ``linger_s`` for receipts, then unbinds. The parts of
a text go out in a window (``smpp.window`` answers outstanding), each at the configured rate.

What an answer means, per text:

* every part accepted: delivered; each part's message id goes to the ledger, for receipts;
* ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL`` on a part: that part alone is sent again after a
  pause (doubled each time), up to ``throttle_retries`` times;
* refused (and nothing accepted): nothing reached the phone; transient or permanent by status;
* refused after other parts were accepted: the phone has an incomplete text, and resending the
  whole would repeat the accepted parts: in doubt, naming which parts were accepted;
* no answer (the link dropped, or silence until ``timeout_s``) after a part went out: the SMSC
  may have stored it: in doubt, never retried.

Receipts (``deliver_sm`` with a receipt ``esm_class``) and replies (any other ``deliver_sm``)
go to the inbox (``channels.sms_inbox``) as they arrive. The phone appears in messages only
masked, and smpplib's own logger (which dumps PDUs, phone included) is kept quiet.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from smpplib import consts

from channels.smpp_session import BindRefused, SessionLost, SessionTimeout, SmppSession
from pipeline.config import SmppSettings
from pipeline.errors import InDoubtError, PermanentError, TransientError
from pipeline.renderers.sms_segment import GSM7_BASIC, GSM7_EXTENSION, encoding_of
from pipeline.subscribers import mask_phone

if TYPE_CHECKING:
    from channels.sms_inbox import SmsInbox

log = logging.getLogger("noticecast.sms")
SMPPLIB_LOGGER = "noticecast.sms.smpplib"
# smpplib logs PDU dumps (phones in them) and chatter about connections: keep it quiet.
logging.getLogger(SMPPLIB_LOGGER).setLevel(logging.ERROR)

# Where the basic table has holes for ESC (0x1B) nothing is encoded; see sms_segment.
_GSM7_CODES: dict[str, bytes] = {
    char: bytes([code]) for code, char in enumerate(GSM7_BASIC[:27] + "\x1b" + GSM7_BASIC[27:])
    if char != "\x1b"
}
_GSM7_EXTENSION_CODES = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                         "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}
_GSM7_CODES.update({c: bytes([0x1B, code]) for c, code in _GSM7_EXTENSION_CODES.items()})
assert set(_GSM7_EXTENSION_CODES) == set(GSM7_EXTENSION)

TRANSIENT_STATUSES = frozenset({
    consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RSYSERR,
    consts.SMPP_ESME_RBINDFAIL, 0x00000064,  # ESME_RX_T_APPN: "temporary app error"
})
THROTTLED = frozenset({consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL})
RECEIPT_ESM = (0x04, 0x08, 0x10, 0x20)  # esm_class & 0x3C of a receipt or an acknowledgement
DATA_CODING = {"GSM-7": consts.SMPP_ENCODING_DEFAULT, "UCS-2": consts.SMPP_ENCODING_ISO10646}


def gsm7_bytes(text: str) -> bytes:
    """Unpacked GSM 7-bit default alphabet, one septet per byte, extensions after ESC."""
    return b"".join(_GSM7_CODES[char] for char in text)


def gsm7_text(data: bytes) -> str:
    """The inverse of ``gsm7_bytes`` (for test peers and logs)."""
    basic = {code[0]: char for char, code in _GSM7_CODES.items() if len(code) == 1}
    extension = {code: char for char, code in _GSM7_EXTENSION_CODES.items()}
    chars, escaped = [], False
    for byte in data:
        if escaped:
            chars.append(extension.get(byte, "?"))
            escaped = False
        elif byte == 0x1B:
            escaped = True
        else:
            chars.append(basic.get(byte, "?"))
    return "".join(chars)


def encode_part(text: str, encoding: str) -> bytes:
    if encoding == "UCS-2":
        return text.encode("utf-16-be", "surrogatepass")
    return gsm7_bytes(text)


def concatenation_header(reference: int, total: int, sequence: int) -> bytes:
    """The 8-bit reference concatenated SMS information element (3GPP TS 23.040 9.2.3.24.1)."""
    return bytes([0x05, 0x00, 0x03, reference & 0xFF, total, sequence])


def reference_of(key: str) -> int:
    """A concatenation reference that stays the same when the same text is sent again."""
    return hashlib.sha256(key.encode()).digest()[0]


class RateLimiter:
    """At most ``per_second`` events a second, spaced evenly (shared by all deliveries)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            if self._next > now:
                self.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class SmppTransport:
    """SMS through an SMPP session that lasts the run (see the module docstring)."""

    name = "smpp"

    def __init__(self, settings: SmppSettings, password: str,
                 limiter: RateLimiter | None = None, inbox: SmsInbox | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._password = password
        self.limiter = limiter or RateLimiter(settings.messages_per_second)
        self.inbox = inbox
        self.sleep = sleep
        self.binds = 0  # how many binds this transport made (one per run when all goes well)
        self._tx: SmppSession | None = None
        self._rx: SmppSession | None = None
        self._sent = False

    @property
    def receives(self) -> bool:
        """Whether a session of this transport can get receipts and replies."""
        return self.settings.bind != "transmitter"

    # -- sending ----------------------------------------------------------------------------

    def send(self, phone: str, parts: Sequence[str], digest_id: str,
             reference_key: str) -> tuple[str, dict[str, Any]]:
        masked = mask_phone(phone)
        encoding = encoding_of("".join(parts))
        reference = reference_of(f"{digest_id}:{reference_key}")
        session = self._session()
        self._sent = True
        submits = [self._submit_fields(phone, part, encoding, reference, number, len(parts))
                   for number, part in enumerate(parts, start=1)]
        message_ids = self._submit_text(session, submits, masked, digest_id, reference_key)
        self._poll_receiver()
        log.info("sms: %d part(s) of %s accepted by SMPP for %s", len(parts), digest_id, masked)
        return ",".join(message_ids), {"message_ids": message_ids, "encoding": encoding}

    def _submit_fields(self, phone: str, part: str, encoding: str, reference: int,
                       number: int, total: int) -> dict[str, Any]:
        payload = encode_part(part, encoding)
        esm_class = consts.SMPP_MSGMODE_DEFAULT
        if total > 1:
            payload = concatenation_header(reference, total, number) + payload
            esm_class |= consts.SMPP_GSMFEAT_UDHI
        # Receipts only where a session can receive them: a transmitter bind never would.
        receipts = self.settings.registered_delivery and self.receives
        return dict(
            source_addr_ton=consts.SMPP_TON_UNK, source_addr_npi=consts.SMPP_NPI_UNK,
            source_addr=self.settings.source_addr,
            dest_addr_ton=consts.SMPP_TON_INTL, dest_addr_npi=consts.SMPP_NPI_ISDN,
            destination_addr=phone.lstrip("+"), esm_class=esm_class,
            data_coding=DATA_CODING[encoding], short_message=payload,
            registered_delivery=consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH if receipts else 0)

    def _submit_text(self, session: SmppSession, submits: list[dict[str, Any]], masked: str,
                     digest_id: str, reference_key: str) -> list[str]:
        """Send the parts in a window; resend a throttled part alone; classify the end."""
        total = len(submits)
        accepted: dict[int, str] = {}
        refused: dict[int, int] = {}
        throttled: dict[int, int] = {}
        queue = deque(range(1, total + 1))
        outstanding: dict[int, int] = {}  # sequence number -> part
        writing: int | None = None
        try:
            while queue or outstanding:
                while queue and len(outstanding) < self.settings.window:
                    writing = queue.popleft()
                    self.limiter.wait()
                    outstanding[session.send("submit_sm", **submits[writing - 1])] = writing
                    writing = None
                answer = session.next_response()
                part = outstanding.pop(int(answer.sequence), None)
                if part is None:
                    if answer.command == "generic_nack":  # which request it refuses is unknown
                        raise SessionLost(f"a generic_nack with sequence {answer.sequence}")
                    continue  # a late answer to something already settled
                status = int(answer.status)
                if status == consts.SMPP_ESME_ROK:
                    accepted[part] = _text(answer.message_id)
                    if self.inbox is not None:
                        self.inbox.sent(reference_key, digest_id,
                                        [(part, total, accepted[part])])
                elif status in THROTTLED and (
                        throttled.get(part, 0) < self.settings.throttle_retries):
                    # Refused, so not stored: this part alone goes again, after a pause.
                    throttled[part] = throttled.get(part, 0) + 1
                    self.sleep(self.settings.throttle_pause_s * 2 ** (throttled[part] - 1))
                    queue.appendleft(part)
                else:
                    refused[part] = status
                    queue.clear()  # no more parts of a text that cannot be whole
        except (SessionLost, SessionTimeout) as exc:
            self._drop()
            unknown = sorted({*outstanding.values(), *([writing] if writing else [])})
            why = (f"no answer within {self.settings.timeout_s:g} s"
                   if isinstance(exc, SessionTimeout) else f"the link was lost ({exc})")
            raise InDoubtError(
                f"SMPP: {why} for part(s) {_numbers(unknown)} of {total} to {masked}"
                f"{_accepted(accepted, total)}; the SMSC may have stored it, so it is not "
                "resent") from None
        if not refused:
            return [accepted[number] for number in range(1, total + 1)]
        part, status = min(refused.items())
        text = consts.DESCRIPTIONS.get(status, f"status 0x{status:08X}")
        tries = f" after {throttled[part]} resend(s)" if throttled.get(part) else ""
        if accepted:
            raise InDoubtError(
                f"SMPP: part {part} of {total} to {masked} was refused ({text}){tries}"
                f"{_accepted(accepted, total)}; the phone has an incomplete text and a resend "
                "would repeat those parts: check, then `noticecast resolve`")
        if status == consts.SMPP_ESME_RINVDSTADR:
            raise PermanentError(f"SMPP: invalid destination address (to {masked})")
        if status in TRANSIENT_STATUSES:
            pause = self.settings.throttle_pause_s * 2 ** throttled.get(part, 0)
            raise TransientError(f"SMPP: part {part} of {total}: {text}{tries} (to {masked})",
                                 retry_after=pause if status in THROTTLED else None)
        raise PermanentError(f"SMPP: part {part} of {total} refused: {text} (to {masked})")

    # -- the session ------------------------------------------------------------------------

    def _session(self) -> SmppSession:
        """The run's bound session; bound now if there is none, or the last one died."""
        if self._tx is not None and self._tx.bound:
            try:
                self._tx.listen(0)  # an SMSC that hung up while idle is found out here
            except SessionLost:
                self._drop()
            else:
                return self._tx
        mode = "transceiver" if self.settings.bind == "transceiver" else "transmitter"
        self._tx = self._bind(mode)
        if self.settings.bind == "transmitter+receiver" and (
                self._rx is None or not self._rx.bound):
            try:
                self._rx = self._bind("receiver")
            except (TransientError, PermanentError) as exc:
                log.warning("sms: no receiver bind, so no receipts this run: %s", exc)
        return self._tx

    def _bind(self, mode: str) -> SmppSession:
        where = f"{self.settings.host}:{self.settings.port}"
        session = SmppSession(self.settings.host, self.settings.port, mode=mode,
                              timeout=self.settings.timeout_s, on_deliver=self._delivered)
        try:
            session.open(self.settings.system_id, self._password)
        except BindRefused as exc:
            hint = ""
            if exc.status == consts.SMPP_ESME_RBINDFAIL and mode != "transceiver":
                hint = " (an account may allow only transceiver binds: try smpp.bind: transceiver)"
            if exc.status in TRANSIENT_STATUSES:
                raise TransientError(f"SMPP {mode} bind at {where} refused: {exc}{hint}") from None
            raise PermanentError(f"SMPP {mode} bind at {where} refused: {exc}{hint}; check "
                                 f"system_id and the password variable "
                                 f"{self.settings.password_env}") from None
        except (SessionLost, SessionTimeout, OSError) as exc:
            session.close(unbind=False)
            why = str(exc) or type(exc).__name__
            raise TransientError(f"SMPP: cannot bind at {where}: {why}") from None
        self.binds += 1
        log.info("sms: bound to %s as %s", where, mode)
        return session

    def _drop(self) -> None:
        if self._tx is not None:
            self._tx.close(unbind=False)
            self._tx = None

    def _receiving(self) -> list[SmppSession]:
        return [s for s in (self._rx, self._tx if self.settings.bind == "transceiver" else None)
                if s is not None and s.bound]

    def _poll_receiver(self) -> None:
        if self._rx is not None and self._rx.bound:
            try:
                self._rx.listen(0)
            except SessionLost:
                self._rx.close(unbind=False)

    # -- receipts and replies ---------------------------------------------------------------

    def _delivered(self, pdu: Any) -> None:
        """A ``deliver_sm`` from the SMSC: a receipt or a reply, to the inbox."""
        from channels.sms_inbox import parse_receipt

        esm_class = int(pdu.esm_class or 0)
        data = bytes(pdu.short_message or b"") or bytes(
            getattr(pdu, "message_payload", None) or b"")
        if esm_class & consts.SMPP_GSMFEAT_UDHI and data:
            data = data[data[0] + 1:]
        if esm_class & 0x3C in RECEIPT_ESM:
            receipted = getattr(pdu, "receipted_message_id", None)
            state = getattr(pdu, "message_state", None)
            receipt = parse_receipt(data.decode("latin-1"),
                                    message_id=_text(receipted) or None,
                                    message_state=int(state) if state is not None else None)
            if receipt is None:
                log.warning("sms: a receipt without a message id; ignored")
            elif self.inbox is not None:
                self.inbox.receipt(receipt, source="smpp")
            return
        sender = _text(pdu.source_addr)
        text = _decode(data, int(pdu.data_coding or 0))
        if self.inbox is not None:
            self.inbox.reply(sender, text, source="smpp")
        else:
            log.info("sms: a reply from %s; no ledger to keep it in", mask_phone(sender))

    def listen(self, seconds: float) -> None:
        """Bind only to hear receipts and replies, for ``seconds`` (between runs of
        ``publish --watch``); sleeps instead when this account cannot receive."""
        if not self.receives or seconds <= 0:
            self.sleep(max(seconds, 0.0))
            return
        started = time.monotonic()
        mode = "transceiver" if self.settings.bind == "transceiver" else "receiver"
        try:
            session = self._bind(mode)
        except (TransientError, PermanentError) as exc:
            log.warning("sms: cannot listen for receipts: %s", exc)
            self.sleep(max(0.0, seconds - (time.monotonic() - started)))
            return
        try:
            session.listen(max(0.0, seconds - (time.monotonic() - started)))
        except SessionLost as exc:
            log.warning("sms: the SMSC ended the listening session: %s", exc)
        finally:
            session.close()

    def close(self) -> None:
        """Stay bound ``linger_s`` for receipts of what this run sent, then unbind."""
        receiving = self._receiving()
        if self._sent and receiving and self.settings.linger_s > 0:
            with contextlib.suppress(SessionLost):
                receiving[0].listen(self.settings.linger_s)
        for session in (self._tx, self._rx):
            if session is not None:
                session.close()
        self._tx = self._rx = None
        self._sent = False


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _decode(data: bytes, data_coding: int) -> str:
    """The text of a reply: UCS-2, Latin-1, or the GSM default alphabet (which is ASCII for
    letters and digits; IA5 and "SMSC default" are read alike)."""
    if data_coding == consts.SMPP_ENCODING_ISO10646:
        return data.decode("utf-16-be", "replace")
    if data_coding == 3:
        return data.decode("latin-1")
    if data_coding in (0, 1):
        return gsm7_text(data)
    return data.decode("utf-8", "replace")


def _numbers(parts: Sequence[int]) -> str:
    return ", ".join(str(p) for p in parts) or "?"


def _accepted(accepted: dict[int, str], total: int) -> str:
    if not accepted:
        return "; no part was accepted"
    shown = ", ".join(f"{part} ({accepted[part]})" for part in sorted(accepted))
    return f"; part(s) {shown} of {total} were accepted"
