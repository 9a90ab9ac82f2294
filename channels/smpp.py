"""SMS over SMPP 3.4 (smpplib), with our own concatenation.

smpplib's ``make_parts`` cuts the encoded bytes blindly (through surrogate pairs and ESC
sequences), so the parts come from ``pipeline.renderers.sms_segment`` and this module only adds
the concatenation header (UDH ``05 00 03 ref total seq``) and encodes each part:

* UCS-2: ``data_coding`` 8, UTF-16 big-endian (a surrogate pair stays in one part);
* GSM-7: ``data_coding`` 0, one unpacked septet a byte (SMPP leaves packing to the SMSC), an
  extension character as ESC (0x1B) and its code.

A session is opened per delivery: connect, ``bind_transmitter``, one ``submit_sm`` a part
(throttled to ``messages_per_second``), ``unbind``, close. ``ESME_RTHROTTLED``, a full queue, a
system error and a lost connection are transient **while no part has been accepted**; once a
part is accepted, a retry would send that part twice to a person, so a later failure is
reported as permanent ("partly sent") for an operator instead. An invalid destination or
refused credentials are permanent. The phone appears in messages only masked, and smpplib's
own logger (which dumps PDUs, phone included) is kept quiet.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from smpplib import consts
from smpplib import exceptions as smpp_errors
from smpplib.client import Client
from smpplib.smpp import make_pdu

from pipeline.config import SmppSettings
from pipeline.errors import InDoubtError, PermanentError, TransientError
from pipeline.renderers.sms_segment import GSM7_BASIC, GSM7_EXTENSION, encoding_of
from pipeline.subscribers import mask_phone

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
    name = "smpp"

    def __init__(self, settings: SmppSettings, password: str,
                 limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self._password = password
        self.limiter = limiter or RateLimiter(settings.messages_per_second)

    def send(self, phone: str, parts: Sequence[str], digest_id: str,
             reference_key: str) -> tuple[str, dict[str, Any]]:
        masked = mask_phone(phone)
        encoding = encoding_of("".join(parts))
        reference = reference_of(f"{digest_id}:{reference_key}")
        client = Client(self.settings.host, self.settings.port, timeout=self.settings.timeout_s,
                        logger_name=SMPPLIB_LOGGER, allow_unknown_opt_params=True)
        message_ids: list[str] = []
        try:
            self._bind(client)
            for number, part in enumerate(parts, start=1):
                try:
                    message_ids.append(self._submit(client, phone, part, encoding, reference,
                                                    number, len(parts)))
                except TransientError as exc:
                    if message_ids:
                        # Part of the text reached the phone: a resend would repeat it, so an
                        # operator decides (`noticecast resolve`).
                        raise InDoubtError(
                            f"SMPP: {len(message_ids)} of {len(parts)} parts to {masked} were "
                            f"accepted, then {exc}; not resent, to avoid a duplicate") from None
                    raise TransientError(f"SMPP: {exc} (to {masked})",
                                         retry_after=exc.retry_after) from None
                except PermanentError as exc:
                    raise PermanentError(f"SMPP: {exc} (to {masked})") from None
        finally:
            self._close(client)
        log.info("sms: %d part(s) of %s accepted by SMPP for %s", len(parts), digest_id, masked)
        return ",".join(message_ids), {"message_ids": message_ids, "encoding": encoding}

    def _bind(self, client: Client) -> None:
        where = f"{self.settings.host}:{self.settings.port}"
        try:
            client.connect()
            client.bind_transmitter(system_id=self.settings.system_id,
                                    password=self._password)
        except smpp_errors.PDUError as exc:
            status = exc.args[1] if len(exc.args) > 1 else None
            text = consts.DESCRIPTIONS.get(status, "refused")
            if status in TRANSIENT_STATUSES:
                raise TransientError(f"SMPP bind at {where} refused: {text}") from None
            raise PermanentError(f"SMPP bind at {where} refused: {text}; check system_id and "
                                 f"the password variable {self.settings.password_env}") from None
        except (smpp_errors.ConnectionError, OSError) as exc:
            raise TransientError(f"SMPP: cannot reach {where}: "
                                 f"{str(exc) or 'connection lost'}") from None

    def _submit(self, client: Client, phone: str, part: str, encoding: str, reference: int,
                number: int, total: int) -> str:
        payload = encode_part(part, encoding)
        esm_class = consts.SMPP_MSGMODE_DEFAULT
        if total > 1:
            payload = concatenation_header(reference, total, number) + payload
            esm_class |= consts.SMPP_GSMFEAT_UDHI
        self.limiter.wait()
        try:
            request = client.send_message(
                source_addr_ton=consts.SMPP_TON_UNK, source_addr_npi=consts.SMPP_NPI_UNK,
                source_addr=self.settings.source_addr,
                dest_addr_ton=consts.SMPP_TON_INTL, dest_addr_npi=consts.SMPP_NPI_ISDN,
                destination_addr=phone.lstrip("+"), esm_class=esm_class,
                data_coding=DATA_CODING[encoding], short_message=payload,
                registered_delivery=(consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH
                                     if self.settings.registered_delivery else 0))
            response = self._response_to(client, request.sequence)
        except (smpp_errors.ConnectionError, OSError) as exc:
            raise TransientError(f"connection lost during part {number} of {total} "
                                 f"({str(exc) or 'closed'})") from None
        if response.is_error():
            status = int(response.status)
            text = consts.DESCRIPTIONS.get(status, f"status 0x{status:08X}")
            if status in TRANSIENT_STATUSES:
                raise TransientError(f"part {number} of {total}: {text}")
            if status == consts.SMPP_ESME_RINVDSTADR:
                raise PermanentError("invalid destination address")
            raise PermanentError(f"part {number} of {total} refused: {text}")
        message_id = response.message_id
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id or "")

    @staticmethod
    def _response_to(client: Client, sequence: int) -> Any:
        while True:
            pdu = client.read_pdu()
            if pdu.command == "enquire_link":  # the SMSC checks we are alive; answer it
                reply = make_pdu("enquire_link_resp", client=client)
                reply.sequence = pdu.sequence
                client.send_pdu(reply)
                continue
            if pdu.command == "generic_nack" or (
                    pdu.command == "submit_sm_resp" and pdu.sequence == sequence):
                return pdu

    @staticmethod
    def _close(client: Client) -> None:
        try:
            if client.state in (consts.SMPP_CLIENT_STATE_BOUND_TX,
                                consts.SMPP_CLIENT_STATE_BOUND_TRX):
                client.unbind()
        except (smpp_errors.PDUError, smpp_errors.ConnectionError, OSError):  # timeouts too
            pass  # the messages are sent; a failed goodbye changes nothing for them
        finally:
            client.disconnect()
