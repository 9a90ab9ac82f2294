"""Alerts to officials (城口's 预警短信): what is about to lapse or has gone wrong, at most once.

Four alerts, each about one notice, to the office that issued it (``alerts.offices``):

* ``publicity-ending``: its publicity period ends within ``alerts.ending_in_days`` days;
* ``no-completion``: its project is past the implementation period with no 竣工公示 (about the
  project's latest notice, to the project's department);
* ``delivery-stuck``: a delivery of it failed or has been in doubt for ``stuck_after_hours``;
* ``not-sent``: approved and due for ``unsent_after_hours``, and no channel has it yet.

Deliveries go through the ledger like any other: the key is
``<notice>:0:publish:alert-sms|alert-email:<alert>/<recipient hash>``, so each (alert, notice)
reaches each recipient at most once, over any number of runs. A text that may have gone out
(no clear answer) is in doubt and never sent again; only a proven refusal is retried.
``find_alerts`` is pure; ``send_alerts`` talks to the world.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment

from pipeline.config import AlertRecipients, Config
from pipeline.errors import InDoubtError, PermanentError, TransientError
from pipeline.ledger import (
    DELIVERED,
    FAILED,
    IN_DOUBT,
    RETRY,
    Key,
    Ledger,
    Outcome,
    run_actor,
)
from pipeline.model import Notice, Status, format_date
from pipeline.oversight.deliveries import DeliverySummary, channel_label
from pipeline.oversight.projects import ProjectState, group_projects
from pipeline.schedule import is_listed, is_public, local_day

PUBLICITY_ENDING, NO_COMPLETION, DELIVERY_STUCK, NOT_SENT = (
    "publicity-ending", "no-completion", "delivery-stuck", "not-sent")
ALERTS = (PUBLICITY_ENDING, NO_COMPLETION, DELIVERY_STUCK, NOT_SENT)
SMS_CHANNEL, EMAIL_CHANNEL = "alert-sms", "alert-email"
ALERT_REVISION = 0  # once per (alert, notice), whatever revision the notice is at
SMS_PART, SMS_SINGLE = 67, 70  # UCS-2 characters per part of a long text, and in a short one


@dataclass(frozen=True)
class Alert:
    kind: str
    notice: Notice
    office: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class Sent:
    alert: Alert
    channel: str
    recipient_label: str
    state: str
    reason: str | None = None


def find_alerts(notices: Iterable[Notice], summary: DeliverySummary, config: Config,
                now: datetime) -> list[Alert]:
    zone = config.zone
    today = local_day(now, zone)
    settings = config.alerts
    every = list(notices)
    found: list[Alert] = []
    for notice in every:
        if not is_listed(notice, now, zone) or notice.publicity is None:
            continue
        left = (notice.publicity.end - today).days
        if 0 <= left <= settings.ending_in_days:
            found.append(Alert(PUBLICITY_ENDING, notice, notice.issuer, {
                "end": format_date(notice.publicity.end), "days_left": left}))
    public = [n for n in every if is_public(n, now, zone)]
    for project in group_projects(public):
        if project.withdrawn or project.state(today) is not ProjectState.overdue:
            continue
        assert project.period is not None
        found.append(Alert(NO_COMPLETION, project.current, project.department, {
            "project": project.name, "code": project.code or project.key,
            "period_end": format_date(project.period.end),
            "days_over": (today - project.period.end).days}))
    stuck_before = now - timedelta(hours=settings.stuck_after_hours)
    by_id = {n.id: n for n in every}
    stuck: dict[str, list[str]] = {}
    for item in summary.carried:
        if (item.state in (FAILED, IN_DOUBT) and item.since <= stuck_before
                and item.notice_id in by_id and not item.channel.startswith("alert-")):
            word = "存疑" if item.state == IN_DOUBT else "失败"
            stuck.setdefault(item.notice_id, []).append(
                f"{channel_label(item.channel)}{word}")
    for notice_id, problems in sorted(stuck.items()):
        notice = by_id[notice_id]
        found.append(Alert(DELIVERY_STUCK, notice, notice.issuer, {
            "problems": "、".join(sorted(set(problems))), "count": len(problems)}))
    unsent_before = now - timedelta(hours=settings.unsent_after_hours)
    for notice in every:
        if (notice.status is Status.approved and notice.published <= unsent_before
                and not any(c.received for c in summary.of(notice.id))):
            found.append(Alert(NOT_SENT, notice, notice.issuer, {
                "published": format_date(notice.published.astimezone(zone).date())}))
    return found


def recipients(config: Config, office: str) -> AlertRecipients:
    offices = config.alerts.offices
    return offices.get(office) or offices.get("*") or AlertRecipients()


def text_of(alert: Alert, env: Environment, config: Config) -> str:
    template = env.get_template(f"alerts/{alert.kind}.txt")
    return " ".join(template.render(n=alert.notice, f=alert.facts, office=alert.office,
                                    signature=config.sms.signature).split())


def subject_of(alert: Alert, env: Environment) -> str:
    return " ".join(env.get_template("alerts/subject.txt").render(
        n=alert.notice, kind=alert.kind).split())


def sms_parts(text: str) -> list[str]:
    """Cut a text into SMS parts (UCS-2: 70 characters alone, 67 per part when longer)."""
    if len(text) <= SMS_SINGLE:
        return [text]
    return [text[i:i + SMS_PART] for i in range(0, len(text), SMS_PART)]


def _hash(recipient: str) -> str:
    return hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:16]


def _mask(recipient: str) -> str:
    if "@" in recipient:
        from channels.smtp import mask_address

        return mask_address(recipient)
    from pipeline.subscribers import mask_phone

    return mask_phone(recipient)


def send_alerts(alerts: Sequence[Alert], ledger: Ledger, config: Config, env: Environment,
                sink: Path, now: datetime) -> list[Sent]:
    """Send each alert to its office's recipients, through the ledger, at most once."""
    sent: list[Sent] = []
    actor = run_actor()
    transport: Any = None
    for alert in alerts:
        people = recipients(config, alert.office)
        wanted = [(SMS_CHANNEL, phone) for phone in people.sms]
        wanted += [(EMAIL_CHANNEL, address) for address in people.email]
        for channel, recipient in wanted:
            key = Key(alert.notice.id, ALERT_REVISION, "publish", channel,
                      f"{alert.kind}/{_hash(recipient)}")
            label = _mask(recipient)
            claimed = ledger.claim([(key, label, "at-most-once")], as_of=now, actor=actor)
            if key not in claimed:
                continue  # sent before (or waiting for an operator): never twice
            attempt = claimed[key]
            try:
                if channel == SMS_CHANNEL:
                    if transport is None:
                        from channels.sms import make_transport

                        transport = make_transport(config, sink / "sms")
                    remote, _ = transport.send(recipient, sms_parts(text_of(alert, env, config)),
                                               f"alert-{alert.kind}-{alert.notice.id}",
                                               key.target.replace("/", "-"))
                else:
                    remote = _email(alert, recipient, config, env, sink / "email")
                outcome = Outcome(DELIVERED, attempt=attempt,
                                  receipt={"channel": channel, "remote_id": remote})
            except InDoubtError as exc:
                outcome = Outcome(IN_DOUBT, attempt=attempt, reason=str(exc))
            except PermanentError as exc:
                outcome = Outcome(FAILED, attempt=attempt, reason=str(exc))
            except TransientError as exc:
                outcome = Outcome(RETRY, attempt=attempt, reason=str(exc),
                                  next_at=now + timedelta(minutes=10 * attempt))
            except Exception as exc:  # the text may have gone out: in doubt, never resent
                outcome = Outcome(IN_DOUBT, attempt=attempt, reason=f"{type(exc).__name__}: "
                                                                   f"{exc}")
            ledger.record([(key, outcome)], as_of=now, actor=actor)
            sent.append(Sent(alert, channel, label, outcome.state, outcome.reason))
    if transport is not None and hasattr(transport, "close"):
        transport.close()
    return sent


def _email(alert: Alert, to: str, config: Config, env: Environment, folder: Path) -> str:
    settings = config.alerts
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject_of(alert, env)
    message["Message-ID"] = make_msgid(domain="noticecast")
    message.set_content(text_of(alert, env, config))
    if settings.smtp_host == "outbox":  # the local sink, as for the other channels
        from pipeline.build import write_atomic

        name = f"{alert.kind}-{alert.notice.id}-{_hash(to)}.eml"
        write_atomic(folder / name, bytes(message))
        return name
    from channels import smtp

    smtp.send(settings, message, to, f"{alert.notice.id}: alert {alert.kind}",
              user=config.secret(settings.smtp_user_env),
              password=config.secret(settings.smtp_password_env))
    return str(message["Message-ID"])
