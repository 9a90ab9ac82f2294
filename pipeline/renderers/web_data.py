"""Data for other systems: one JSON document per notice and a JSON index of them all.

The formats are versioned and described by JSON Schemas in the repository
(``docs/schema/notice-1.schema.json``, ``docs/schema/index-1.schema.json``; ``docs/data.md``
explains them). A field is only ever added within a version; renaming or removing one makes
version 2. Amounts are yuan as decimal strings ("685000.00" is written "685000"), so that no
consumer meets a rounded float.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pipeline.model import Notice, PublicityState
from pipeline.renderers.web_links import notice_dir
from pipeline.renderers.web_text import markdown_text

NOTICE_FORMAT = "noticecast-notice"
INDEX_FORMAT = "noticecast-index"
DATA_VERSION = 1


def _yuan(amount: Decimal) -> str:
    text = format(Decimal(amount).normalize(), "f")
    return text


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _project(notice: Notice) -> dict[str, Any] | None:
    p = notice.project
    if p is None:
        return None
    return {
        "code": p.code,
        "name": p.name,
        "location": p.location,
        "content": p.content,
        "subsidy_standard": p.subsidy_standard,
        "period": ({"start": p.period.start.isoformat(), "end": p.period.end.isoformat()}
                   if p.period else None),
        "implementer": p.implementer,
        "responsible": {"name": p.responsible.name, "phone": p.responsible.phone},
        "funds": [{"source": f.source, "amount_yuan": _yuan(f.amount),
                   "amount_display": f.amount_display} for f in p.funds],
        "total_yuan": _yuan(p.funds_total),
        "total_display": p.total_display,
        "performance_goal": p.performance_goal,
        "poverty_mechanism": p.poverty_mechanism,
        "beneficiaries": (p.beneficiaries.model_dump(mode="json") if p.beneficiaries else None),
    }


def notice_document(notice: Notice, *, url: str, state: PublicityState, published: datetime,
                    expires: datetime | None, in_force: bool,
                    attachments: Sequence[dict[str, Any]], revisions: Sequence[dict[str, Any]],
                    cap_url: str | None) -> dict[str, Any]:
    """The notice as JSON (``docs/schema/notice-1.schema.json``)."""
    return {
        "format": NOTICE_FORMAT,
        "version": DATA_VERSION,
        "id": notice.id,
        "revision": notice.revision,
        "url": url,
        "kind": notice.kind.value,
        "kind_label": notice.kind.label,
        "level": notice.level.value,
        "title": notice.title,
        "issuer": notice.issuer,
        "area": notice.area,
        "place": notice.place,
        "published": published.isoformat(),
        "status": notice.status.value,
        "publicity": ({"start": notice.publicity.start.isoformat(),
                       "end": notice.publicity.end.isoformat(), "state": state.value}
                      if notice.publicity else None),
        "expires": _iso(expires),
        "in_force": in_force,
        "summary": notice.summary,
        "body": notice.body,
        "body_text": markdown_text(notice.body),
        "interpretation": notice.interpretation,
        "project": _project(notice),
        "contact": notice.contact.model_dump(mode="json"),
        "attachments": list(attachments),
        "correction": ({"note": notice.correction.note,
                        "changes": list(notice.correction.changes)}
                       if notice.correction else None),
        "withdrawal": ({"reason": notice.withdrawal.reason,
                        "on": notice.withdrawal.on.isoformat() if notice.withdrawal.on else None}
                       if notice.withdrawal else None),
        "tags": list(notice.tags),
        "revisions": list(revisions),
        "cap": cap_url,
    }


def index_entry(document: dict[str, Any], json_url: str) -> dict[str, Any]:
    keys = ("id", "revision", "url", "kind", "title", "issuer", "area", "published", "status",
            "expires", "in_force")
    entry = {key: document[key] for key in keys}
    entry["state"] = document["publicity"]["state"] if document["publicity"] else None
    entry["json"] = json_url
    entry["cap"] = document["cap"]
    return entry


def index_document(entries: Sequence[dict[str, Any]], *, site: str, generated: datetime
                   ) -> dict[str, Any]:
    """Every public notice (``docs/schema/index-1.schema.json``), newest first."""
    return {"format": INDEX_FORMAT, "version": DATA_VERSION, "site": site,
            "generated": generated.isoformat(), "notices": list(entries)}


def dumps(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def json_path(notice_id: str) -> str:
    return f"{notice_dir(notice_id)}index.json"
