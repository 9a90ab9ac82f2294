"""The Telegram channel: the card, its caption and a 查看全文 button, posted to a chat.

It delivers with python-telegram-bot (v22): an ``ExtBot`` with PTB's ``AIORateLimiter``, which
keeps within Telegram's flood limits and, when Telegram answers 429 anyway, waits the
``retry_after`` it was told and tries again (``flood_retries`` times). That retry is safe for an
at-most-once channel: a 429 means the message was refused, not sent. Nothing else is retried
here; whether to try later is the publisher's decision, told by the error class:

* ``TransientError`` (retry later): 429 beyond the retries, with its ``retry_after``; network
  errors and timeouts; 5xx. A timeout after the upload may mean the message did arrive: the
  publisher's at-most-once policy decides what to do about that, not this adapter.
* ``PermanentError`` (never retried): 400 (a bad chat, a bad caption), 403 (the bot is not an
  admin of the channel), a rejected token, a chat that migrated.

Events: ``publish`` sends the photo; ``correction`` replies to the earlier message with the new
card, marked 【更正】; ``withdrawal`` edits the earlier message's caption to start with 【已撤回】
(the message stays, so the public record shows what was withdrawn); ``expiry`` sends nothing.

The bot token comes only from the environment variable the config names. It is part of every
Bot API URL, so PTB and httpx would log it (PTB at DEBUG, httpx at INFO) and PTB puts it into
the text of ``InvalidToken``: while a call runs, a filter redacts it from those loggers, and
every error message is scrubbed before it leaves this module. Without a token, the channel
writes what it would send (the call as JSON, without secrets, and the PNG) to its sink folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import warnings
from collections.abc import Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from channels.base import (
    Artifact,
    Delivery,
    DeliveryKind,
    InDoubtError,
    PermanentError,
    Receipt,
    Scope,
    Target,
    TransientError,
)
from pipeline.build import write_atomic
from pipeline.config import Config
from pipeline.renderers.caption import CORRECTION_MARK, WITHDRAWN_MARK, with_mark

CARD_NAME = "card-1080x1920.png"
CAPTION_NAME = "caption.txt"
BUTTON_TEXT = "查看全文"
REDACTED = "<token>"
_LOGGER_PREFIXES = ("telegram", "httpx", "httpcore")


@dataclass(frozen=True)
class Call:
    """One Bot API call, as data: what the sink writes and what the bot sends."""

    method: str  # Bot API name: sendPhoto, editMessageCaption
    params: dict[str, Any]
    photo: bytes | None = None

    def as_json(self, photo_name: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "params": self.params}
        if photo_name:
            data["photo"] = photo_name
        return data


class TelegramChannel:
    name: ClassVar[str] = "telegram"
    delivery: ClassVar[DeliveryKind] = "at-most-once"
    scope: ClassVar[Scope] = "notice"

    def __init__(self, *, token: str | None, base_url: str | None, sink: Path,
                 timeout_s: float = 30.0, flood_retries: int = 1) -> None:
        self._token = token
        self.base_url = base_url
        self.sink = sink
        self.timeout_s = timeout_s
        self.flood_retries = flood_retries

    def __repr__(self) -> str:  # never show the token, even in a debugger or a log
        mode = "bot api" if self._token else "sink"
        return f"TelegramChannel({mode}, base_url={self.base_url!r}, sink={str(self.sink)!r})"

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> TelegramChannel:
        settings = config.channels.telegram
        return cls(token=Config.secret(settings.token_env), base_url=settings.api_base_url,
                   sink=sink, timeout_s=settings.timeout_s,
                   flood_retries=settings.flood_retries)

    def targets(self, config: Config) -> list[Target]:
        # ``chat`` may name several chats, separated by commas: one target each.
        chats = [c.strip() for c in config.channels.telegram.chat.split(",") if c.strip()]
        return [Target(channel=self.name, key=chat, address={"chat_id": _chat_id(chat)},
                       label=chat) for chat in chats]

    # -- delivering ------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> Receipt:
        call = self.plan(delivery)
        details: dict[str, Any] = {"event": delivery.event, "revision": delivery.revision}
        if call is None:
            details["skipped"] = _skip_reason(delivery)
            return Receipt(channel=self.name, target_key=delivery.target.key, details=details)
        details["method"] = call.method
        if "reply_parameters" in call.params:
            details["reply_to"] = call.params["reply_parameters"]["message_id"]
        if self._token is None:
            remote_id = self._write_sink(delivery, call)
            details["sink"] = True
        else:
            remote_id = self._send(call, delivery.target)
        return Receipt(channel=self.name, target_key=delivery.target.key, remote_id=remote_id,
                       details=details)

    def withdraw(self, receipt: Receipt) -> None:
        """Nothing to take back here: a withdrawal is delivered as a ``withdrawal`` event,
        which edits the caption. Deleting the message would hide that it was ever sent."""

    def plan(self, delivery: Delivery) -> Call | None:
        """The Bot API call a delivery makes, or None when the event sends nothing."""
        card, caption, url = _card_parts(delivery)
        chat_id = delivery.target.address.get("chat_id", delivery.target.key)
        markup = {"inline_keyboard": [[{"text": BUTTON_TEXT, "url": url}]]}
        previous = delivery.previous.remote_id if delivery.previous else None
        if delivery.event == "withdrawal":
            if previous is None:
                return None
            return Call("editMessageCaption", {
                "chat_id": chat_id, "message_id": _message_id(previous),
                "caption": with_mark(caption, WITHDRAWN_MARK), "reply_markup": markup})
        if delivery.event == "expiry":
            return None
        params: dict[str, Any] = {"chat_id": chat_id, "caption": caption,
                                  "reply_markup": markup}
        if delivery.event == "correction":
            params["caption"] = with_mark(caption, CORRECTION_MARK)
            if previous is not None:
                # Still sent if the original was deleted: the correction must reach the chat.
                params["reply_parameters"] = {"message_id": _message_id(previous),
                                              "allow_sending_without_reply": True}
        return Call("sendPhoto", params, photo=card)

    # -- the sink --------------------------------------------------------------------------

    def _write_sink(self, delivery: Delivery, call: Call) -> str:
        stem = f"r{delivery.revision}-{delivery.event}-{_slug(delivery.target.key)}"
        folder = self.sink / delivery.notice_id
        photo_name = None
        if call.photo is not None:
            photo_name = f"{stem}.png"
            write_atomic(folder / photo_name, call.photo)
        record = call.as_json(photo_name)
        # The JSON goes last: its presence says the delivery is complete.
        write_atomic(folder / f"{stem}.json",
                     json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"))
        return f"sink:{delivery.notice_id}/{stem}"

    # -- the Bot API -----------------------------------------------------------------------

    def _send(self, call: Call, target: Target) -> str:
        assert self._token is not None
        _check_sendable(call, target)
        token = self._token
        error: Exception | None = None
        with _redacted_logs(token):
            try:
                message_id = _run(self._call(call))
            except Exception as exc:  # classified: every error leaves as a DeliveryError
                error = _classify(exc, token, target, call.method)
        if error is not None:
            # Raised outside the handler, so the original (whose text may hold the token, as
            # PTB's InvalidToken does) is not even kept as the implicit __context__.
            raise error
        return str(message_id)

    async def _call(self, call: Call) -> int:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
        from telegram.error import BadRequest
        from telegram.ext import AIORateLimiter, ExtBot
        from telegram.request import HTTPXRequest

        timeout = self.timeout_s
        request = HTTPXRequest(connection_pool_size=4, connect_timeout=timeout,
                               read_timeout=timeout, write_timeout=timeout,
                               media_write_timeout=timeout, pool_timeout=timeout)
        bot_args: dict[str, Any] = {"request": request,
                                    "rate_limiter": AIORateLimiter(
                                        max_retries=self.flood_retries)}
        if self.base_url:
            bot_args["base_url"] = self.base_url
        params = call.params
        button = params["reply_markup"]["inline_keyboard"][0][0]
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(button["text"], url=button["url"])]])
        assert self._token is not None
        async with ExtBot(self._token, **bot_args) as bot:
            if call.method == "editMessageCaption":
                try:
                    edited = await bot.edit_message_caption(
                        chat_id=params["chat_id"], message_id=params["message_id"],
                        caption=params["caption"], reply_markup=markup)
                except BadRequest as exc:
                    # Editing to the same caption again (a repeated withdrawal) is done.
                    if "not modified" in str(exc).lower():
                        return int(params["message_id"])
                    raise
                return edited.message_id if hasattr(edited, "message_id") \
                    else int(params["message_id"])
            reply = params.get("reply_parameters")
            # A file name ending in .png makes the upload image/png, not octet-stream.
            photo = InputFile(call.photo, filename=CARD_NAME)
            message = await bot.send_photo(
                chat_id=params["chat_id"], photo=photo, caption=params["caption"],
                reply_markup=markup,
                reply_parameters=ReplyParameters(**reply) if reply else None)
            return message.message_id


# -- helpers ---------------------------------------------------------------------------------

def _run(work: Coroutine[Any, Any, int]) -> int:
    """Run PTB's coroutine to the end; in a thread of its own if this one has a loop running
    (the preview server calls channels from async code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def _chat_id(chat: str) -> str | int:
    """'@channel' stays a username; '-100123' is a numeric chat id."""
    return int(chat) if re.fullmatch(r"-?\d+", chat) else chat


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "chat"


def _skip_reason(delivery: Delivery) -> str:
    if delivery.event == "withdrawal":
        return "nothing was sent to this chat, so there is no caption to edit"
    return f"Telegram has nothing to do for a {delivery.event} event"


def _message_id(remote_id: str) -> int | str:
    """A Telegram message id; an earlier sink delivery's id stays text (it is only written
    to the sink, and refused by ``_send`` should the token have appeared in between)."""
    return int(remote_id) if remote_id.lstrip("-").isdigit() else remote_id


def _check_sendable(call: Call, target: Target) -> None:
    ids = [call.params.get("message_id"),
           (call.params.get("reply_parameters") or {}).get("message_id")]
    for value in ids:
        if isinstance(value, str):
            raise PermanentError(
                f"telegram {target.label or target.key}: {call.method}: the earlier delivery "
                f"{value!r} was written to the local sink, not sent, so there is no Telegram "
                "message to reply to or edit; resolve it by hand")


def _card_parts(delivery: Delivery) -> tuple[bytes, str, str]:
    """The main card PNG, the caption text and the page URL among the delivery's artifacts."""
    found: dict[str, Artifact] = {}
    for artifact in delivery.artifacts:
        name = artifact.path.rsplit("/", 1)[-1]
        if name in (CARD_NAME, CAPTION_NAME):
            found[name] = artifact
    missing = [name for name in (CARD_NAME, CAPTION_NAME) if name not in found]
    if missing:
        raise PermanentError(
            f"telegram: {delivery.notice_id}: no {' or '.join(missing)} among the artifacts; "
            "build the cards first (noticecast build --only card)")
    card, caption = found[CARD_NAME], found[CAPTION_NAME]
    url = card.meta.get("url") or caption.meta.get("url")
    if not url:
        raise PermanentError(f"telegram: {delivery.notice_id}: the card has no page URL in its "
                             "metadata; rebuild the cards")
    return card.data, caption.data.decode("utf-8"), str(url)


def _retry_seconds(exc: Any) -> float:
    """RetryAfter.retry_after in seconds: an int in PTB 22, a timedelta later (or with
    PTB_TIMEDELTA set); both are handled, so PTB's warning about the change is moot here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _classify(exc: BaseException, token: str, target: Target, method: str) -> Exception:
    from telegram.error import (
        BadRequest,
        ChatMigrated,
        EndPointNotFound,
        Forbidden,
        InvalidToken,
        NetworkError,
        RetryAfter,
        TimedOut,
    )

    where = f"telegram {target.label or target.key}: {method}"
    text = _scrub(f"{type(exc).__name__}: {exc}", token)
    if isinstance(exc, (PermanentError, TransientError)):
        return type(exc)(_scrub(str(exc), token))
    if isinstance(exc, RetryAfter):
        seconds = _retry_seconds(exc)
        return TransientError(f"{where}: Telegram asks to wait {seconds:g} s (429): {text}",
                              retry_after=seconds)
    if isinstance(exc, InvalidToken):
        return PermanentError(f"{where}: the bot token was rejected; check the environment "
                              "variable named by channels.telegram.token_env")
    if isinstance(exc, ChatMigrated):
        return PermanentError(f"{where}: the chat moved to {exc.new_chat_id}; update "
                              "channels.telegram.chat")
    if isinstance(exc, Forbidden):
        return PermanentError(f"{where}: forbidden (403), is the bot an admin of the chat? "
                              f"{text}")
    if isinstance(exc, (BadRequest, EndPointNotFound)):
        return PermanentError(f"{where}: rejected (400): {text}")
    if isinstance(exc, TimedOut):
        # The request may have gone out and the message been posted: a resend could post it
        # twice, so this waits for an operator instead of being retried.
        return InDoubtError(f"{where}: timed out: {text}")
    if isinstance(exc, NetworkError):
        return TransientError(f"{where}: network error: {text}")
    return TransientError(f"{where}: {text}")


def _scrub(text: str, token: str) -> str:
    return text.replace(token, REDACTED) if token else text


class _RedactToken(logging.Filter):
    """Rewrites a log record so that the token never reaches a handler."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        return True


@contextmanager
def _redacted_logs(token: str) -> Iterator[None]:
    """Attach the redacting filter to every logger PTB and httpx log through, for one call.

    A filter on a logger only sees that logger's own records (not its children's), so it is
    attached to each of them, existing ones and the ones these libraries create.
    """
    import httpx  # noqa: F401  (creates its loggers)
    import telegram.ext  # noqa: F401

    manager: Mapping[str, Any] = logging.root.manager.loggerDict
    names = {name for name in manager if name.startswith(_LOGGER_PREFIXES)}
    names.update(_LOGGER_PREFIXES)
    loggers = [logging.getLogger(name) for name in sorted(names)]
    redact = _RedactToken(token)
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)
