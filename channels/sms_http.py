"""SMS through an HTTP gateway: one JSON POST a message, a bearer token from the environment.

The body carries the phone (E.164), the parts as we cut them, their text and encoding, and the
digest id; ``Idempotency-Key`` lets a gateway that supports it drop a repeated request. A 5xx,
a 429, a timeout or a refused connection is transient; any other 4xx is permanent (a wrong
number, a wrong token: retrying will not help). Neither the token nor the phone appears in an
error message (the phone is masked).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from pipeline.config import HttpSmsSettings
from pipeline.errors import PermanentError, TransientError
from pipeline.renderers.sms_segment import encoding_of
from pipeline.subscribers import mask_phone

log = logging.getLogger("noticecast.sms")


class HttpSmsTransport:
    name = "http"

    def __init__(self, settings: HttpSmsSettings, token: str,
                 client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._token = token
        self._client = client or httpx.Client(timeout=settings.timeout_s)

    def send(self, phone: str, parts: Sequence[str], digest_id: str,
             reference_key: str) -> tuple[str, dict[str, Any]]:
        masked = mask_phone(phone)
        text = "".join(parts)
        body = {"to": phone, "parts": list(parts), "text": text,
                "encoding": encoding_of(text), "digest_id": digest_id}
        headers = {"Authorization": f"Bearer {self._token}",
                   "Idempotency-Key": f"{digest_id}:{reference_key}"}
        try:
            response = self._client.post(self.settings.url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientError(f"SMS gateway timed out after {self.settings.timeout_s} s "
                                 f"(to {masked})") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"SMS gateway unreachable: {type(exc).__name__} "
                                 f"(to {masked})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(f"SMS gateway answered {status} (to {masked})",
                                 retry_after=_retry_after(response))
        if status >= 400:
            raise PermanentError(f"SMS gateway refused the message with {status} (to {masked})")
        remote_id = _message_id(response)
        log.info("sms: %d part(s) of %s accepted by the gateway for %s", len(parts), digest_id,
                 masked)
        return remote_id, {"status": status}

    def close(self) -> None:
        self._client.close()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _message_id(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        return str(data.get("id") or data.get("message_id") or "")
    return ""
