"""CAP 1.2 (OASIS Common Alerting Protocol) messages for urgent notices.

An urgent notice (紧急通知) is published as ``notices/<id>/cap.xml`` for alerting systems:

* revision 1: ``msgType`` Alert;
* revision N > 1 (a correction): Update, whose ``references`` name the messages of every
  earlier revision;
* withdrawn: Cancel, referencing every revision's message.

Identifiers are ``<host>.<id>.r<N>`` (``.cancel`` for the cancellation), so that a consumer
can match references without our help. The YAML has no timestamp per revision, so revision
N's ``sent`` is ``published`` plus N-1 seconds (as the Atom feeds' ``updated``), unless the
site's history of revisions holds the earlier revision's own ``published``. ``expires`` is the
schedule rule's (``pipeline.schedule.expires_at``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime, time, timedelta, tzinfo

from pipeline.model import Notice
from pipeline.renderers.web_text import markdown_text

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"


def cap_time(moment: datetime) -> str:
    """CAP's dateTime: seconds, an explicit offset, never 'Z' (CAP 1.2, 3.3.2)."""
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def identifier(host: str, notice_id: str, revision: int | None) -> str:
    return f"{host}.{notice_id}.{'cancel' if revision is None else f'r{revision}'}"


def cap_message(notice: Notice, *, host: str, url: str, zone: tzinfo, sent: datetime,
                expires: datetime | None, earlier_sent: Mapping[int, datetime]) -> bytes:
    """The CAP document for the notice as it stands; ``earlier_sent``: revision -> sent."""
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
        if text is not None:
            element.text = text
        return element

    sender = f"{host}"
    if notice.is_withdrawn:
        kind, revision = "Cancel", None
        refs = {**earlier_sent, notice.revision: sent}
        day = notice.withdrawal.on if notice.withdrawal and notice.withdrawal.on else None
        cancelled = datetime.combine(day, time(9, 0), tzinfo=zone) if day else sent
        sent = max(cancelled, sent + timedelta(seconds=1))
    else:
        kind, revision = ("Update" if notice.revision > 1 else "Alert"), notice.revision
        refs = dict(earlier_sent)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    sub(alert, "identifier", identifier(host, notice.id, revision))
    sub(alert, "sender", sender)
    sub(alert, "sent", cap_time(sent))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", kind)
    sub(alert, "scope", "Public")
    if refs and kind != "Alert":
        sub(alert, "references", " ".join(
            f"{sender},{identifier(host, notice.id, r)},{cap_time(moment)}"
            for r, moment in sorted(refs.items())))
    info = sub(alert, "info")
    sub(info, "language", "zh-CN")
    sub(info, "category", "Safety")
    sub(info, "event", notice.kind.label)
    sub(info, "urgency", "Past" if notice.is_withdrawn else "Immediate")
    sub(info, "severity", "Minor" if notice.is_withdrawn else "Moderate")
    sub(info, "certainty", "Observed")
    sub(info, "effective", cap_time(sent))
    if expires is not None:
        sub(info, "expires", cap_time(expires))
    sub(info, "senderName", notice.issuer)
    headline = f"【已撤回】{notice.title}" if notice.is_withdrawn else notice.title
    sub(info, "headline", headline)
    description = markdown_text(notice.body)
    if notice.withdrawal is not None:
        description = f"本通知已撤回：{notice.withdrawal.reason}\n\n{description}"
    if notice.correction is not None:
        description = f"更正：{notice.correction.note}\n\n{description}"
    sub(info, "description", description)
    sub(info, "instruction", notice.summary)
    sub(info, "web", url)
    phones = "；".join(f"{label} {number}" for label, number in notice.contact.phones())
    if phones:
        sub(info, "contact", phones)
    area = sub(info, "area")
    sub(area, "areaDesc", notice.place)
    ET.indent(alert)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True) + b"\n"
