"""Running the desk: bound to 127.0.0.1 only, in the foreground (CLI) or in a thread (tests).

The socket is bound here, before uvicorn starts, so that the address can be nothing but the
loopback interface, a busy port is a clear one-line error, and port 0 gives a free port whose
number the caller learns.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from dataclasses import dataclass
from types import FrameType

import uvicorn

from pipeline.errors import NoticecastError
from pipeline.preview.app import Desk, create_app
from pipeline.preview.state import PreviewState

HOST = "127.0.0.1"  # never configurable: the desk shows unpublished notices


class PortInUseError(NoticecastError):
    """The port the preview was asked to use is taken."""


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {HOST} is in use; stop the other program or choose another "
                "port with --port") from None
        raise PortInUseError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


class DeskServer(uvicorn.Server):
    """uvicorn, plus ending the desk's event streams as soon as it is asked to stop.

    Without this the open EventSource streams would hold the graceful shutdown for its
    whole timeout.
    """

    def __init__(self, config: uvicorn.Config, desk: Desk) -> None:
        super().__init__(config)
        self.desk = desk

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.desk.request_shutdown()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Ask the server to stop, from any thread."""
        self.desk.request_shutdown()
        self.should_exit = True


def make_server(state: PreviewState, *, watch: bool = True, log_level: str = "warning"
                ) -> DeskServer:
    app = create_app(state, watch=watch)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, ws="none")
    return DeskServer(config, app.state.desk)


def serve(state: PreviewState, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve in the foreground until Ctrl-C."""
    server = make_server(state, log_level=log_level)
    server.run(sockets=[sock])


@dataclass
class BackgroundPreview:
    """A desk running in a daemon thread, for tests: ``with BackgroundPreview.start(...)``."""

    server: DeskServer
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def start(cls, state: PreviewState, *, watch: bool = True, timeout: float = 300.0
              ) -> BackgroundPreview:
        sock = bind(0)
        port = sock.getsockname()[1]
        server = make_server(state, watch=watch)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name="noticecast-preview", daemon=True)
        thread.start()
        # The initial build runs in the app's start-up, before the server says it started.
        deadline = time.monotonic() + timeout
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.05)
        if not server.started:
            server.stop()
            raise RuntimeError("the preview server did not start")
        return cls(server, thread, port)

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(10)

    def __enter__(self) -> BackgroundPreview:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
