"""Masking secrets and phone numbers in any text noticecast records or shows.

A gateway that refuses a request often says what it received: ``401 invalid token Bearer
abc123`` or ``400 bad number 13812345678``. Such text travels into an error's message and from
there into the ledger (``events.reason``), ``status --format json``, a log line, the terminal
or a crash file. Each of those places passes it through ``redact`` first, so whatever the far
side echoed, what noticecast writes holds

* no secret: the value of every environment variable the config names (the ``*_env``
  settings: bot tokens, gateway tokens, SMTP and SMPP passwords), also URL-encoded, shown as
  ``<secret>``;
* no phone number in full: a mainland mobile number, with or without +86/0086 and with any
  spaces or dashes, or any other ``+``-prefixed international number, keeps only its first
  three and last four digits (``138****5678``, as a subscriber's label shows it).

The names come from the default config and from every config loaded (``watch``); the values
are read from the environment when text is redacted, so a secret set later is masked too.
Secrets shorter than ``MIN_SECRET`` characters are not masked: masking "1" would garble every
number in the text, and such a value protects nothing anyway.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from pydantic import BaseModel

SECRET = "<secret>"
MIN_SECRET = 4
_MOBILE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_INTERNATIONAL = re.compile(r"(?<![\w+])\+(\d{2,4})[\s-]?(\d[\d\s-]{4,12}\d)(?!\d)")

_names: set[str] = set()
_lock = threading.Lock()
_defaults_read = False


def env_names(model: BaseModel) -> set[str]:
    """The environment variable names a config (or a section of one) names: every field
    whose name ends in ``_env``, at any depth."""
    from pydantic import BaseModel

    found: set[str] = set()
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if name.endswith("_env") and isinstance(value, str) and value:
            found.add(value)
        elif isinstance(value, BaseModel):
            found |= env_names(value)
        elif isinstance(value, (list, tuple)):
            found |= {n for item in value if isinstance(item, BaseModel)
                      for n in env_names(item)}
        elif isinstance(value, dict):
            found |= {n for item in value.values() if isinstance(item, BaseModel)
                      for n in env_names(item)}
    return found


def watch(config: BaseModel) -> None:
    """Mask, from now on, the secrets this config names (besides the default ones)."""
    names = env_names(config)
    with _lock:
        _names.update(names)


def _secret_values() -> list[str]:
    global _defaults_read
    if not _defaults_read:
        from pipeline.config import Config

        watch(Config())
        _defaults_read = True
    with _lock:
        names = sorted(_names)
    values: set[str] = set()
    for name in names:
        value = os.environ.get(name, "")
        if len(value) >= MIN_SECRET:
            values |= {value, quote(value, safe=""), quote(value)}
    # The longest first: a secret that contains another is masked whole.
    return sorted(values, key=len, reverse=True)


def mask_phones(text: str) -> str:
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)

    def international(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(2))
        return f"+{match.group(1)}{digits[:1]}****{digits[-4:]}" if len(digits) > 6 \
            else match.group(0)

    return _INTERNATIONAL.sub(international, text)


def redact(text: str, *, phones: bool = True) -> str:
    """``text`` with every known secret and (unless ``phones`` is False) every phone number
    masked."""
    if not text:
        return text
    for secret in _secret_values():
        if secret in text:
            text = text.replace(secret, SECRET)
    return mask_phones(text) if phones else text


def redact_all(texts: Iterable[str]) -> list[str]:
    return [redact(text) for text in texts]


def format_exception(error: BaseException) -> str:
    """A traceback as text, redacted (for a crash file)."""
    return redact("".join(traceback.format_exception(error)))


class _RedactingRecords:
    """A log record factory that masks each record's message and traceback when it is made,
    so no handler (ours, a library's, logging's last resort) ever sees the clear text."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: leave it to logging to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(record.exc_info[1]))
            record.exc_text = redact(text).rstrip("\n")
        return record


def install_log_redaction() -> None:
    """Mask secrets and phones in every log record from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingRecords):
        logging.setLogRecordFactory(_RedactingRecords(factory))


__all__ = ["SECRET", "env_names", "format_exception", "install_log_redaction", "mask_phones",
           "redact", "watch"]


@contextmanager
def filtering_loggers(prefixes: tuple[str, ...], record_filter: logging.Filter
                      ) -> Iterator[None]:
    """Attach ``record_filter`` to every logger named by or under ``prefixes`` for the ``with``
    block. A filter on a logger sees only that logger's own records, not its children's, so
    it goes on each of them (existing ones; import the library first so that they exist)."""
    manager: Mapping[str, Any] = logging.root.manager.loggerDict
    names = {name for name in manager if name.startswith(prefixes)} | set(prefixes)
    loggers = [logging.getLogger(name) for name in sorted(names)]
    for logger in loggers:
        logger.addFilter(record_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(record_filter)
