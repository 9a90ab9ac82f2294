"""A real SMPP 3.4 peer (a tiny SMSC) on 127.0.0.1, built on smpplib's PDU classes.

    with SmppPeer() as peer:
        peer.submit_script = [consts.SMPP_ESME_RTHROTTLED]   # the first submit_sm is throttled
        ... connect to 127.0.0.1:peer.port, bind_transmitter, submit_sm ...
        assert peer.texts() == [("8613800000001", "whole text")]

It accepts bind_transmitter (checking system_id and password), submit_sm, enquire_link and
unbind; records every PDU it receives; answers the submits from ``submit_script`` (a list of
command statuses, then ESME_ROK); refuses destinations in ``invalid_destinations`` with
ESME_RINVDSTADR; and reassembles concatenated messages from their user data headers.
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
        pending: dict[tuple[str, int], list[Submit]] = {}
        for submit in self.accepted:
            udh = submit.udh
            if udh is None:
                done.append((submit.destination, submit.text))
                continue
            reference, total, number = udh
            parts = pending.setdefault((submit.destination, reference), [])
            if number != len(parts) + 1:
                raise AssertionError(f"part {number} of {total} arrived after {len(parts)}")
            parts.append(submit)
            if number == total:
                done.append((submit.destination, "".join(p.text for p in parts)))
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
        while True:
            head = self._read(connection, 4)
            if head is None:
                return
            length = struct.unpack(">L", head)[0]
            body = self._read(connection, length - 4) or b""
            request = parse_pdu(head + body, client=self._sequence)
            with self._lock:
                self.commands.append(request.command)
            reply = self._answer(request)
            if reply is not None:
                reply.sequence = request.sequence
                connection.sendall(reply.generate())
            if request.command == "unbind":
                return
            if request.command == "submit_sm" and reply is not None and not reply.is_error():
                accepted_here += 1
                if self.drop_after_submits is not None and (
                        accepted_here >= self.drop_after_submits):
                    return

    def _answer(self, request: Any) -> Any:
        command = request.command
        if command == "bind_transmitter":
            system_id, password = _text(request.system_id), _text(request.password)
            with self._lock:
                self.binds.append({"system_id": system_id, "password": password})
            ok = system_id == self.system_id and password == self.password
            status = consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD
            return make_pdu("bind_transmitter_resp", client=self._sequence, status=status,
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
