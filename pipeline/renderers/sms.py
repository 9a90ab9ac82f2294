"""The SMS digest: one text per subscriber and run, with the notices of their area.

Targeting follows 分配到哪里、公开到哪里: a subscriber of a village gets that village's notices,
the notices of its town, and the county's when ``sms.county_to_everyone`` is set; a subscriber
registered for a town or a county (an official, a supervisor) also gets the notices of the
places below it.

A digest reads::

    【扶贫公示】
    1.【更正】马祖村产业道路硬化工程，68.5万元 https://…/n/sf-2018-0012
    2.…
    等5条，详见 https://…/areas/<area>/
    回T退订

Urgent notices come first, then corrections and withdrawals, then the newest. The signature and
the opt-out count toward the budget of ``sms.max_parts`` parts; what does not fit is counted in
the "等N条" line (N is the number of notices in the digest, named or not), which links to the
area's listing page. No notice is dropped without being counted: ``Digest.notice_ids`` lists
them all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, ClassVar, Literal

from pipeline.config import Config
from pipeline.errors import RenderError
from pipeline.model import Level, Notice, PublicityState, Status
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.sms_segment import segment
from pipeline.renderers.web_links import area_dir

DigestEvent = Literal["publish", "correction", "withdrawal", "expiry"]
SHORT_TITLE_CHARS = 14
# Endings that say nothing in a list of notices (it is all 公示 and 公告 there).
_TITLE_ENDINGS = ("项目公示", "竣工公示", "公示公告", "公示", "公告", "的紧急通知", "紧急通知",
                  "的通知", "通知")
MARKS: dict[str, str] = {"correction": "【更正】", "withdrawal": "【撤回】", "expiry": "【结束】"}


@dataclass(frozen=True)
class DigestItem:
    """A notice and why it is in the digest."""

    notice: Notice
    event: DigestEvent = "publish"

    @classmethod
    def of(cls, item: DigestItem | Notice | tuple[Notice, str]) -> DigestItem:
        """A (notice, event) pair as is; a bare notice is a withdrawal if withdrawn, a
        correction if revised, else new."""
        if isinstance(item, DigestItem):
            return item
        if isinstance(item, tuple):
            notice, event = item
            return cls(notice, event)  # type: ignore[arg-type]
        if item.is_withdrawn:
            return cls(item, "withdrawal")
        return cls(item, "correction" if item.is_correction else "publish")


@dataclass(frozen=True)
class Digest:
    text: str
    parts: tuple[str, ...]
    encoding: str
    notice_ids: tuple[str, ...]
    digest_id: str

    def as_json(self) -> dict[str, Any]:
        """What the SMS channel receives (the "digest.json" artifact)."""
        return {"digest_id": self.digest_id, "parts": list(self.parts),
                "notice_ids": list(self.notice_ids)}

    @property
    def data(self) -> bytes:
        """The bytes of ``digest.json``."""
        return json.dumps(self.as_json(), ensure_ascii=False).encode()

    def to_artifact(self) -> Artifact:
        """The one artifact of an SMS Delivery."""
        return Artifact(renderer="sms", path="digest.json", data=self.data,
                        media_type="application/json", meta={"digest_id": self.digest_id})


def sms_enabled(notice: Notice, config: Config) -> bool:
    channels = notice.channels if notice.channels is not None else config.channels_for(
        notice.kind)
    return "sms" in channels


def applies_to(notice: Notice, area: str, config: Config) -> bool:
    """Whether a subscriber of ``area`` gets ``notice`` by SMS."""
    if not sms_enabled(notice, config):
        return False
    if notice.area == area or notice.area.startswith(area + "/"):
        return True  # their own area, or a place below the area they subscribed to
    if area.startswith(notice.area + "/"):  # a notice of the town or county above them
        return notice.level is not Level.county or config.sms.county_to_everyone
    return False


def short_title(notice: Notice) -> str:
    """A very short title: the project's name, or the title without its generic ending."""
    title = notice.project.name if notice.project else notice.title
    title = title.removeprefix("关于")
    for ending in _TITLE_ENDINGS:
        if title.endswith(ending) and len(title) > len(ending) + 1:
            title = title[: -len(ending)]
            break
    if len(title) > SHORT_TITLE_CHARS:
        title = title[: SHORT_TITLE_CHARS - 1] + "…"
    return title


def key_fact(notice: Notice) -> str:
    """The amount when there is money, else the publicity period."""
    if notice.total_display:
        return notice.total_display
    if notice.publicity:
        return f"公示{notice.publicity.short_display}"
    return ""


def _order(item: DigestItem) -> tuple[Any, ...]:
    notice = item.notice
    return (not notice.is_urgent, item.event == "publish",
            -notice.published.timestamp(), notice.id)


def listing_url(area: str, ctx: RenderContext) -> str:
    """The area's listing page on the site, where the notices of a digest all appear."""
    return f"{ctx.base_url}/{area_dir(area)}"


