"""The Telegram channel: the card, its caption and a 查看全文 button, posted to a chat.

It delivers with python-telegram-bot (v22): one ``ExtBot`` for the life of the channel object,
which is one publish run. The bot asks ``getMe`` once, on its first call, and keeps its HTTP
connections and PTB's ``AIORateLimiter`` for the whole run, so the limiter knows what was sent
a moment ago; ``close()`` (called by the publisher at the end of a run) shuts it down. PTB's
coroutines run on an event loop in a thread of the channel's own, so ``deliver`` works the
same when called from async code. When Telegram answers 429 anyway, the limiter waits the
``retry_after`` it was told and tries again (``flood_retries`` times): a 429 means the message
was refused, not sent. Nothing else is retried here; the publisher decides, told by the error:

* ``PermanentError``: a refusal that will not pass: 400 (a bad chat, a bad caption), 403 (the
  bot is not an admin of the channel), a rejected token, a chat that migrated.
* ``TransientError``: a proven refusal that may pass: 429 beyond the retries (with its
  ``retry_after``), a connection that never opened, a failure of ``getMe`` (which posts
  nothing). An edit of an earlier caption is idempotent, so every failure of one is this.
* ``InDoubtError``: ``sendPhoto`` went out and no clear answer came back: a timeout, a dropped
  connection, a 5xx (a gateway may have passed the request on), a success answer that does not
  parse, any other exception. The message may be in the chat; a resend could post it twice.

Events: ``publish`` sends the photo. ``correction`` first marks each earlier post of the notice
in the chat (its caption gets 【已更正，以第N版为准】, the receipt keeps the caption sent) and then
replies to the latest with the new card, marked 【更正】. ``withdrawal`` replaces the card and the
caption of every earlier post with the withdrawn ones (the card with its 已撤回 seal, the caption
starting 【已撤回】); the messages stay, so the public record shows what was withdrawn, and none
of them says 公示中 any more. The edits come first: they may be repeated harmlessly, the post
may not. ``expiry`` sends nothing.

The bot token comes only from the environment variable the config names. It is part of every
Bot API URL, so PTB and httpx would log it (PTB at DEBUG, httpx at INFO) and PTB puts it into
the text of ``InvalidToken``: while a call runs, a filter redacts it from those loggers, and
every error message is scrubbed before it leaves this module. Without a token, the channel
writes what it would send (each call as JSON, without secrets, and the PNG) to its sink folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import warnings
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

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
from pipeline.errors import DeliveryError
from pipeline.redact import filtering_loggers
from pipeline.renderers.caption import CORRECTION_MARK, WITHDRAWN_MARK, with_mark

CARD_NAME = "card-1080x1920.png"
CAPTION_NAME = "caption.txt"
BUTTON_TEXT = "查看全文"
REDACTED = "<token>"
_LOGGER_PREFIXES = ("telegram", "httpx", "httpcore")
# Bot API answers to an edit that change nothing: the earlier post is as it should be, or gone.
_EDIT_DONE = ("message is not modified",)
_EDIT_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")

T = TypeVar("T")
Phase = Literal["setup", "send", "edit"]


def superseded_mark(revision: int) -> str:
    """What an earlier post of a corrected notice starts with."""
    return f"【已更正，以第{revision}版为准】"


@dataclass(frozen=True)
class Call:
    """One Bot API call, as data: what the sink writes and what the bot sends."""

    method: str  # Bot API name: sendPhoto, editMessageCaption, editMessageMedia
    params: dict[str, Any]
    photo: bytes | None = None

    @property
    def posts(self) -> bool:
        """Whether the call creates a message (at most once); an edit may be repeated."""
        return self.method == "sendPhoto"

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
        self._session: _BotSession | None = None
        self._refused: PermanentError | None = None  # a rejected token stays rejected

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

    def close(self) -> None:
        """End the run's bot session (its HTTP connections and its event loop thread)."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> TelegramChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- delivering ------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> Receipt:
        calls = self.plan(delivery)
        details: dict[str, Any] = {"event": delivery.event, "revision": delivery.revision}
        if not calls:
            details["skipped"] = _skip_reason(delivery)
            return Receipt(channel=self.name, target_key=delivery.target.key, details=details)
        main = calls[-1]
        details["method"] = main.method
        if "reply_parameters" in main.params:
            details["reply_to"] = main.params["reply_parameters"]["message_id"]
        if main.posts:
            details["caption"] = main.params["caption"]  # what a later edit starts from
        if self._token is None:
            remote_id = self._write_sink(delivery, calls)
            details["sink"] = True
        else:
            sent = self._send(calls, delivery.target)
            remote_id = sent.remote_id
            if sent.edited:
                details["edited"] = sent.edited
            if sent.gone:
                details["gone"] = sent.gone  # deleted from the chat, or no longer editable
            if sent.unmarked:
                details["unmarked"] = sent.unmarked  # Telegram refused the edit
        return Receipt(channel=self.name, target_key=delivery.target.key, remote_id=remote_id,
                       details=details)

    def withdraw(self, receipt: Receipt) -> None:
        """Nothing to take back here: a withdrawal is delivered as a ``withdrawal`` event,
        which marks every earlier post. Deleting them would hide that they were ever sent."""

    def plan(self, delivery: Delivery) -> list[Call]:
        """The Bot API calls a delivery makes, in order (edits first); empty when the event
        sends nothing."""
        card, caption, url = _card_parts(delivery)
        chat_id = delivery.target.address.get("chat_id", delivery.target.key)
        markup = {"inline_keyboard": [[{"text": BUTTON_TEXT, "url": url}]]}
        earlier = _earlier_posts(delivery)
        if delivery.event == "expiry":
            return []
        if delivery.event == "withdrawal":
            withdrawn = with_mark(caption, WITHDRAWN_MARK)
            return [Call("editMessageMedia", {
                "chat_id": chat_id, "message_id": _message_id(post.remote_id or ""),
                "caption": withdrawn, "reply_markup": markup}, photo=card)
                for post in earlier]
        params: dict[str, Any] = {"chat_id": chat_id, "caption": caption,
                                  "reply_markup": markup}
        calls: list[Call] = []
        if delivery.event == "correction":
            params["caption"] = with_mark(caption, CORRECTION_MARK)
            mark = superseded_mark(delivery.revision)
            for post in earlier:
                before = str(post.details.get("caption") or "")
                marked = (with_mark(before, mark) if before
                          else f"{mark}本公告已更正，请以更正后的公告为准。\n\n查看全文：{url}")
                calls.append(Call("editMessageCaption", {
                    "chat_id": chat_id, "message_id": _message_id(post.remote_id or ""),
                    "caption": marked, "reply_markup": markup}))
            if earlier:
                # Still sent if the original was deleted: the correction must reach the chat.
                params["reply_parameters"] = {
                    "message_id": _message_id(earlier[-1].remote_id or ""),
                    "allow_sending_without_reply": True}
        calls.append(Call("sendPhoto", params, photo=card))
        return calls

    # -- the sink --------------------------------------------------------------------------

    def _write_sink(self, delivery: Delivery, calls: list[Call]) -> str:
        stem = f"r{delivery.revision}-{delivery.event}-{_slug(delivery.target.key)}"
        folder = self.sink / delivery.notice_id
        photo_name = None
        if any(call.photo is not None for call in calls):
            photo_name = f"{stem}.png"
            write_atomic(folder / photo_name, next(c.photo for c in calls if c.photo))
        records = [call.as_json(photo_name if call.photo else None) for call in calls]
        record: Any = records[0] if len(records) == 1 else {"calls": records}
        # The JSON goes last: its presence says the delivery is complete.
        write_atomic(folder / f"{stem}.json",
                     json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"))
        return f"sink:{delivery.notice_id}/{stem}"

    # -- the Bot API -----------------------------------------------------------------------

    def _send(self, calls: list[Call], target: Target) -> _Sent:
        """Make the calls, edits first. An edit Telegram refuses does not hold back the
        correction's post (the correction must reach the chat): it is noted in the receipt,
        and only a withdrawal none of whose edits succeeded fails."""
        assert self._token is not None
        for call in calls:
            _check_sendable(call, target)
        if self._refused is not None:
            raise self._refused
        if self._session is None:
            self._session = _BotSession(self._token, self.base_url, self.timeout_s,
                                        self.flood_retries)
        session = self._session
        self._run(session, session.ready(), target, "getMe", "setup")
        sent = _Sent()
        refusals: list[PermanentError] = []
        for call in calls:
            if call.posts:
                outcome = self._run(session, session.call(call), target, call.method, "send")
                sent.remote_id = str(outcome)
                continue
            message_id = int(call.params["message_id"])
            try:
                outcome = self._run(session, session.call(call), target, call.method, "edit")
            except PermanentError as refusal:
                refusals.append(refusal)
                sent.unmarked.append({"message_id": message_id, "reason": str(refusal)})
                continue
            (sent.edited if outcome is not None else sent.gone).append(message_id)
            sent.remote_id = str(message_id)
        if refusals and not sent.remote_id:
            raise refusals[0]
        return sent

    def _run(self, session: _BotSession, work: Coroutine[Any, Any, T], target: Target,
             method: str, phase: Phase) -> T:
        token = self._token or ""
        error: DeliveryError | None = None
        with _redacted_logs(token):
            try:
                return session.run(work)
            except Exception as exc:  # classified: every error leaves as a DeliveryError
                error = _classify(exc, token, target, method, phase, session.last_status)
        # Raised outside the handler, so the original (whose text may hold the token, as
        # PTB's InvalidToken does) is not even kept as the implicit __context__.
        assert error is not None
        if isinstance(error, PermanentError) and phase == "setup":
            self._refused = error
        raise error


@dataclass
class _Sent:
    """What the calls of one delivery did."""

    remote_id: str = ""  # the new post's id, else the last edited one's
    edited: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    unmarked: list[dict[str, Any]] = field(default_factory=list)


class _BotSession:
    """One ExtBot with its rate limiter, on an event loop in a thread of its own, for a run."""

    def __init__(self, token: str, base_url: str | None, timeout_s: float,
                 flood_retries: int) -> None:
        self._token = token
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._flood_retries = flood_retries
        self._bot: Any = None
        self._request: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="telegram-bot")
        self._thread.start()

    @property
    def last_status(self) -> int | None:
        """The HTTP status of the latest answer, None when no answer came."""
        return getattr(self._request, "last_status", None)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    async def ready(self) -> None:
        """Build the bot and ask ``getMe``, once per run (again only after a failure)."""
        from telegram.ext import AIORateLimiter, ExtBot

        if self._bot is None:
            timeout = self._timeout_s
            self._request = _status_request(
                connection_pool_size=4, connect_timeout=timeout, read_timeout=timeout,
                write_timeout=timeout, media_write_timeout=timeout, pool_timeout=timeout)
            bot_args: dict[str, Any] = {
                "request": self._request,
                "rate_limiter": AIORateLimiter(max_retries=self._flood_retries)}
            if self._base_url:
                bot_args["base_url"] = self._base_url
            self._bot = ExtBot(self._token, **bot_args)
        await self._bot.initialize()

    async def call(self, call: Call) -> int | None:
        """Make one call; the message id, or None when the message to edit is gone."""
        from telegram import (
            InlineKeyboardButton,
            InlineKeyboardMarkup,
            InputFile,
            InputMediaPhoto,
            ReplyParameters,
        )
        from telegram.error import BadRequest

        bot, params = self._bot, call.params
        button = params["reply_markup"]["inline_keyboard"][0][0]
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(button["text"], url=button["url"])]])
        # A file name ending in .png makes the upload image/png, not octet-stream.
        photo = InputFile(call.photo, filename=CARD_NAME) if call.photo is not None else None
        if call.posts:
            reply = params.get("reply_parameters")
            message = await bot.send_photo(
                chat_id=params["chat_id"], photo=photo, caption=params["caption"],
                reply_markup=markup,
                reply_parameters=ReplyParameters(**reply) if reply else None)
            return int(message.message_id)
        message_id = int(params["message_id"])
        try:
            if call.method == "editMessageMedia":
                await bot.edit_message_media(
                    chat_id=params["chat_id"], message_id=message_id, reply_markup=markup,
                    media=InputMediaPhoto(call.photo, caption=params["caption"],
                                          filename=CARD_NAME))  # uploaded as attach://…
            else:
                await bot.edit_message_caption(
                    chat_id=params["chat_id"], message_id=message_id,
                    caption=params["caption"], reply_markup=markup)
        except BadRequest as exc:
            text = str(exc).lower()
            if any(phrase in text for phrase in _EDIT_DONE):
                return message_id  # a repeated edit: done already
            if any(phrase in text for phrase in _EDIT_GONE):
                return None
            raise
        return message_id

    def close(self) -> None:
        async def shutdown() -> None:
            if self._bot is not None:
                await self._bot.shutdown()

        try:
            self.run(shutdown())
        except Exception:  # closing at the end of a run: there is nothing left to save
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()


