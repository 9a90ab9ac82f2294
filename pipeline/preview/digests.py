"""The SMS digest that one subscriber of each affected area would receive.

A notice reaches its own area, the areas below it, and (for town and county notices) the
villages under them ("分配到哪里、公开到哪里"); ``pipeline.renderers.sms.applies_to`` decides.
For each such area the desk composes the digest a subscriber there would get today with this
notice in it: the area's current notices plus this one, through the SMS renderer's own
``compose_digest``, so what the desk shows is what the channel would send. When the SMS module
cannot be imported, the digests the build wrote (``digests/<area>.json``) are shown instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.errors import NoticecastError
from pipeline.preview.outputs import OutputReader, RendererOutputs
from pipeline.preview.state import NoticeEntry, Snapshot
from pipeline.renderers.base import RenderContext


@dataclass(frozen=True)
class DigestView:
    area: str
    parts: tuple[str, ...]
    part_units: tuple[int, ...]
    encoding: str
    notice_count: int
    is_own_area: bool
    error: str = ""

    @property
    def rows(self) -> list[tuple[str, int | None]]:
        units = list(self.part_units)
        return [(part, units[i] if i < len(units) else None)
                for i, part in enumerate(self.parts)]


def digests_for(snapshot: Snapshot, reader: OutputReader, outputs: RendererOutputs,
                entry: NoticeEntry) -> list[DigestView]:
    notice = entry.notice
    if notice is None:
        return []
    try:
        from pipeline.renderers import sms
    except ImportError:
        return _from_collection(reader, outputs, notice.id, notice.area)
    config = snapshot.project.config
    ctx = RenderContext(config=config, today=snapshot.today,
                        templates=snapshot.project.templates)
    valid = [e.notice for e in snapshot.entries.values() if e.notice is not None]
    current = [n for n in sms.current_notices(valid, ctx) if n.id != notice.id]
    areas = [a for a in config.known_areas() if sms.applies_to(notice, a, config)]
    if notice.area not in areas and sms.sms_enabled(notice, config):
        areas.insert(0, notice.area)
    views = []
    for area in areas:
        items = [n for n in current if sms.applies_to(n, area, config)] + [notice]
        try:
            digest = sms.compose_digest(items, area, ctx)
        except NoticecastError as exc:
            views.append(DigestView(area, (), (), "", len(items), area == notice.area,
                                    error=str(exc)))
            continue
        data = sms.digest_json(digest)
        views.append(DigestView(
            area=area, parts=tuple(digest.parts), part_units=tuple(data["part_units"]),
            encoding=digest.encoding, notice_count=len(digest.notice_ids),
            is_own_area=area == notice.area))
    views.sort(key=lambda v: (not v.is_own_area, v.area.count("/"), v.area))
    return views


def _from_collection(reader: OutputReader, outputs: RendererOutputs, notice_id: str,
                     own_area: str) -> list[DigestView]:
    views = []
    for record in outputs.all(".json", collection=True):
        data: Any = reader.json(record)
        if not isinstance(data, dict) or notice_id not in (data.get("notice_ids") or []):
            continue
        area = str(data.get("area") or record.meta.get("area") or record.name)
        views.append(DigestView(
            area=area, parts=tuple(str(p) for p in data.get("parts") or ()),
            part_units=tuple(int(u) for u in data.get("part_units") or ()),
            encoding=str(data.get("encoding", "")),
            notice_count=len(data.get("notice_ids") or ()), is_own_area=area == own_area))
    return views


__all__ = ["DigestView", "digests_for"]
