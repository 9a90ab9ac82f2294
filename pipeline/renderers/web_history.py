"""Earlier revisions of a notice, kept on the site at ``notices/<id>/r<N>/``.

The YAML holds only the current revision, so the earlier texts come from the site's own
previous build: every notice page is written with ``source.json`` beside it (the notice as
the office wrote it, public anyway), and each kept revision has ``r<N>/source.json``. When
revision M is rendered, the renderer reads those files from ``out/web/notices/<id>/`` and
writes every revision below M again, so that they stay in the site (and the manifest) from
then on. Why the site's own output and not the ledger: the ledger keeps the bytes of what
at-most-once channels sent, not the notices' text; the site is the record, and it is where a
reader looks. If ``out/web`` was deleted, the published web root (the site channel's, and its
``.previous``) is read instead; a revision that was never built (r1 straight to r3) has no
text to keep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.config import Config
from pipeline.model import Notice
from pipeline.renderers.web_links import notice_dir
from pipeline.schedule import published_at

SOURCE = "source.json"


@dataclass(frozen=True)
class Revision:
    revision: int
    notice: Notice
    document: dict[str, Any]

    @property
    def published(self) -> datetime:
        return self.notice.published

    @property
    def sent(self) -> datetime:
        zone = self.notice.published.tzinfo
        assert zone is not None
        return published_at(self.notice, zone) + timedelta(seconds=self.revision - 1)


def source_document(notice: Notice) -> dict[str, Any]:
    return notice.model_dump(mode="json", exclude={"channels", "minor_edit"})


def _read(path: Path, config: Config) -> Revision | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        notice = Notice.model_validate(data, context={"timezone": config.timezone})
    except (OSError, ValueError, ValidationError):
        return None  # no earlier build, or one this version cannot read: nothing to keep
    return Revision(notice.revision, notice, data)


def earlier_revisions(notice: Notice, config: Config) -> list[Revision]:
    """Every revision below ``notice.revision`` the previous build had, oldest first."""
    if notice.revision < 2:
        return []
    found: dict[int, Revision] = {}
    for site in _sites(config):
        folder = site / notice_dir(notice.id)
        for path in [folder / SOURCE, *sorted(folder.glob(f"r*/{SOURCE}"))]:
            old = _read(path, config)
            if old is not None and old.notice.id == notice.id and old.revision < notice.revision:
                found.setdefault(old.revision, old)
    return [found[k] for k in sorted(found)]


def _sites(config: Config) -> list[Path]:
    """Where earlier builds are: ``out/web``, then the published web root (which outlives a
    deleted ``out/``) and the version it keeps for a rollback."""
    configured = config.channels.site.web_root or config.site.web_root
    root = config.path(configured) if configured else config.root / "out" / "channels" / "site"
    return [config.root / "out" / "web", root, root.with_name(f"{root.name}.previous")]


def _facts(notice: Notice) -> dict[str, str]:
    facts = {"标题": notice.title, "摘要": notice.summary, "发布单位": notice.issuer,
             "地区": notice.place}
    if notice.publicity:
        facts["公示期"] = notice.publicity.display
    p = notice.project
    if p is not None:
        facts.update({"项目名称": p.name, "实施地点": p.location, "建设内容": p.content,
                      "实施单位": p.implementer, "责任人": p.responsible.name,
                      "资金合计": p.total_display})
        if p.period:
            facts["实施期限"] = p.period.display
        for fund in p.funds:
            facts[f"资金来源：{fund.source}"] = fund.amount_display
    for label, number in notice.contact.phones():
        facts[label] = number
    return facts


def what_changed(old: Notice, new: Notice) -> list[str]:
    """One line per fact that differs between two revisions, in the page's wording."""
    before, after = _facts(old), _facts(new)
    lines = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key), after.get(key)
        if a != b:
            lines.append(f"{key}：{a or '（无）'} → {b or '（无）'}")
    if old.body != new.body:
        lines.append("正文有修改")
    return lines
