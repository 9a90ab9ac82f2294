"""A real SMPP 3.4 peer (a tiny SMSC) on 127.0.0.1, built on smpplib's PDU classes.

    with SmppPeer() as peer:
        peer.submit_script = [consts.SMPP_ESME_RTHROTTLED]   # the first submit_sm is throttled
        ... connect to 127.0.0.1:peer.port, bind_transmitter, submit_sm ...
        assert peer.texts() == [("8613800000001", "whole text")]

It accepts the three binds (checking system_id and password; ``bind_modes`` limits which),
submit_sm, enquire_link and unbind; records every PDU it receives; answers the submits from
``submit_script`` (a list of command statuses, then ESME_ROK); refuses destinations in
``invalid_destinations`` with ESME_RINVDSTADR; reassembles concatenated messages from their
user data headers (by sequence number, as a handset does); sends a delivery receipt for each
accepted part when ``receipts`` is set (``DELIVRD``, or the stat given per destination), and
the replies in ``replies`` (source, text) right after a receiving bind; asks ``enquire_link``
once after each bind and records the answer.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from smpplib import consts
from smpplib.smpp import make_pdu, parse_pdu

from channels.smpp import gsm7_text


class _Sequence:
    """What smpplib's PDU classes expect of a client: a sequence counter."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


@dataclass
class Submit:
    destination: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    short_message: bytes
    status: int  # what the peer answered

    @property
    def udh(self) -> tuple[int, int, int] | None:
        """(reference, total, sequence) of a concatenated part, else None."""
        if not self.esm_class & consts.SMPP_GSMFEAT_UDHI:
            return None
        header = self.short_message[: self.short_message[0] + 1]
        if header[1:3] != b"\x00\x03":
            raise AssertionError(f"unexpected UDH {header.hex()}")
        return header[3], header[4], header[5]

    @property
    def text(self) -> str:
        payload = self.short_message
        if self.udh is not None:
            payload = payload[payload[0] + 1:]
        if self.data_coding == consts.SMPP_ENCODING_ISO10646:
            return payload.decode("utf-16-be")
        return gsm7_text(payload)


