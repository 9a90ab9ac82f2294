"""The WeChat Official Account API (公众号接口): the access token and one classified call.

The calls the wechat channel needs (``draft/add``, ``freepublish/submit|get|delete``,
``material/add_material``, ``media/uploadimg``) are plain HTTPS with JSON or multipart bodies.
wechatpy's last release (1.8) has neither the draft nor the freepublish calls, and its client
re-sends a call by itself after a token error, so this module speaks to the API with httpx.

**The access token.** It comes from ``stable_token`` (POST, the secret in the JSON body, so it
is never part of a URL that a library might log) and is kept with its expiry in the project's
state folder (``.noticecast/wechat-token.json``, mode 0600), so that each run does not fetch a
new one; it is used until five minutes before it expires (WeChat renews it then). A call
answered 40001/40014/42001 (token invalid or expired) fetches a fresh one and is made again,
once: the answer proved the call was refused, so repeating it cannot publish twice. The token
is part of every call's URL; while a call runs, a log filter rewrites it out of httpx's records,
and no error message carries a URL's query.

**Errors.** ``call`` raises:

* ``TransientError``: 45009/45011 (quota), -1 (system busy), 5xx, a connection that failed, and
  (unless the call is ``sent_matters``) a timeout or an answer that is not JSON;
* ``InDoubtError``: for a ``sent_matters`` call (``freepublish/submit``), a timeout, a 5xx or an
  unreadable answer after the request went out: it may have been published;
* ``PermanentError``: every other error code, with the message in Chinese and English for the
  ones an office must act on: 40164 (this server's IP is not whitelisted), 48001 (no permission),
  40125/40001 on the token call (a wrong AppSecret), 40013 (a wrong AppID).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.errors import InDoubtError, PermanentError, TransientError
from pipeline.redact import filtering_loggers

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / token, expired token
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})  # system busy, daily / minute quota
TOKEN_MARGIN_S = 300.0  # WeChat renews a stable token five minutes before it expires
REDACTED = "<redacted>"
_LOGGERS = ("httpx", "httpcore")
_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s'\"]+")


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # seconds since the epoch


class TokenCache:
    """The access token between runs: one JSON file in the state folder, never in out/."""

    def __init__(self, path: Path, app_id: str) -> None:
        self.path = path
        self.app_id = app_id

    def load(self, now: float) -> Token | None:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            token = Token(str(data["access_token"]), float(data["expires_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: fetch a new one
        if data.get("app_id") != self.app_id or token.expires_at - TOKEN_MARGIN_S <= now:
            return None
        return token

    def save(self, token: Token) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps({"app_id": self.app_id, "access_token": token.value,
                           "expires_at": token.expires_at}).encode("utf-8")
        # Created 0600: the token lets anyone with it publish as the account.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(handle, data)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str
    data: bytes
    media_type: str


class WechatApi:
    """One account's API: a token, and calls that either answer a dict or raise classified."""

    def __init__(self, *, app_id: str, secret: str, base_url: str, cache: TokenCache,
                 timeout_s: float, clock: Callable[[], float] = time.time) -> None:
        self.app_id = app_id
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.cache = cache
        self.clock = clock
        self._client = httpx.Client(timeout=timeout_s)
        self._token: Token | None = None

    def __repr__(self) -> str:  # never show the secret or the token
        return f"WechatApi(app_id={self.app_id!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    # -- the token -------------------------------------------------------------------------

    def token(self) -> str:
        now = self.clock()
        if self._token is None or self._token.expires_at - TOKEN_MARGIN_S <= now:
            self._token = self.cache.load(now) or self._fetch_token()
        return self._token.value

    def _fetch_token(self) -> Token:
        body = {"grant_type": "client_credential", "appid": self.app_id,
                "secret": self._secret, "force_refresh": False}
        answer = self._post("stable_token", None, json_body=body, sent_matters=False)
        code = _errcode(answer)
        if code in (40001, 40125):
            raise PermanentError(
                f"wechat {self.app_id}: AppSecret 无效，无法获取 access_token ({code}); the app "
                "secret was rejected: check the environment variable named by "
                "channels.wechat.secret_env (reset it under 设置与开发 › 基本配置 if needed)")
        if code:
            self._raise(code, answer, "stable_token", sent_matters=False)
        try:
            token = Token(str(answer["access_token"]),
                          self.clock() + float(answer.get("expires_in", 7200)))
        except (KeyError, TypeError, ValueError):
            raise TransientError(f"wechat {self.app_id}: stable_token answered without an "
                                 "access_token; will retry") from None
        # An unwritable state folder costs a token fetch per run, not the delivery.
        with suppress(OSError):
            self.cache.save(token)
        return token

    def _forget_token(self) -> None:
        self._token = None
        self.cache.clear()

    # -- calls -----------------------------------------------------------------------------

    def call(self, api: str, *, json_body: Mapping[str, Any] | None = None,
             upload: Upload | None = None, query: Mapping[str, str] | None = None,
             sent_matters: bool = False, accept: frozenset[int] = frozenset()
             ) -> dict[str, Any]:
        """POST ``/cgi-bin/<api>`` with the token; a token error fetches a new one and calls
        again, once. ``sent_matters``: an unknown outcome is in doubt, not transient.
        ``accept``: error codes that are an answer here, not an error."""
        for attempt in (1, 2):
            params = {"access_token": self.token(), **(query or {})}
            answer = self._post(api, params, json_body=json_body, upload=upload,
                                sent_matters=sent_matters)
            code = _errcode(answer)
            if code in TOKEN_ERRORS and attempt == 1:
                self._forget_token()
                continue
            if code and code not in accept:
                self._raise(code, answer, api, sent_matters=sent_matters)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, api: str, params: Mapping[str, str] | None, *,
              json_body: Mapping[str, Any] | None = None, upload: Upload | None = None,
              sent_matters: bool) -> dict[str, Any]:
        url = f"{self.base_url}/cgi-bin/{api}"
        where = f"wechat {self.app_id}: {api}"
        request: dict[str, Any] = {"params": dict(params or {})}
        if json_body is not None:
            # UTF-8 as it is: WeChat shows \\u escapes literally in titles and text.
            request["content"] = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            request["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        if upload is not None:
            request["files"] = {upload.field: (upload.filename, upload.data,
                                               upload.media_type)}
        error: Exception | None = None
        with _redacted_logs(self._secret):
            try:
                response = self._client.post(url, **request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = TransientError(f"{where}: cannot reach {self.base_url}: "
                                       f"{type(exc).__name__}")
            except httpx.TimeoutException:
                error = self._unknown(where, f"no answer within {self._client.timeout.read:g} s",
                                      sent_matters)
            except httpx.HTTPError as exc:
                error = self._unknown(where, f"the connection failed ({type(exc).__name__})",
                                      sent_matters)
        if error is not None:
            raise error
        if response.status_code >= 500:
            raise self._unknown(where, f"answered {response.status_code} "
                                f"{response.reason_phrase}", sent_matters)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._unknown(where, f"answered {response.status_code} without a JSON "
                                "object", sent_matters)
        return answer

    @staticmethod
    def _unknown(where: str, what: str, sent_matters: bool) -> Exception:
        if sent_matters:
            return InDoubtError(f"{where}: {what}; it may have been published: check the "
                                "account's 发表记录 before resolving this delivery")
        return TransientError(f"{where}: {what}; nothing was published, will retry")

    def _raise(self, code: int, answer: Mapping[str, Any], api: str, *,
               sent_matters: bool) -> None:
        where = f"wechat {self.app_id}: {api}"
        message = str(answer.get("errmsg", "")).replace(self._secret, REDACTED)
        if self._token is not None:
            message = message.replace(self._token.value, REDACTED)
        if code in TRANSIENT_ERRORS:
            raise TransientError(f"{where}: 接口繁忙或调用超过限额 ({code} {message}); WeChat "
                                 "is busy or the quota is used up, will retry")
        if code == 40164:
            raise PermanentError(
                f"{where}: 调用接口的IP地址不在白名单中 ({code} {message}); this server's IP "
                "address is not on the account's IP whitelist: add it under 设置与开发 › "
                "基本配置 › IP白名单")
        if code == 48001:
            raise PermanentError(
                f"{where}: 公众号没有该接口的权限 ({code} {message}); the account is not "
                "authorised for this API: check 接口权限 in the 公众平台 (drafts and "
                "publishing need a verified account)")
        if code == 40013:
            raise PermanentError(f"{where}: AppID 无效 ({code} {message}); the app id is "
                                 "wrong: check channels.wechat.app_id")
        if code in TOKEN_ERRORS:
            raise PermanentError(f"{where}: access_token 被拒绝 ({code} {message}); the "
                                 "access token was refused twice in a row: check the "
                                 "app id and secret")
        raise PermanentError(f"{where}: 微信拒绝了请求 ({code} {message}); WeChat refused "
                             "the request")


def _errcode(answer: Mapping[str, Any]) -> int:
    try:
        return int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1  # unreadable: treated as WeChat's "system busy"


class _Redact(logging.Filter):
    """Rewrites a log record so that neither the token nor the secret reaches a handler."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN_IN_URL.sub(rf"\g<1>{REDACTED}", message)
        if self.secret:
            cleaned = cleaned.replace(self.secret, REDACTED)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


@contextmanager
def _redacted_logs(secret: str) -> Iterator[None]:
    """Mask the secret in httpx's and httpcore's log records for the length of one call."""
    with filtering_loggers(_LOGGERS, _Redact(secret)):
        yield


__all__ = ["TokenCache", "Upload", "WechatApi"]
