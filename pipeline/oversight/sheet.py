"""The project's detail sheet (项目明细表) as data: what the web page and the A4 PDF show.

Pure: the notices, the day and the ledger's facts in, plain values out. The ledger's facts
come as a ``DeliverySummary`` (read by the build or the report command), never from a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.model import format_date, format_wan
from pipeline.oversight.deliveries import DeliverySummary, channel_label
from pipeline.oversight.projects import ProjectFile
from pipeline.oversight.tables import wan_text


def moment_text(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{format_date(local.date())} {local:%H:%M}"


def channels_of(notice_id: str, summary: DeliverySummary | None, zone: ZoneInfo,
                ) -> list[dict[str, Any]]:
    """Each channel that carried the notice: how many targets, and when it first arrived."""
    if summary is None:
        return []
    found: dict[str, dict[str, Any]] = {}
    for item in summary.of(notice_id):
        if item.arrived is None:
            continue
        entry = found.setdefault(item.channel, {"channel": item.channel,
                                                "label": channel_label(item.channel),
                                                "targets": {}, "first": item.arrived})
        # A target that had revision 1 and its correction counts once.
        entry["targets"][item.target] = max(entry["targets"].get(item.target, 0), item.targets)
        entry["first"] = min(entry["first"], item.arrived)
    rows = []
    for channel in sorted(found, key=lambda c: found[c]["first"]):
        entry = found[channel]
        count = sum(entry["targets"].values())
        rows.append({"label": entry["label"], "channel": channel, "count": count,
                     "when": moment_text(entry["first"], zone), "until": None})
    for posting in summary.postings_of(notice_id):
        up = moment_text(posting.posted, zone)
        down = moment_text(posting.taken_down, zone) if posting.taken_down else None
        rows.append({"label": f"公示栏 {posting.board.replace('/', '')}", "channel": "posting",
                     "count": 1, "when": up, "until": down})
    return rows


def sheet_view(project: ProjectFile, today: date, summary: DeliverySummary | None,
               zone: ZoneInfo, *, notice_link: Any = None) -> dict[str, Any]:
    """Everything the sheet shows, in display form."""
    total = project.total
    mix = []
    for source, amount in project.funds_by_source:
        share = (amount / total * 100).quantize(Decimal("0.1")) if total else Decimal(0)
        mix.append({"source": source, "wan": wan_text(amount), "display": format_wan(amount),
                    "share": f"{share}%"})
    period = project.period
    state = project.state(today)
    notices = []
    for notice in project.notices:
        notices.append({
            "n": notice,
            "link": notice_link(notice.id) if notice_link else None,
            "published": format_date(notice.published.astimezone(zone).date()),
            "publicity": notice.publicity.display if notice.publicity else None,
            "amount": notice.total_display,
            "channels": channels_of(notice.id, summary, zone),
        })
    people = project.beneficiaries
    current = project.current.project
    assert current is not None
    return {
        "code": project.code or project.key,
        "name": project.name,
        "place": project.current.place,
        "department": project.department,
        "implementer": current.implementer,
        "responsible": current.responsible,
        "content": current.content,
        "period": period.display if period else None,
        "state": state,
        "state_label": state.label,
        "today": format_date(today),
        "mix": mix,
        "total_wan": wan_text(total),
        "total_display": format_wan(total),
        "households": people.households if people else None,
        "poor_households": people.poor_households if people else None,
        "people": people.people if people else None,
        "notices": notices,
        "delivered_known": summary is not None,
    }


def project_rows(projects: Sequence[ProjectFile], today: date) -> list[dict[str, Any]]:
    """One line per project for the index."""
    return [{"code": p.code, "name": p.name, "place": p.current.place,
             "department": p.department, "total_display": p.total_display,
             "state": p.state(today), "notices": len(p.notices)} for p in projects]