def _status_recording_request_class() -> type:
    from telegram.request import HTTPXRequest

    class StatusRecordingRequest(HTTPXRequest):
        """PTB's HTTPX request, remembering the status of the latest answer: PTB's errors
        name a status only in their text, and whether a 5xx or a drop happened decides
        between a retry and an operator."""

        last_status: int | None = None

        async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
            self.last_status = None
            status, payload = await super().do_request(*args, **kwargs)
            self.last_status = status
            return status, payload

    return StatusRecordingRequest


def _status_request(**kwargs: Any) -> Any:
    """A StatusRecordingRequest (its class is made on first use: PTB loads only then)."""
    return _status_recording_request_class()(**kwargs)


# -- helpers ---------------------------------------------------------------------------------

def _chat_id(chat: str) -> str | int:
    """'@channel' stays a username; '-100123' is a numeric chat id."""
    return int(chat) if re.fullmatch(r"-?\d+", chat) else chat


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "chat"


def _skip_reason(delivery: Delivery) -> str:
    if delivery.event == "withdrawal":
        return "nothing was sent to this chat, so there is no caption to edit"
    return f"Telegram has nothing to do for a {delivery.event} event"


def _earlier_posts(delivery: Delivery) -> list[Receipt]:
    """The receipts of the notice's earlier posts in this chat, oldest first, each once."""
    receipts = list(delivery.earlier)
    if delivery.previous is not None and delivery.previous not in receipts:
        receipts.append(delivery.previous)
    seen: set[str] = set()
    posts = []
    for receipt in receipts:
        if receipt.remote_id and receipt.remote_id not in seen:
            seen.add(receipt.remote_id)
            posts.append(receipt)
    return posts


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


