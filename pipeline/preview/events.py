"""Server-Sent Events: the open pages learn that a build finished and fetch what changed.

Each page holds one EventSource on /events. The first event (``hello``) carries the current
build generation, so a page that loaded just before a build learns at once that it is stale.
Events are small JSON: the generation, whether a build is running and the notice ids that
changed; the page then re-fetches itself and swaps only the sections that differ.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

KEEPALIVE_SECONDS = 15.0
QUEUE_LIMIT = 64  # a page that stops reading loses old events, never blocks the server


def format_event(event: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n"


class Broadcaster:
    """Fan-out of events to every connected page; used from the event loop only."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str | None]] = set()
        self.closed = False

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        message = format_event(event, data)
        for queue in list(self._queues):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    def close(self) -> None:
        """End every stream (on shutdown), so that the server does not wait for them."""
        self.closed = True
        for queue in list(self._queues):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def stream(self, hello: dict[str, Any]) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.add(queue)
        try:
            # retry: how soon the browser reconnects when the server restarts.
            yield "retry: 1000\n" + format_event("hello", hello)
            while not self.closed:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if message is None:
                    break
                yield message
        finally:
            self._queues.discard(queue)


def event_response(request: Request, broadcaster: Broadcaster,
                   hello: dict[str, Any]) -> StreamingResponse:
    return StreamingResponse(
        broadcaster.stream(hello), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
