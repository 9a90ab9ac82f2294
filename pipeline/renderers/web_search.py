"""The offline search index: character n-grams over every word a notice's page shows.

Chinese has no spaces between words, and readers do not type them, so text and query are both
cut into overlapping character pairs (马祖村道路 -> 马祖 祖村 村道 道路) inside runs of letters
and digits (punctuation and spaces end a run; '.', '-' and '%' stay, for 68.5万元,
0838-8512345 and 30%). A notice that contains a query contains all of its pairs, so recall is
complete; a notice holding most of the pairs (马祖村 … 道路) is shown after the full matches.
A one-character query uses single characters, which are indexed too.

Why n-grams and not a word segmenter: a dictionary segmenter (jieba) cuts 马祖村 as one word,
so the query 马祖 would miss it unless the browser also had the dictionary (megabytes) or the
whole vocabulary; pairs need neither and, measured on the benchmark's 1,000 notices, give an
index of the same order of size (see README, "The citizen's portal").

The files (all under ``search/``):

* ``meta.json``: the format version, the number of shards, the filters' values, and one short
  array per notice (newest first; a notice's number is its position):
  ``[id, title, kind, date, area, issuer, state, flags, summary]``.
* ``s/<k>.json``: shard ``k`` of the postings, ``{"马祖": "0*,3,1a*"}``: for each pair, the
  numbers of the notices holding it as base-36 gaps, ``*`` when the pair is in the title,
  place or issuer (ranked above the body). A pair's shard is its FNV-1a hash (over UTF-16 code
  units, as JavaScript sees strings) modulo the shard count.

The first search fetches ``meta.json`` and the few shards its pairs fall in; the number of
shards grows with the index, so a shard stays about ``SHARD_TARGET`` bytes whatever the size
of the site, and the transfer grows only with ``meta.json`` (linearly, a few dozen bytes a
notice compressed).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

INDEX_VERSION = 2
SHARD_TARGET = 12_000  # bytes of uncompressed postings per shard, roughly


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


# Letters (any script), digits, '_' and the three kept marks; ``\w`` is Unicode-aware, as
# /[\p{L}\p{N}_.%-]+/u is in ``assets/search.js``.
_RUN = re.compile(r"[\w.%-]+")


def runs(text: str) -> list[str]:
    """Maximal runs of letters, digits, '.', '-' and '%' in normalised ``text``."""
    return _RUN.findall(text)


def grams(text: str) -> set[str]:
    """Every single character and every pair of neighbours within a run."""
    out: set[str] = set()
    for run in runs(normalise(text)):
        out.update(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def shard_of(gram: str, shards: int) -> int:
    """FNV-1a over UTF-16 code units, the same in ``assets/search.js``."""
    value = 0x811C9DC5
    data = gram.encode("utf-16-le")
    for i in range(0, len(data), 2):
        value ^= data[i] | (data[i + 1] << 8)
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value % shards


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _encode(items: list[int]) -> str:
    parts, last = [], 0
    for item in items:  # ascending: notices are added in order
        number, heading = divmod(item, 2)
        parts.append(_base36(number - last) + ("*" if heading else ""))
        last = number
    return ",".join(parts)


@dataclass(frozen=True)
class SearchDoc:
    """One notice as search sees it (``row`` is what meta.json carries)."""

    row: list[object]
    heading: str
    text: str


@dataclass(frozen=True)
class SearchIndex:
    meta: bytes
    shards: list[bytes]

    @property
    def files(self) -> Iterator[tuple[str, bytes]]:
        yield "search/meta.json", self.meta
        for number, data in enumerate(self.shards):
            yield f"search/s/{number}.json", data


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_index(docs: Sequence[SearchDoc], filters: dict[str, object]) -> SearchIndex:
    """The index over ``docs`` (newest first)."""
    postings: dict[str, list[int]] = {}
    for number, doc in enumerate(docs):
        heading = grams(doc.heading)
        # A notice number doubled, plus one when the pair is in the heading.
        for gram in heading:
            postings.setdefault(gram, []).append(number * 2 + 1)
        for gram in grams(doc.text) - heading:
            postings.setdefault(gram, []).append(number * 2)
    encoded = {gram: _encode(items) for gram, items in postings.items()}
    size = sum(len(g.encode()) + len(p) + 6 for g, p in encoded.items())
    count = max(1, math.ceil(size / SHARD_TARGET))
    shards: list[dict[str, str]] = [{} for _ in range(count)]
    for gram, text in encoded.items():
        shards[shard_of(gram, count)][gram] = text
    meta = {"v": INDEX_VERSION, "shards": count, "filters": filters,
            "docs": [doc.row for doc in docs]}
    return SearchIndex(_dumps(meta), [_dumps(s) for s in shards])


def values_in_order(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)
