"""A small, real Telegram Bot API server on 127.0.0.1, for testing the Telegram channel.

It answers ``getMe``, ``sendPhoto``, ``sendMessage`` and ``editMessageCaption`` in the Bot API's
JSON shapes, checks the token in the URL (``/bot<token>/<method>``), and records every request
with its parsed form fields and uploaded files (multipart). Failures are scripted per method:

    with FakeBotApi(token) as api:
        api.fail("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
        ... point the bot at api.base_url ...
        assert [c.method for c in api.calls] == ["getMe", "sendPhoto", "sendPhoto"]

A success can also be answered malformed, to see what a client makes of an answer it cannot
read after the server did act (the message is posted all the same):

    api.malform("sendPhoto", "not-json")  # or "no-result", "bad-message"
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Notice Bot",
            "username": "noticecast_test_bot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Upload:
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class ApiCall:
    method: str
    token: str
    content_type: str
    fields: dict[str, str]
    files: dict[str, Upload]

    def json_field(self, name: str) -> Any:
        return json.loads(self.fields[name])


@dataclass
class FakeBotApi:
    token: str
    delay_s: float = 0.0  # sleep before answering, to provoke client timeouts
    calls: list[ApiCall] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    malformed: dict[str, str] = field(default_factory=dict)  # method -> how success is garbled
    chat_id: int = -1001234567890
    deleted: set[int] = field(default_factory=set)  # message ids an admin deleted

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(101)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = api._answer(self.path, self.headers.get("Content-Type", ""),
                                              body)
                if api.delay_s:
                    time.sleep(api.delay_s)
                data = (payload if isinstance(payload, bytes)
                        else json.dumps(payload, ensure_ascii=False).encode("utf-8"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- the test's side -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` should be: the token is appended to it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def fail(self, method: str, status: int, description: str, *, retry_after: int | None = None,
             times: int = 1, migrate_to: int | None = None) -> None:
        payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        parameters: dict[str, Any] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to is not None:
            parameters["migrate_to_chat_id"] = migrate_to
        if parameters:
            payload["parameters"] = parameters
        self.failures.setdefault(method, []).extend([(status, payload)] * times)

    def malform(self, method: str, how: str = "not-json") -> None:
        """Answer every successful ``method`` call garbled: ``not-json`` (an HTML page),
        ``no-result`` (``{"ok": true}``) or ``bad-message`` (a result that is no Message)."""
        self.malformed[method] = how

    def of(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def __enter__(self) -> FakeBotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the server's side -----------------------------------------------------------------

    def _answer(self, path: str, content_type: str, body: bytes
                ) -> tuple[int, dict[str, Any] | bytes]:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = parts[0][3:], parts[1]
        fields, files = _parse_body(content_type, body)
        with self._lock:
            self.calls.append(ApiCall(method, token, content_type, fields, files))
            if token != self.token:
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            pending = self.failures.get(method)
            if pending:
                return pending.pop(0)
            status, payload = self._result(method, fields, files)
            how = self.malformed.get(method)
            if status != 200 or how is None:
                return status, payload
            if how == "not-json":
                return 200, b"<html><body>502 upstream answered</body></html>"
            if how == "no-result":
                return 200, {"ok": True}
            return 200, {"ok": True, "result": {"message_id": "not-a-number"}}

    def _result(self, method: str, fields: dict[str, str],
                files: dict[str, Upload]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        chat = {"id": self.chat_id, "type": "channel", "title": "公告公示",
                "username": fields.get("chat_id", "@channel").lstrip("@")}
        message: dict[str, Any] = {"date": int(time.time()), "chat": chat,
                                   "sender_chat": chat}
        if "reply_markup" in fields:
            message["reply_markup"] = json.loads(fields["reply_markup"])
        if method == "sendPhoto":
            if "photo" not in files:
                return 400, {"ok": False, "error_code": 400,
                             "description": "Bad Request: there is no photo in the request"}
            size = len(files["photo"].data)
            message.update(message_id=next(self._ids), caption=fields.get("caption", ""),
                           photo=[{"file_id": f"photo-{size}", "file_unique_id": f"u{size}",
                                   "width": 1080, "height": 1920, "file_size": size}])
            reply = fields.get("reply_parameters")
            if reply:
                message["reply_to_message"] = {
                    "message_id": json.loads(reply)["message_id"], "date": 0, "chat": chat}
            return 200, {"ok": True, "result": message}
        if method == "sendMessage":
            message.update(message_id=next(self._ids), text=fields.get("text", ""))
            return 200, {"ok": True, "result": message}
        if method in ("editMessageCaption", "editMessageMedia"):
            caption = fields.get("caption", "")
            if method == "editMessageMedia":
                media = json.loads(fields.get("media", "{}"))
                attached = str(media.get("media", "")).removeprefix("attach://")
                if media.get("type") != "photo" or attached not in files:
                    return 400, {"ok": False, "error_code": 400,
                                 "description": "Bad Request: there is no photo in the request"}
                caption = media.get("caption", "")
            if int(fields["message_id"]) in self.deleted:
                return 400, {"ok": False, "error_code": 400,
                             "description": "Bad Request: message to edit not found"}
            message.update(message_id=int(fields["message_id"]),
                           caption=caption, edit_date=int(time.time()),
                           photo=[{"file_id": "photo", "file_unique_id": "u", "width": 1080,
                                   "height": 1920}])
            return 200, {"ok": True, "result": message}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """Form fields and uploaded files of a urlencoded, JSON or multipart/form-data body."""
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None or part.get_content_type() not in ("text/plain",):
                files[str(name)] = Upload(filename, part.get_content_type(), data)
            else:
                fields[str(name)] = data.decode(part.get_content_charset() or "utf-8")
    elif content_type.startswith("application/json"):
        fields = {k: v if isinstance(v, str) else json.dumps(v)
                  for k, v in json.loads(body or b"{}").items()}
    elif body:
        fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()}
    return fields, files
