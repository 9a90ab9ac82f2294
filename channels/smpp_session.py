"""One SMPP 3.4 session over a socket: bind, requests and their answers, what the SMSC sends.

smpplib's ``Client`` reads one PDU at a time and cannot tell "no answer yet" from "the link
died", nor keep several requests open; this module uses smpplib only for the PDU classes
(encoding and decoding) and keeps the session itself:

* ``open`` connects and binds as transmitter, receiver or transceiver;
* ``send`` writes a request and returns its sequence number, without waiting (a window of
  several ``submit_sm`` is open at once);
* ``next_response`` reads until an answer comes, answering on the way what the SMSC asks:
  ``enquire_link`` (we are alive), ``deliver_sm`` (a receipt or a reply, handed to
  ``on_deliver`` before it is acknowledged), an ``unbind`` from the SMSC;
* ``listen`` only reads and answers, for a time (receipts after the last text);
* ``close`` unbinds (waiting briefly for ``unbind_resp``) and disconnects.

A read that times out raises ``SessionTimeout``; a closed or broken link ``SessionLost``. Both
leave the session unusable: the caller decides what an unanswered request means.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, NoReturn

from smpplib import consts
from smpplib.smpp import make_pdu, parse_pdu

log = logging.getLogger("noticecast.sms")

BIND_COMMANDS = {"transmitter": "bind_transmitter", "receiver": "bind_receiver",
                 "transceiver": "bind_transceiver"}
MAX_PDU = 64 * 1024


class SessionLost(Exception):
    """The link closed or broke."""


class SessionTimeout(Exception):
    """No PDU arrived in time."""


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(consts.DESCRIPTIONS.get(status, f"status 0x{status:08X}"))
        self.status = status


class _Sequence:
    """What smpplib's PDU classes ask of a client: the sequence counter."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence


class SmppSession:
    def __init__(self, host: str, port: int, *, mode: str, timeout: float,
                 on_deliver: Callable[[Any], None] | None = None) -> None:
        self.host, self.port, self.mode, self.timeout = host, port, mode, timeout
        self.on_deliver = on_deliver
        self.bound = False
        self._socket: socket.socket | None = None
        self._buffer = b""
        self._sequence = _Sequence()

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # -- bind and unbind ----------------------------------------------------------------

    def open(self, system_id: str, password: str) -> None:
        """Connect and bind; raises OSError (cannot connect), BindRefused, SessionLost or
        SessionTimeout."""
        self._socket = socket.create_connection((self.host, self.port), timeout=self.timeout)
        command = BIND_COMMANDS[self.mode]
        sequence = self.send(command, system_id=system_id, password=password,
                             system_type="", interface_version=0x34, addr_ton=0, addr_npi=0,
                             address_range="")
        answer = self.next_response(sequence)
        if answer.status != consts.SMPP_ESME_ROK:
            self.close(unbind=False)
            raise BindRefused(int(answer.status))
        self.bound = True

    def close(self, *, unbind: bool = True) -> None:
        """Unbind (when still bound) and disconnect; never raises."""
        if unbind and self.bound:
            with contextlib.suppress(SessionLost, SessionTimeout, OSError):
                self.next_response(self.send("unbind"), timeout=min(self.timeout, 2.0))
        self.bound = False
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None

    # -- requests and answers -----------------------------------------------------------

    def send(self, command: str, **fields: Any) -> int:
        """Write a request; returns its sequence number. Raises SessionLost."""
        if self._socket is None:
            raise SessionLost("not connected")
        pdu = make_pdu(command, client=self._sequence, allow_unknown_opt_params=True, **fields)
        self._write(pdu.generate())
        return int(pdu.sequence)

    def _write(self, data: bytes) -> None:
        assert self._socket is not None
        self._socket.settimeout(self.timeout)
        try:
            self._socket.sendall(data)
        except OSError as exc:
            self._lost(str(exc) or type(exc).__name__)

    def next_response(self, sequence: int | None = None, *, timeout: float | None = None
                      ) -> Any:
        """The next answer (to ``sequence``, when given; else to any request), handling what
        the SMSC asks meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            pdu = self._read(deadline)
            if pdu.is_request() or pdu.command in ("deliver_sm", "enquire_link", "unbind"):
                self._serve(pdu)
                continue
            if pdu.command == "generic_nack" or sequence is None or pdu.sequence == sequence:
                return pdu

    def listen(self, seconds: float) -> None:
        """Read and answer what the SMSC sends (receipts, replies) for ``seconds``; with 0,
        only what has arrived already. Raises SessionLost when the link is gone."""
        deadline = time.monotonic() + seconds
        while self._socket is not None:
            try:
                pdu = self._read(deadline)
            except SessionTimeout:
                return
            if pdu.is_request():
                self._serve(pdu)

    def _serve(self, pdu: Any) -> None:
        command = pdu.command
        if command == "deliver_sm":
            # Hand it over first: the SMSC may forget it once it is acknowledged.
            if self.on_deliver is not None:
                try:
                    self.on_deliver(pdu)
                except Exception:
                    log.exception("sms: could not record what the SMSC sent; not acknowledged")
                    return
            self._answer(pdu, "deliver_sm_resp", message_id="")
        elif command == "enquire_link":
            self._answer(pdu, "enquire_link_resp")
        elif command == "unbind":
            self._answer(pdu, "unbind_resp")
            self.bound = False
            raise SessionLost("the SMSC unbound")
        else:
            self._answer(pdu, "generic_nack", status=consts.SMPP_ESME_RINVCMDID)

    def _answer(self, request: Any, command: str, **fields: Any) -> None:
        if self._socket is None:
            return
        reply = make_pdu(command, client=self._sequence, **fields)
        reply.sequence = request.sequence
        self._write(reply.generate())

    # -- reading --------------------------------------------------------------------------

    def _read(self, deadline: float) -> Any:
        while True:
            if len(self._buffer) >= 4:
                length = struct.unpack(">L", self._buffer[:4])[0]
                if not 16 <= length <= MAX_PDU:
                    self._lost(f"a malformed PDU (length {length})")
                if len(self._buffer) >= length:
                    data, self._buffer = self._buffer[:length], self._buffer[length:]
                    try:
                        pdu = parse_pdu(data, client=self._sequence,
                                        allow_unknown_opt_params=True)
                    except Exception as exc:  # smpplib raises many kinds on a bad PDU
                        self._lost(f"a malformed PDU ({type(exc).__name__})")
                    if pdu is None:
                        self._lost("an unknown PDU")
                    return pdu
            self._receive(deadline)

    def _receive(self, deadline: float) -> None:
        if self._socket is None:
            raise SessionLost("not connected")
        # Past the deadline, one look without waiting (a poll) still reads what is there.
        self._socket.settimeout(max(deadline - time.monotonic(), 0.0))
        try:
            chunk = self._socket.recv(65536)
        except (TimeoutError, BlockingIOError):
            raise SessionTimeout() from None
        except OSError as exc:
            self._lost(str(exc) or type(exc).__name__)
        if not chunk:
            self._lost("connection closed by the SMSC")
        self._buffer += chunk

    def _lost(self, why: str) -> NoReturn:
        self.bound = False
        with contextlib.suppress(OSError):
            if self._socket is not None:
                self._socket.close()
        self._socket = None
        raise SessionLost(why)