def _never_sent(exc: BaseException) -> bool:
    """Whether the request provably never left: no connection, or no free one in the pool."""
    import httpx

    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout,
                                      httpx.PoolTimeout))


def _classify(exc: BaseException, token: str, target: Target, method: str, phase: Phase,
              status: int | None) -> DeliveryError:
    """A DeliveryError for what PTB raised; see the module docstring for the rules."""
    from telegram.error import (
        BadRequest,
        ChatMigrated,
        Conflict,
        EndPointNotFound,
        Forbidden,
        InvalidToken,
        RetryAfter,
    )

    where = f"telegram {target.label or target.key}: {method}"
    text = _scrub(f"{type(exc).__name__}: {exc}", token)
    if isinstance(exc, (PermanentError, TransientError, InDoubtError)):
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
    if isinstance(exc, (BadRequest, EndPointNotFound, Conflict)):
        return PermanentError(f"{where}: rejected ({status or 400}): {text}")
    if status is not None and 400 <= status < 500:  # a refusal PTB has no class for (413)
        return PermanentError(f"{where}: refused with {status}: {text}")
    if phase != "send" or _never_sent(exc):
        # Nothing can have been posted: getMe posts nothing, an edit may be repeated, and a
        # connection that never opened carried nothing.
        return TransientError(f"{where}: {text}; will retry")
    # The photo may be in the chat: a timeout, a drop, a 5xx, an answer that does not parse.
    # A resend could post it twice, so this waits for an operator.
    answer = f"answered {status}" if status is not None else "no usable answer"
    return InDoubtError(f"{where}: sent, {answer} ({text}); it may have been posted; check "
                        "the chat, then `noticecast resolve`")


def _scrub(text: str, token: str) -> str:
    return text.replace(token, REDACTED) if token else text


class _RedactToken(logging.Filter):
    """Rewrites a log record so that the token never reaches a handler, and without the
    traceback PTB attaches to an error (a 429 its limiter gave up on). PTB's own warnings and
    errors are dropped: the channel reports every error itself, in one line that the ledger
    keeps, and an expected remote error is no crash (nor 26 lines on the terminal)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("telegram") and record.levelno >= logging.WARNING:
            return False
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        if record.exc_info or record.exc_text:
            record.exc_info, record.exc_text = None, None
        return True


@contextmanager
def _redacted_logs(token: str) -> Iterator[None]:
    """Mask the token in every record PTB and httpx log, for the length of one call."""
    import httpx  # noqa: F401  (creates its loggers)
    import telegram.ext  # noqa: F401

    with filtering_loggers(_LOGGER_PREFIXES, _RedactToken(token)):
        yield