def item_line(item: DigestItem, number: int, ctx: RenderContext) -> str:
    notice = item.notice
    marks = MARKS.get(item.event, "")
    if notice.is_urgent and item.event == "publish":
        marks = "【紧急】"
    text = ctx.templates.get_template("sms/item.txt").render(
        number=number, marks=marks, title=short_title(notice),
        fact="" if item.event == "withdrawal" else key_fact(notice),
        link=ctx.short_url(notice.id), event=item.event, notice=notice)
    return text.strip()


def _digest_text(lines: Sequence[str], total: int, area: str, ctx: RenderContext) -> str:
    sms = ctx.config.sms
    text = ctx.templates.get_template("sms/digest.txt").render(
        signature=sms.signature, items=list(lines), more=len(lines) < total, total=total,
        listing_url=listing_url(area, ctx), opt_out=sms.opt_out, area=area)
    return text.strip("\n")


def compose_digest(items: Sequence[DigestItem | Notice | tuple[Notice, str]], area: str,
                   ctx: RenderContext) -> Digest:
    """The digest of ``items`` for subscribers of ``area``, within ``sms.max_parts`` parts."""
    ordered = sorted((DigestItem.of(i) for i in items), key=_order)
    lines = [item_line(item, number, ctx) for number, item in enumerate(ordered, start=1)]
    budget = ctx.config.sms.max_parts
    # The most items that fit, with the "等N条" line once some are left out.
    for shown in range(len(lines), -1, -1):
        text = _digest_text(lines[:shown], len(lines), area, ctx)
        cut = segment(text)
        if cut.segments <= budget:
            break
    else:
        raise RenderError(None, f"the SMS signature and opt-out alone need more than "
                                f"{budget} part(s); shorten sms.signature or sms.opt_out")
    notice_ids = tuple(item.notice.id for item in ordered)
    fingerprint = json.dumps([area, text, [(i.notice.id, i.notice.revision, i.event)
                                           for i in ordered]], ensure_ascii=False)
    digest_id = "dg-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return Digest(text=text, parts=cut.parts, encoding=cut.encoding, notice_ids=notice_ids,
                  digest_id=digest_id)


def digest_json(digest: Digest, **extra: Any) -> dict[str, Any]:
    """The digest with its segmentation, for previews and the collection."""
    cut = segment(digest.text)
    return {**extra, **digest.as_json(), "text": digest.text, "encoding": cut.encoding,
            "units": cut.units, "segments": cut.segments, "part_units": list(cut.part_units),
            "part_chars": [len(p) for p in cut.parts]}


def current_notices(notices: Sequence[Notice], ctx: RenderContext) -> list[Notice]:
    """Approved, due notices worth a text on ``ctx.today``: publicity running, or (without a
    publicity period) published within the last ``rules.min_publicity_days`` days."""
    config = ctx.config
    end_of_day = datetime.combine(ctx.today, time.max, tzinfo=config.zone)
    recent = ctx.today - timedelta(days=config.rules.min_publicity_days)
    chosen = []
    for notice in notices:
        if notice.status is not Status.approved or not notice.is_due(end_of_day):
            continue
        state = notice.publicity_state(ctx.today)
        if state is PublicityState.running or (
                state is PublicityState.none and notice.published_date > recent):
            chosen.append(notice)
    return chosen


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


class SmsRenderer(BaseRenderer):
    name: ClassVar[str] = "sms"
    version: ClassVar[str] = "1"
    templates: ClassVar[tuple[str, ...]] = ("sms/item.txt", "sms/digest.txt")
    collection_templates: ClassVar[tuple[str, ...]] = ("sms/item.txt", "sms/digest.txt")
    config_sections: ClassVar[tuple[str, ...]] = (
        "office", "site", "sms", "regions", "rules", "kind_channels", "timezone")
    collection_uses_today: ClassVar[bool] = True
    batch_size: ClassVar[int] = 256

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        for notice in notices:
            item = DigestItem.of(notice)
            digest = compose_digest([item], notice.area, ctx)
            data = digest_json(digest, notice_id=notice.id, revision=notice.revision,
                               event=item.event, area=notice.area,
                               sms_enabled=sms_enabled(notice, ctx.config))
            yield Artifact(renderer=self.name, path=f"{notice.id}/sms.json",
                           data=_json_bytes(data), media_type="application/json",
                           notice_id=notice.id, revision=notice.revision,
                           meta={"segments": data["segments"], "encoding": data["encoding"]})

    def render_collection(self, notices: Sequence[Notice],
                          ctx: RenderContext) -> Iterator[Artifact]:
        current = current_notices(notices, ctx)
        for area in ctx.config.known_areas():
            chosen = [n for n in current if applies_to(n, area, ctx.config)]
            if not chosen:
                continue
            digest = compose_digest(chosen, area, ctx)
            data = digest_json(digest, area=area, today=ctx.today.isoformat())
            yield Artifact(renderer=self.name, path=f"digests/{area}.json",
                           data=_json_bytes(data), media_type="application/json",
                           meta={"area": area, "segments": data["segments"]})
            yield Artifact(renderer=self.name, path=f"digests/{area}.txt",
                           data=(digest.text + "\n").encode(),
                           media_type="text/plain; charset=utf-8", meta={"area": area})
