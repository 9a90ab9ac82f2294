"""Atom 1.0 feeds: one for everything, one per area and one per department.

* Entry ids are ``urn:uuid:`` values derived (UUID 5) from the site's host and the notice id:
  stable across revisions and rebuilds, and free of a date that a correction could move.
* ``updated`` moves with every revision. The YAML has no revision timestamp, so it is the
  notice's ``published`` time (which an office normally moves to the correction's time) plus
  ``revision - 1`` seconds, so that it moves even when they did not; a withdrawal moves it to
  the withdrawal day.
* A feed carries the newest ``FEED_ENTRIES`` entries: a reader polls it, it is not an archive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pipeline.model import Notice
from pipeline.renderers.base import RenderContext
from pipeline.renderers.web_links import host_of
from pipeline.schedule import published_at

FEED_ENTRIES = 50
_NAMESPACE = uuid.UUID("6f1c3d0e-4b8a-5a52-9d63-2b7c1f0e8a41")  # noticecast's own namespace


def entry_id(host: str, notice_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{host}/notices/{notice_id}')}"


def feed_id(host: str, scope: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{host}/feeds/{scope}')}"


def updated_at(notice: Notice, ctx: RenderContext) -> datetime:
    moment = published_at(notice, ctx.config.zone) + timedelta(seconds=notice.revision - 1)
    if notice.is_withdrawn and notice.withdrawal is not None:
        day = notice.withdrawal.on or ctx.today
        withdrawn = datetime.combine(day, time(0, 0), tzinfo=ctx.config.zone)
        moment = max(moment + timedelta(seconds=1), withdrawn)
    return moment


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_title(notice: Notice) -> str:
    if notice.is_withdrawn:
        return f"【已撤回】{notice.title}"
    if notice.is_correction:
        return f"【更正】{notice.title}"
    return notice.title


def feed_context(scope: str, title: str, html_dir: str, feed_path: str,
                 notices: Sequence[Notice], ctx: RenderContext) -> dict[str, Any]:
    """The template context of one feed over ``notices`` (any order)."""
    host = host_of(ctx.base_url)
    stamped = sorted(((updated_at(n, ctx), n) for n in notices),
                     key=lambda pair: (pair[0], pair[1].id), reverse=True)[:FEED_ENTRIES]
    entries = [{
        "id": entry_id(host, n.id),
        "title": entry_title(n),
        "url": ctx.notice_url(n.id),
        "published": _stamp(published_at(n, ctx.config.zone)),
        "updated": _stamp(moment),
        "author": n.issuer,
        "kind": n.kind.value,
        "kind_label": n.kind.label,
        "summary": n.summary if not n.is_withdrawn else
        f"本公告已撤回：{n.withdrawal.reason if n.withdrawal else ''}。原摘要：{n.summary}",
    } for moment, n in stamped]
    # A feed with no entries still needs a stable `updated`: the start of the build day.
    newest = stamped[0][0] if stamped else datetime.combine(ctx.today, time(0, 0),
                                                             tzinfo=ctx.config.zone)
    return {
        "feed": {
            "id": feed_id(host, scope),
            "title": f"{title} - {ctx.config.site.title}",
            "subtitle": ctx.config.office.name,
            "updated": _stamp(newest),
            "self_url": f"{ctx.base_url}/{feed_path}",
            "html_url": f"{ctx.base_url}/{html_dir}",
            "author": ctx.config.office.name,
        },
        "entries": entries,
    }
