"""Sending one e-mail over SMTP, for the channels that mail their outputs (newspaper, board).

STARTTLS and login only when configured; the password comes from the environment variable the
config names. Errors: a connection failure, a timeout or a 4xx reply is transient (retried
later); a 5xx reply (an address the server rejects, a refused login), a server without the
configured STARTTLS/AUTH or an untrusted certificate is permanent. A connection that drops or
goes silent once the message is being sent, with no reply to it, is in doubt: the server may
have taken it (the Message-ID lets a reader's client tell a second copy apart).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from pipeline.errors import InDoubtError, PermanentError, TransientError

SMTP_TIMEOUT_S = 30.0


class SmtpSettings(Protocol):
    """The settings a mailing channel's config section has."""

    sender: str
    smtp_host: str
    smtp_port: int
    starttls: bool


def mask_address(address: str) -> str:
    """e***@paper.example: enough for a person to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def send(settings: SmtpSettings, message: EmailMessage, to: str, what: str, *,
         user: str | None = None, password: str | None = None) -> None:
    """Send ``message`` to ``to``; ``what`` starts every error message (a notice id)."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    sending = False
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user and password:
                smtp.login(user, password)
            sending = True  # from here on, a silence may come after the server took it
            smtp.send_message(message, from_addr=settings.sender, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = min(exc.recipients.values(), key=lambda item: item[0])
        raise _classified(code, f"{what}: {where} refused {mask_address(to)}: "
                                f"{code} {_text(reply)}") from None
    except smtplib.SMTPResponseException as exc:
        raise _classified(exc.smtp_code, f"{what}: {where} replied {exc.smtp_code} "
                                         f"{_text(exc.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentError(f"{what}: {where}: {exc}; check starttls and the "
                             "login settings") from None
    except ssl.SSLCertVerificationError as exc:
        raise PermanentError(f"{what}: {where}: TLS certificate not trusted: "
                             f"{exc.verify_message}") from None
    except (smtplib.SMTPException, OSError) as exc:
        if sending:
            raise InDoubtError(f"{what}: {where} gave no reply to the message ({exc}); it may "
                               "have been accepted") from None
        raise TransientError(f"{what}: cannot reach the mail server {where}: "
                             f"{exc}") from None


def _classified(code: int, message: str) -> TransientError | PermanentError:
    if 400 <= code < 500:
        return TransientError(message)
    return PermanentError(message)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
