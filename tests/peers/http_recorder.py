"""A real HTTP server on 127.0.0.1 that records requests and answers from a script.

    with HttpRecorder() as server:
        server.script = [(503, {}, b"busy"), (200, {"Content-Type": "application/json"}, b"{}")]
        ... POST to server.url("/push") ...
        assert len(server.requests) == 2

When the script runs out, it answers ``default`` (200, empty JSON object).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class HttpRecorder:
    script: list[Reply] = field(default_factory=list)
    default: Reply = (200, {"Content-Type": "application/json"}, b"{}")
    delay_s: float = 0.0  # sleep before answering, to provoke client timeouts
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with recorder._lock:
                    recorder.requests.append(RecordedRequest(
                        self.command, self.path, dict(self.headers.items()), body))
                    status, headers, payload = (
                        recorder.script.pop(0) if recorder.script else recorder.default)
                if recorder.delay_s:
                    time.sleep(recorder.delay_s)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> HttpRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
