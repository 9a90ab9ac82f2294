"""The SMS digest: one text per subscriber and run, that a phone without a browser can act on.

Targeting follows 分配到哪里、公开到哪里: a subscriber of a village gets that village's notices,
the notices of its town, and the county's when ``sms.county_to_everyone`` is set; a subscriber
registered for a town or a county (an official, a supervisor) also gets the notices of the
places below it.

A digest reads::

    【扶贫公示】
    【更正】宏达村 蔬菜大棚产业扶贫 公示至7月11日 总投资更正为47.8万元
    马祖村 产业道路硬化 68.5万元 公示至7月14日
    另有2条，详询0838-8202011
    有异议请拨0838-8202012或12317
    详见 https://gongshi.example.gov.cn/areas/f5888b6e48/
    回T退订

Each item says where, what, how much and until when (``pipeline.renderers.sms_words``). Once
per text comes the phone to call with an objection: the issuers' supervision phone when all
items share one, else the office's (``office.supervision_phone``, then ``office.phone``), and
the national hotline 12317. ``sms.links`` adds one link to the subscriber's area listing
(``area``, the default), one per item (``notice``) or none; ``sms.link_base`` names a short
domain for them. A link, a phone number, a date or an amount is never cut between two parts
when the boundary can be moved back (``segment(..., keep=...)``).

Ranking: urgent notices first, then corrections and withdrawals, then new notices; within each,
the publicity period that ends soonest first. The whole text, signature and opt-out included,
stays within ``sms.max_parts`` parts, by these rules in this order:

1. as many items as fit with names and notes cut to ``MIN_CUT`` characters are shown; those
   that do not fit are counted in one closing line, ``另有N条，详询<office phone>``; no notice
   is dropped without being counted (``Digest.notice_ids`` lists them all);
2. the names and notes of the shown items are then cut to one length, the longest that fits
   (a text that fits as it is keeps every word); those of urgent items only when cutting all
   the others to ``MIN_CUT`` is not enough;
3. the link goes only when not even one item would fit with it.

The templates ``sms/item.txt`` and ``sms/digest.txt`` say how the words are joined; a project's
own ``templates/sms/`` overrides them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any, ClassVar, Literal

from pipeline.config import Config
from pipeline.errors import RenderError
from pipeline.model import Level, Notice, PublicityState, Status
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.sms_segment import LIMITS, Segmentation, encoding_of, segment, units_of
from pipeline.renderers.sms_words import MIN_CUT, WHOLE, ItemWords, item_words
from pipeline.renderers.web_links import area_dir
from pipeline.schedule import is_in_force

DigestEvent = Literal["publish", "correction", "withdrawal", "expiry"]
HOTLINE = "12317"  # the national poverty-alleviation supervision hotline
_EVENT_RANK = {"correction": 0, "withdrawal": 0, "publish": 1, "expiry": 2}
_LINK = re.compile(r"https?://\S+")
# How far names and notes are cut: (urgent items, the others); None leaves them whole.
Cuts = tuple[int | None, int | None]


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

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.notice.id, self.notice.revision, self.event)


@dataclass(frozen=True)
class Digest:
    text: str
    parts: tuple[str, ...]
    encoding: str
    notice_ids: tuple[str, ...]  # every notice of the digest, named or counted, in rank order
    digest_id: str
    part_units: tuple[int, ...] = ()
    # (notice id, its line) of the items the text names, in order
    lines: tuple[tuple[str, str], ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """What the SMS channel receives (the "digest.json" artifact)."""
        return {"digest_id": self.digest_id, "parts": list(self.parts),
                "notice_ids": list(self.notice_ids)}

    @cached_property
    def data(self) -> bytes:
        """The bytes of ``digest.json``."""
        return json.dumps(self.as_json(), ensure_ascii=False).encode()

    @property
    def units(self) -> int:
        return sum(self.part_units)

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


def rank(item: DigestItem) -> tuple[Any, ...]:
    """Urgent first, then corrections and withdrawals, then new notices; the publicity period
    that ends soonest first; then the newest."""
    notice = item.notice
    ends = notice.publicity.end if notice.publicity else date.max
    return (not notice.is_urgent, _EVENT_RANK.get(item.event, 1), ends,
            -notice.published.timestamp(), notice.id)


def link_base(config: Config) -> str:
    return config.sms.link_base or config.site.base_url


def listing_url(area: str, config: Config) -> str:
    """The area's listing page on the site, where the notices of a digest all appear (its
    readable address costs about as many UCS-2 units as the old hashed one, and names the
    village)."""
    return f"{link_base(config)}/{area_dir(area)}"


def notice_link(notice: Notice, config: Config) -> str:
    """The short link of a notice (the site redirects ``n/<id>`` to its page)."""
    return f"{link_base(config)}/n/{notice.id}"


@dataclass(frozen=True)
class Phones:
    """The phones a text names once: to object, the hotline, to ask about what it leaves out."""

    objection: str
    hotline: str
    inquiry: str

    @classmethod
    def of(cls, notices: Sequence[Notice], config: Config) -> Phones:
        office = config.office
        supervision = list(dict.fromkeys(n.contact.supervision_phone for n in notices
                                         if n.contact.supervision_phone))
        if len(supervision) == 1:
            objection = supervision[0]  # the issuer's, shared by every item
        else:
            objection = (office.supervision_phone or next(iter(supervision), None)
                         or office.phone or next((n.contact.office_phone for n in notices
                                                  if n.contact.office_phone), None) or "")
        hotline = next((n.contact.hotline for n in notices if n.contact.hotline), HOTLINE)
        if objection == hotline:
            objection = ""
        inquiry = office.phone or objection or hotline
        return cls(objection=objection, hotline=hotline, inquiry=inquiry)


class _Composer:
    """The text of one digest at each step of the shortening rules."""

    def __init__(self, ordered: Sequence[DigestItem], area: str, ctx: RenderContext) -> None:
        config = ctx.config
        self.ctx = ctx
        self.area = area
        self.sms = config.sms
        per_notice = self.sms.links == "notice"
        self.words = [item_words(item.notice, item.event, area, ctx.today,
                                 notice_link(item.notice, config) if per_notice else "")
                      for item in ordered]
        self.phones = Phones.of([item.notice for item in ordered], config)
        self.area_link = listing_url(area, config) if self.sms.links == "area" else ""
        self.item_template = ctx.templates.get_template("sms/item.txt")
        self.digest_template = ctx.templates.get_template("sms/digest.txt")
        # The search below tries many forms of the same items: render each line once.
        self._lines: dict[tuple[int, int | None, bool], str] = {}

    def text(self, shown: int, cuts: Cuts, links: bool) -> tuple[str, list[str]]:
        lines = []
        for index, words in enumerate(self.words[:shown]):
            limit = cuts[0] if words.urgent else cuts[1]
            key = (index, limit, links)
            if key not in self._lines:
                self._lines[key] = self.line(words.cut_to(limit), index + 1, links)
            lines.append(self._lines[key])
        text = self.digest_template.render(
            signature=self.sms.signature, items=lines, more=len(self.words) - shown,
            total=len(self.words), inquiry_phone=self.phones.inquiry,
            objection_phone=self.phones.objection, hotline=self.phones.hotline,
            link=self.area_link if links else "", opt_out=self.sms.opt_out, area=self.area)
        return text.strip("\n"), lines

    def line(self, words: ItemWords, number: int, links: bool) -> str:
        text = self.item_template.render(
            number=number, marks=words.marks, where=words.where, what=words.what,
            amount=words.shown_amount, when=words.when, note=words.note,
            link=words.link if links else "", event=words.event)
        return " ".join(text.split())  # one line, single spaces, whatever the template did

    def fitting(self, shown: int, cuts: Cuts, links: bool
                ) -> tuple[str, list[str], Segmentation] | None:
        text, lines = self.text(shown, cuts, links)
        single, per_part = LIMITS[encoding_of(text)]
        if units_of(text) > max(single, per_part * self.sms.max_parts):
            return None  # too long however it is cut into parts
        cut = segment(text, keep_whole(text))
        return (text, lines, cut) if cut.segments <= self.sms.max_parts else None

    def compose(self) -> tuple[str, list[str], Segmentation]:
        total = len(self.words)
        with_links = [True, False] if self.sms.links != "none" else [True]
        # Rules 1 and 3: the most items that fit when cut as far as the rules go; the link
        # only goes when not one item fits with it.
        tries = [(shown, links) for links in with_links for shown in range(total, 0, -1)]
        for shown, links in [*tries, *((0, links) for links in with_links)]:
            if self.fitting(shown, (MIN_CUT, MIN_CUT), links):
                break
        else:
            raise RenderError(None, f"the SMS signature, phone line and opt-out alone need "
                                    f"more than {self.sms.max_parts} part(s); shorten "
                                    "sms.signature or sms.opt_out, or raise sms.max_parts")
        # Rule 2: every word if they fit, else names and notes cut to the longest length
        # that does; urgent items only when cutting the others is not enough.
        words = self.words[:shown]
        others = max((w.longest for w in words if not w.urgent), default=0)
        urgent = max((w.longest for w in words if w.urgent), default=0)
        lengths = range(max(others, urgent) - 1, MIN_CUT - 1, -1)
        steps: list[Cuts] = [(None, None), *((None, n) for n in lengths if n < others),
                             *((n, MIN_CUT) for n in lengths if n < urgent)]
        for cuts in steps:
            found = self.fitting(shown, cuts, links)
            if found is not None:
                return found
        raise AssertionError("the shortest form fitted a moment ago")  # pragma: no cover


def keep_whole(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` a part boundary should not split: links, then phone numbers,
    dates and amounts (a handset that shows the parts apart still shows them whole)."""
    spans = [m.span() for m in _LINK.finditer(text)]
    for match in WHOLE.finditer(text):
        if not any(low < match.end() and match.start() < high for low, high in spans):
            spans.append(match.span())
    return sorted(spans)


