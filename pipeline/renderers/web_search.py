"""The offline search index: a compact JSON file that ``assets/search.js`` matches by bigrams.

Chinese has no spaces between words, so the script splits a query into overlapping pairs of
characters (马祖村 -> 马祖, 祖村) and keeps notices whose text holds every pair. That needs no
dictionary and no server, and it works on an intranet. Each document is a short array, not an
object, to keep the file small: ``[id, title, kind label, date, "issuer · place", summary,
search text]``; the search text is lower-cased once here instead of in every browser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pipeline.model import Notice, format_date

INDEX_VERSION = 1


def search_text(notice: Notice) -> str:
    parts = [notice.summary, notice.issuer, notice.place, notice.kind.label, notice.id]
    if notice.project is not None:
        parts += [notice.project.name, notice.project.location, notice.project.implementer]
    parts.extend(notice.tags)
    return " ".join(parts).lower()


def search_index(notices: Sequence[Notice]) -> bytes:
    """The index over ``notices`` (the listed ones, newest first)."""
    docs = [[n.id, n.title, n.kind.label, format_date(n.published_date),
             f"{n.issuer} · {n.place}", n.summary, search_text(n)] for n in notices]
    payload = {"v": INDEX_VERSION, "docs": docs}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
