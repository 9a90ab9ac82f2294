"""One HTTP POST with the one classification that every HTTP channel uses.

* never connected (refused, DNS, connect timeout): ``TransientError``, nothing was sent;
* sent but no answer in time: ``InDoubtError``; the far side may have acted on it, so an
  at-most-once channel waits for an operator while an idempotent one simply retries;
* 5xx, 408, 425, 429: ``TransientError``, with the far side's Retry-After when it gave one;
* any other 4xx: ``PermanentError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from pipeline.errors import InDoubtError, PermanentError, TransientError

TRANSIENT_4XX = frozenset({408, 425, 429})


def post(client: httpx.Client, url: str, *, what: str, **request: Any) -> httpx.Response:
    """POST and classify; ``what`` names the call in errors (no secrets, phones masked)."""
    shown = without_credentials(url)
    try:
        response = client.post(url, **request)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise TransientError(f"{what}: cannot reach {shown}: {type(exc).__name__}") from None
    except httpx.TimeoutException:
        seconds = client.timeout.read
        raise InDoubtError(f"{what}: {shown} did not answer within {seconds:g} s; it may "
                           "have been received") from None
    except httpx.TransportError as exc:
        raise TransientError(f"{what}: cannot reach {shown}: {type(exc).__name__}") from None
    status = response.status_code
    if status >= 500 or status in TRANSIENT_4XX:
        raise TransientError(f"{what}: {shown} answered {status} {response.reason_phrase}; "
                             "will retry", retry_after=retry_after(response))
    if status >= 400:
        raise PermanentError(f"{what}: {shown} refused it with {status} "
                             f"{response.reason_phrase}: {snippet(response)}")
    return response


def without_credentials(url: str) -> str:
    """The URL without user:password@ and without a query, fit for logs and the ledger."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return (text[:160] + "…") if len(text) > 160 else (text or "(no body)")
