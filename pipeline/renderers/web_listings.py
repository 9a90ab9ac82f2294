"""Which notices the site lists, in what order, grouped how, and cut into pages.

What is on the site (decided here, in one place):

* **Drafts** are not on the site at all: no page, no listing, no feed entry.
* A notice whose ``published`` moment is after the instant the build is made as of is not on
  the site yet (``pipeline.schedule``: an approved notice for 15:00 must not leak at 10:00).
* **Withdrawn** notices stay on the record: their page (marked 已撤回 with the reason), their
  place in every listing (marked the same way) and in search. Feeds keep their entry, retitled
  【已撤回】 with ``updated`` moved to the withdrawal day, so that a feed reader learns of the
  withdrawal instead of seeing the entry silently vanish.
* An **urgent** notice is pinned on the home page while it is in force
  (``schedule.is_in_force``); once expired it is listed like any other, marked 已失效.

Listing items are computed once per notice and shared by every listing page, so that 10,000
notices cost 10,000 item computations, not one per page they appear on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from pipeline import schedule
from pipeline.config import Config
from pipeline.model import Notice, PublicityState, format_date
from pipeline.renderers.web_links import area_dir, notice_dir, page_dir, page_path
from pipeline.schedule import published_at


def on_site(notice: Notice, now: datetime, zone: tzinfo) -> bool:
    """Whether the notice has a page on the site built as of ``now`` (the schedule rule)."""
    return schedule.is_public(notice, now, zone)


def is_listed(notice: Notice, now: datetime, zone: tzinfo) -> bool:
    """Public and not withdrawn (feeds' current items; the 公示中 listing)."""
    return schedule.is_listed(notice, now, zone)


ENDING_SOON_DAYS = 3


def days_left(notice: Notice, today: date) -> int | None:
    """Days of publicity left after today while it runs (0: ends today); None otherwise."""
    if notice.publicity is None or notice.publicity_state(today) is not PublicityState.running:
        return None
    return (notice.publicity.end - today).days


def newest_first(notices: Iterable[Notice], zone: tzinfo) -> list[Notice]:
    return sorted(notices, key=lambda n: (published_at(n, zone), n.id), reverse=True)


def home_order(notices: Iterable[Notice], today: date, zone: tzinfo) -> list[Notice]:
    """公示中 first (newest first), then every other notice, newest first."""
    ordered = newest_first(notices, zone)
    running = [n for n in ordered if n.publicity_state(today) is PublicityState.running]
    others = [n for n in ordered if n.publicity_state(today) is not PublicityState.running]
    return running + others


def listing_item(notice: Notice, today: date, zone: tzinfo, *, in_force: bool = True
                 ) -> dict[str, Any]:
    """What a listing shows of a notice; plain values, cheap to render many times."""
    state = notice.publicity_state(today)
    left = days_left(notice, today)
    return {
        "withdrawn": notice.is_withdrawn,
        "withdrawal_reason": notice.withdrawal.reason if notice.withdrawal else "",
        "ending_soon": left is not None and left <= ENDING_SOON_DAYS,
        "days_left": left,
        "expired": notice.is_urgent and not in_force and not notice.is_withdrawn,
        "id": notice.id,
        "dir": notice_dir(notice.id),
        "title": notice.title,
        "kind": notice.kind.value,
        "kind_label": notice.kind.label,
        "state": state.value,
        "state_label": state.label if state is not PublicityState.none else "",
        "correction": notice.is_correction,
        "urgent": notice.is_urgent,
        "issuer": notice.issuer,
        "place": notice.place,
        "date": format_date(notice.published_date),
        "iso": published_at(notice, zone).isoformat(),
        "period": notice.publicity.short_display if notice.publicity else "",
        "summary": notice.summary,
    }


@dataclass(frozen=True)
class Pages:
    """Where one page of a paginated listing sits among its siblings."""

    number: int
    count: int
    prev: str | None
    next: str | None


def paginate(folder: str, items: Sequence[Any], size: int
             ) -> Iterable[tuple[str, Pages, Sequence[Any]]]:
    """(file path, position, items of the page) for each page; one empty page when no items."""
    count = max(1, math.ceil(len(items) / size))
    for number in range(1, count + 1):
        chunk = items[(number - 1) * size: number * size]
        pages = Pages(number, count,
                      page_dir(folder, number - 1) if number > 1 else None,
                      page_dir(folder, number + 1) if number < count else None)
        yield page_path(folder, number), pages, chunk


def group_by(notices: Iterable[Notice], key: Callable[[Notice], Any]) -> dict[Any, list[Notice]]:
    groups: dict[Any, list[Notice]] = {}
    for notice in notices:
        groups.setdefault(key(notice), []).append(notice)
    return groups


@dataclass
class AreaNode:
    """One area of the county -> town -> village tree, with the notices at or below it."""

    path: str
    notices: list[Notice] = field(default_factory=list)
    children: dict[str, AreaNode] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def dir(self) -> str:
        return area_dir(self.path)

    def as_tree(self) -> dict[str, Any]:
        return {"name": self.name, "dir": self.dir, "count": len(self.notices),
                "children": [c.as_tree() for c in self.children.values()]}


def area_tree(notices: Sequence[Notice], config: Config) -> dict[str, AreaNode]:
    """Counties in config order (then any others), each with its towns and villages.

    Configured areas without notices are kept, so that a village can see that nothing was
    published for it; a notice's area that is not configured is added where it belongs.
    """
    nodes: dict[str, AreaNode] = {}
    counties: dict[str, AreaNode] = {}

    def node(path: str) -> AreaNode:
        if path not in nodes:
            nodes[path] = AreaNode(path)
            parent, _, _ = path.rpartition("/")
            if parent:
                node(parent).children[path] = nodes[path]
            else:
                counties[path] = nodes[path]
        return nodes[path]

    for area in config.known_areas():
        node(area)
    for notice in notices:
        for area in notice.area_chain:
            node(area).notices.append(notice)
    return counties


def all_nodes(counties: dict[str, AreaNode]) -> Iterable[AreaNode]:
    pending = list(counties.values())
    while pending:
        current = pending.pop(0)
        yield current
        pending[0:0] = list(current.children.values())


def crumbs(area: str) -> list[tuple[str, str]]:
    """(name, folder) for each area from the county down to ``area``."""
    parts = area.split("/")
    return [(parts[i], area_dir("/".join(parts[: i + 1]))) for i in range(len(parts))]
