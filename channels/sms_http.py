"""SMS through an HTTP gateway: one JSON POST a message, a bearer token from the environment.

The body carries the phone (E.164), the parts as we cut them, their text and encoding, and the
digest id; ``Idempotency-Key`` lets a gateway that supports it drop a repeated request. A 5xx,
a 429, a timeout or a refused connection is transient; any other 4xx is permanent (a wrong
number, a wrong token: retrying will not help). The message id the gateway answers with is
kept with the ledger, so that its receipts (posted to ``noticecast serve-callbacks``) match.
Neither the token nor the phone appears in an error message (the phone is masked).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from channels.http import post
from pipeline.config import HttpSmsSettings
from pipeline.renderers.sms_segment import encoding_of
from pipeline.subscribers import mask_phone

if TYPE_CHECKING:
    from channels.sms_inbox import SmsInbox

log = logging.getLogger("noticecast.sms")


class HttpSmsTransport:
    name = "http"

    def __init__(self, settings: HttpSmsSettings, token: str,
                 client: httpx.Client | None = None, inbox: SmsInbox | None = None) -> None:
        self.settings = settings
        self._token = token
        self._client = client or httpx.Client(timeout=settings.timeout_s)
        self.inbox = inbox

    def send(self, phone: str, parts: Sequence[str], digest_id: str,
             reference_key: str) -> tuple[str, dict[str, Any]]:
        masked = mask_phone(phone)
        text = "".join(parts)
        body = {"to": phone, "parts": list(parts), "text": text,
                "encoding": encoding_of(text), "digest_id": digest_id}
        headers = {"Authorization": f"Bearer {self._token}",
                   "Idempotency-Key": f"{digest_id}:{reference_key}"}
        response = post(self._client, self.settings.url, what=f"SMS gateway (to {masked})",
                        json=body, headers=headers)
        status = response.status_code
        remote_id = _message_id(response)
        if self.inbox is not None and remote_id:
            # The gateway's receipts (`noticecast serve-callbacks`) name this id.
            self.inbox.sent(reference_key, digest_id, [(1, 1, remote_id)])
        log.info("sms: %d part(s) of %s accepted by the gateway for %s", len(parts), digest_id,
                 masked)
        return remote_id, {"status": status}

    def close(self) -> None:
        self._client.close()


def _message_id(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        return str(data.get("id") or data.get("message_id") or "")
    return ""
