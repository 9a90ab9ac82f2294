"""Edits after publication: a notice changed after it reached people, without a new revision.

Idempotent channels (the site, the ticker) simply carry the current content on the next
publish. At-most-once channels (SMS, Telegram, WeChat, the newspaper) never resend on their
own: the office decides. ``check`` and ``publish`` name each such notice and the two ways on:

* bump ``revision`` and add ``correction:`` — recipients are told (更正);
* set ``minor_edit: true`` (a typo) — the record is updated, nobody is told again.

The ledger keeps the content hash each delivery was made from (its payload), so the question
"was this sent as it reads now?" has an exact answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from pipeline.model import Notice, Status


@dataclass(frozen=True)
class Edit:
    notice: Notice
    sent_hash: str
    sent_at: datetime

    @property
    def minor(self) -> bool:
        return bool(getattr(self.notice, "minor_edit", False))

    def message(self, zone: tzinfo) -> str:
        when = self.sent_at.astimezone(zone)
        return (f"{self.notice.id} changed since revision {self.notice.revision} was sent on "
                f"{when:%Y-%m-%d %H:%M} without a new revision; people who got it were not "
                "told. Bump `revision` and add `correction:` to tell them, or set "
                "`minor_edit: true` (a typo fix) to update the record only")


def edits_after_sending(notices: Iterable[Notice],
                        sent: Mapping[tuple[str, int], tuple[str, datetime]]) -> list[Edit]:
    """The approved notices whose content differs from what their revision was sent as."""
    found = []
    for notice in notices:
        if notice.status is not Status.approved:
            continue
        got = sent.get((notice.id, notice.revision))
        if got is not None and got[0] != notice.content_hash:
            found.append(Edit(notice, got[0], got[1]))
    return found