@dataclass
class SmppPeer:
    system_id: str = "noticecast"
    password: str = "secret"
    submit_script: list[int] = field(default_factory=list)
    invalid_destinations: set[str] = field(default_factory=set)
    drop_after_submits: int | None = None  # close the connection after this many accepted
    silent_after_submits: int | None = None  # answer nothing more after this many accepted
    bind_modes: tuple[str, ...] = ("transmitter", "receiver", "transceiver")
    receipts: dict[str, str] | None = None  # destination -> stat ("*" for any); None: none
    replies: list[tuple[str, str]] = field(default_factory=list)  # sent after a receiving bind
    answered: list[str] = field(default_factory=list)  # the responses we got to our requests
    commands: list[str] = field(default_factory=list)
    binds: list[dict[str, Any]] = field(default_factory=list)
    submits: list[Submit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._sequence = _Sequence()
        self._message_ids = 0

    @property
    def port(self) -> int:
        return self._server.getsockname()[1]

    def __enter__(self) -> SmppPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    # -- what arrived --------------------------------------------------------------------

    @property
    def accepted(self) -> list[Submit]:
        return [s for s in self.submits if s.status == consts.SMPP_ESME_ROK]

    def texts(self) -> list[tuple[str, str]]:
        """(destination, whole text) of every accepted message, in the order completed.

        Concatenated parts are put together by (destination, reference) and checked: each
        part arrives once, in order, and the message is complete.
        """
        done: list[tuple[str, str]] = []
        pending: dict[tuple[str, int], dict[int, Submit]] = {}
        for submit in self.accepted:
            udh = submit.udh
            if udh is None:
                done.append((submit.destination, submit.text))
                continue
            reference, total, number = udh
            parts = pending.setdefault((submit.destination, reference), {})
            if number in parts:
                raise AssertionError(f"part {number} of {total} to {submit.destination} "
                                     "was stored twice")
            parts[number] = submit
            if len(parts) == total:
                done.append((submit.destination,
                             "".join(parts[n].text for n in range(1, total + 1))))
                del pending[(submit.destination, reference)]
        if pending:
            raise AssertionError(f"incomplete concatenated messages: {list(pending)}")
        return done

    # -- the server ------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(ConnectionError, OSError, struct.error):
                    self._session(connection)  # a client that hangs up ends its session

    def _session(self, connection: socket.socket) -> None:
        accepted_here = 0
        silent = False
        while True:
            head = self._read(connection, 4)
            if head is None:
                return
            length = struct.unpack(">L", head)[0]
            body = self._read(connection, length - 4) or b""
            request = parse_pdu(head + body, client=self._sequence)
            with self._lock:
                self.commands.append(request.command)
            if not request.is_request():
                with self._lock:
                    self.answered.append(request.command)
                continue
            if silent:
                continue
            reply = self._answer(request)
            if reply is not None:
                reply.sequence = request.sequence
                connection.sendall(reply.generate())
            if request.command == "unbind":
                return
            if request.command.startswith("bind_") and not reply.is_error():
                self._after_bind(connection, request.command)
            if request.command == "submit_sm" and reply is not None and not reply.is_error():
                accepted_here += 1
                if self.receipts is not None:
                    self._receipt(connection, request, reply)
                if self.drop_after_submits is not None and (
                        accepted_here >= self.drop_after_submits):
                    return
                if self.silent_after_submits is not None and (
                        accepted_here >= self.silent_after_submits):
                    silent = True

    def _after_bind(self, connection: socket.socket, command: str) -> None:
        connection.sendall(make_pdu("enquire_link", client=self._sequence).generate())
        if command == "bind_transmitter":
            return
        for source, text in self.replies:
            coding = consts.SMPP_ENCODING_ISO10646 if not text.isascii() else 0
            data = text.encode("utf-16-be") if coding else text.encode("ascii")
            connection.sendall(make_pdu(
                "deliver_sm", client=self._sequence, source_addr=source,
                destination_addr="106900000000", esm_class=0, data_coding=coding,
                short_message=data).generate())

    def _receipt(self, connection: socket.socket, request: Any, reply: Any) -> None:
        assert self.receipts is not None
        destination = _text(request.destination_addr)
        stat = self.receipts.get(destination, self.receipts.get("*", "DELIVRD"))
        message_id = _text(reply.message_id)
        text = (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
                f"submit date:1807081000 done date:1807081001 stat:{stat} err:000 text:")
        connection.sendall(make_pdu(
            "deliver_sm", client=self._sequence, source_addr=destination,
            destination_addr="106900000000", esm_class=0x04, data_coding=0,
            short_message=text.encode()).generate())

    def _answer(self, request: Any) -> Any:
        command = request.command
        if command.startswith("bind_"):
            system_id, password = _text(request.system_id), _text(request.password)
            mode = command.removeprefix("bind_")
            with self._lock:
                self.binds.append({"system_id": system_id, "password": password, "mode": mode})
            ok = system_id == self.system_id and password == self.password
            status = consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD
            if ok and mode not in self.bind_modes:
                status = consts.SMPP_ESME_RBINDFAIL
            return make_pdu(f"{command}_resp", client=self._sequence, status=status,
                            system_id="peer")
        if command == "submit_sm":
            destination = _text(request.destination_addr)
            with self._lock:
                if destination in self.invalid_destinations:
                    status = consts.SMPP_ESME_RINVDSTADR
                elif self.submit_script:
                    status = self.submit_script.pop(0)
                else:
                    status = consts.SMPP_ESME_ROK
                self._message_ids += 1
                self.submits.append(Submit(
                    destination=destination, data_coding=int(request.data_coding or 0),
                    esm_class=int(request.esm_class or 0),
                    registered_delivery=int(request.registered_delivery or 0),
                    short_message=bytes(request.short_message or b""), status=status))
                message_id = f"m{self._message_ids}"
            return make_pdu("submit_sm_resp", client=self._sequence, status=status,
                            message_id=message_id)
        if command == "enquire_link":
            return make_pdu("enquire_link_resp", client=self._sequence)
        if command == "unbind":
            return make_pdu("unbind_resp", client=self._sequence)
        return make_pdu("generic_nack", client=self._sequence,
                        status=consts.SMPP_ESME_RINVCMDID)

    @staticmethod
    def _read(connection: socket.socket, size: int) -> bytes | None:
        chunks, received = [], 0
        while received < size:
            chunk = connection.recv(size - received)
            if not chunk:
                return None
            chunks.append(chunk)
            received += len(chunk)
        return b"".join(chunks)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