def compose_digest(items: Sequence[DigestItem | Notice | tuple[Notice, str]], area: str,
                   ctx: RenderContext) -> Digest:
    """The digest of ``items`` for subscribers of ``area``, within ``sms.max_parts`` parts."""
    ordered = sorted((DigestItem.of(i) for i in items), key=rank)
    text, lines, cut = _Composer(ordered, area, ctx).compose()
    notice_ids = tuple(item.notice.id for item in ordered)
    fingerprint = json.dumps([area, text, [item.key for item in ordered]], ensure_ascii=False)
    digest_id = "dg-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return Digest(text=text, parts=cut.parts, encoding=cut.encoding, notice_ids=notice_ids,
                  digest_id=digest_id, part_units=cut.part_units,
                  lines=tuple(zip(notice_ids, lines, strict=False)))


class DigestCache:
    """One composition per distinct digest: most subscribers of an area receive the same items,
    so a publish run composes each (area, items) once and hands the same digest to all."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx
        self._made: dict[tuple[str, frozenset[tuple[str, int, str]]], Digest] = {}
        self.hits = 0

    def compose(self, items: Sequence[tuple[Notice, str]], area: str) -> Digest:
        """The digest of these (notice, event) pairs for ``area``, composed at most once."""
        key = (area, frozenset((notice.id, notice.revision, event) for notice, event in items))
        digest = self._made.get(key)
        if digest is None:
            digest = self._made[key] = compose_digest(items, area, self.ctx)
        else:
            self.hits += 1
        return digest

    def __len__(self) -> int:
        return len(self._made)


def digest_json(digest: Digest, **extra: Any) -> dict[str, Any]:
    """The digest with its segmentation, for previews and the collection."""
    return {**extra, **digest.as_json(), "text": digest.text, "encoding": digest.encoding,
            "units": digest.units, "segments": len(digest.parts),
            "part_units": list(digest.part_units), "part_chars": [len(p) for p in digest.parts]}


def current_notices(notices: Sequence[Notice], ctx: RenderContext) -> list[Notice]:
    """Approved, public notices worth a text as of ``ctx.now``: publicity running, or (without a
    publicity period) published within the last ``rules.min_publicity_days`` days."""
    config = ctx.config
    recent = ctx.today - timedelta(days=config.rules.min_publicity_days)
    chosen = []
    for notice in notices:
        if notice.status is not Status.approved or not is_in_force(
                notice, ctx.moment, config.zone, config.site.urgent_days):
            continue  # not public yet, or an urgent notice past its expiry
        state = notice.publicity_state(ctx.today)
        if state is PublicityState.running or (
                state is PublicityState.none and notice.published_date > recent):
            chosen.append(notice)
    return chosen


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


class SmsRenderer(BaseRenderer):
    name: ClassVar[str] = "sms"
    version: ClassVar[str] = "2"
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
