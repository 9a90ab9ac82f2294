"""The callback endpoint of the HTTP SMS gateway: receipts and replies, posted to us.

``noticecast serve-callbacks`` runs this server (on 127.0.0.1 unless told otherwise; put a
TLS proxy in front of it to open it to a gateway). Every request carries the shared secret,
as ``Authorization: Bearer <secret>`` or ``X-Noticecast-Secret: <secret>``; the secret comes
from the environment variable ``channels.sms.http.callback_secret_env`` names.

* ``POST /sms/receipt`` ``{"message_id": "gw-42", "status": "DELIVRD", "error": "000"}``: the
  status is an SMSC's (``DELIVRD``, ``UNDELIV``, ``EXPIRED``, …) or ours (``delivered``,
  ``undeliverable``, ``expired``); the message id is the one the gateway answered the send
  with. Answers ``{"state": "handset-delivered"}`` (``null`` for a state on the way).
* ``POST /sms/reply`` ``{"from": "+8613800000001", "text": "T"}``: answers
  ``{"opted_out": true}`` when the text is an opt-out word.

A wrong secret is 401, a malformed body 400, anything else 404. One request at a time: the
ledger is written from one thread.
"""

from __future__ import annotations

import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from channels.sms_inbox import HandsetReceipt, SmsInbox

log = logging.getLogger("noticecast.sms")
MAX_BODY = 64 * 1024
STATUS_ALIASES = {"DELIVERED": "DELIVRD", "HANDSET-DELIVERED": "DELIVRD"}


class CallbackServer(HTTPServer):
    def __init__(self, address: tuple[str, int], inbox: SmsInbox, secret: str) -> None:
        super().__init__(address, _Handler)
        self.inbox = inbox
        self.secret = secret

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: CallbackServer
    server_version = "noticecast-callbacks"

    def do_POST(self) -> None:  # the name http.server calls
        if not self._authorised():
            self._answer(401, {"error": "a wrong or missing secret"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, {"error": f"at most {MAX_BODY} bytes"})
            return
        try:
            data = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            self._answer(400, {"error": "the body is not JSON"})
            return
        if not isinstance(data, dict):
            self._answer(400, {"error": "the body must be a JSON object"})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/sms/receipt":
            self._receipt(data)
        elif path == "/sms/reply":
            self._reply(data)
        else:
            self._answer(404, {"error": "POST /sms/receipt or /sms/reply"})

    def do_GET(self) -> None:
        self._answer(404, {"error": "POST /sms/receipt or /sms/reply"})

    def _authorised(self) -> bool:
        given = self.headers.get("X-Noticecast-Secret") or ""
        bearer = self.headers.get("Authorization") or ""
        if bearer.startswith("Bearer "):
            given = given or bearer.removeprefix("Bearer ")
        return bool(given) and hmac.compare_digest(given.encode(), self.server.secret.encode())

    def _receipt(self, data: dict[str, Any]) -> None:
        message_id, status = data.get("message_id"), data.get("status")
        if not (isinstance(message_id, str) and message_id and isinstance(status, str)):
            self._answer(400, {"error": "a receipt needs 'message_id' and 'status' (text)"})
            return
        stat = status.strip().upper()
        error = data.get("error")
        receipt = HandsetReceipt(message_id=message_id, stat=STATUS_ALIASES.get(stat, stat),
                                 error=str(error) if error is not None else None)
        state = self.server.inbox.receipt(receipt, source="http callback")
        self._answer(200, {"state": state})

    def _reply(self, data: dict[str, Any]) -> None:
        sender, text = data.get("from"), data.get("text")
        if not (isinstance(sender, str) and isinstance(text, str)):
            self._answer(400, {"error": "a reply needs 'from' and 'text' (text)"})
            return
        self._answer(200, {"opted_out": self.server.inbox.reply(sender, text,
                                                                source="http callback")})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line has no phone (phones are in bodies); keep it out of stderr anyway.
        log.debug("callback: " + format, *args)
