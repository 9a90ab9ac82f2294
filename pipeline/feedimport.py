"""`noticecast import-feed`: an upstream RSS/Atom feed -> one draft notice YAML per new entry.

A county portal often already publishes notices as a feed; importing them as **drafts** lets
the office check, complete and approve each one instead of typing it again. Rules:

* De-duplication is by the entry's id (its ``guid``/``id``, else its link, else its title),
  recorded in ``.import-state.json`` inside the target folder, so a second run writes nothing
  new for entries it has seen, even when the office renamed nothing and deleted a draft.
* A file is never overwritten once someone edited it: when an entry changes upstream, its
  draft is refreshed only if the file still has exactly the bytes the import wrote.
* Something that is not a feed fails with one clear line, and nothing is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import yaml

from pipeline.build import write_atomic
from pipeline.config import Config
from pipeline.errors import InputError, ResourceError
from pipeline.model import Level

STATE_FILE = ".import-state.json"
MAX_TITLE = 200
MAX_SUMMARY = 200
FETCH_TIMEOUT_S = 20.0


@dataclass
class ImportResult:
    written: list[Path] = field(default_factory=list)  # new or refreshed drafts
    kept: list[Path] = field(default_factory=list)  # changed upstream, but edited here
    seen: int = 0  # entries imported by an earlier run, unchanged


# -- reading the feed ------------------------------------------------------------------------

def fetch(source: str, *, deadline_s: float = 60.0, max_bytes: int = 20 * 1024 * 1024
          ) -> tuple[bytes, dict[str, str]]:
    """The raw bytes of a feed URL or file, and the HTTP headers that tell its encoding.

    The download is read in chunks and stops with an error once it passes ``max_bytes`` or
    ``deadline_s`` in all (a server that trickles a byte every few seconds never trips a
    per-read timeout).
    """
    too_big = (f"the feed is over the limit of {max_bytes:,} bytes; raise "
               "import_feed.max_bytes in noticecast.yaml if it really is this big")
    if re.match(r"^https?://", source, re.IGNORECASE):
        return _download(source, deadline_s, max_bytes, too_big)
    path = Path(source)
    try:
        if not path.is_file():  # a FIFO or device is never opened
            raise InputError.at(source, 0, 0, "no such file; give a feed file or an http(s) URL")
        if path.stat().st_size > max_bytes:
            raise InputError.at(source, 0, 0, too_big)
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError.at(source, 0, 0, f"cannot read the feed: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise InputError.at(source, 0, 0, too_big)
    return raw, {}


def _download(url: str, deadline_s: float, max_bytes: int, too_big: str
              ) -> tuple[bytes, dict[str, str]]:
    import httpx

    started = time.monotonic()
    late = (f"the feed took more than {deadline_s:g} s to download; try again later, or raise "
            "import_feed.deadline_s in noticecast.yaml")
    timeout = httpx.Timeout(min(FETCH_TIMEOUT_S, deadline_s))
    body = bytearray()
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True,
                          headers={"User-Agent": "noticecast-import-feed"}) as response:
            if response.status_code >= 400:
                raise InputError.at(url, 0, 0, f"cannot fetch the feed: HTTP "
                                    f"{response.status_code} {response.reason_phrase}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise InputError.at(url, 0, 0, too_big)
            for chunk in response.iter_raw():  # as it arrives, so the deadline is kept
                body += chunk
                if len(body) > max_bytes:
                    raise InputError.at(url, 0, 0, too_big)
                if time.monotonic() - started > deadline_s:
                    raise InputError.at(url, 0, 0, late)
            headers = {k.lower(): v for k, v in response.headers.items()}
    except httpx.TimeoutException:
        if time.monotonic() - started >= deadline_s:
            raise InputError.at(url, 0, 0, late) from None
        raise InputError.at(url, 0, 0, "cannot fetch the feed: the server stopped answering; "
                            "try again later") from None
    except httpx.HTTPError as exc:
        raise InputError.at(url, 0, 0, f"cannot fetch the feed: {exc}") from None
    if "content-encoding" in headers:
        body = bytearray(_decompressed(bytes(body), headers.pop("content-encoding"),
                                       max_bytes, url, too_big))
    return bytes(body), headers


def _decompressed(raw: bytes, encoding: str, max_bytes: int, url: str, too_big: str) -> bytes:
    """A gzip/deflate body, inflated at most to ``max_bytes`` (a zip bomb stops there)."""
    import zlib

    kind = encoding.strip().lower()
    if kind in ("", "identity"):
        return raw
    if kind not in ("gzip", "x-gzip", "deflate"):
        raise InputError.at(url, 0, 0, f"cannot fetch the feed: unsupported content encoding "
                            f"{encoding!r}")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32 if kind != "deflate" else zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise InputError.at(url, 0, 0, f"cannot fetch the feed: broken {kind} body ({exc})"
                            ) from None
    if len(data) > max_bytes:
        raise InputError.at(url, 0, 0, too_big)
    return data


def parse_feed(raw: bytes, headers: dict[str, str], source: str) -> Any:
    parsed = feedparser.parse(raw, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f" ({str(reason).splitlines()[0]})" if reason else ""
        raise InputError.at(source, 0, 0, f"not an RSS or Atom feed{detail}; check the URL or "
                            "the file (an HTML page is not a feed)")
    return parsed


# -- HTML -> Markdown-ish text ------------------------------------------------------------------

class _TextMaker(HTMLParser):
    """Feed HTML -> plain paragraphs with Markdown links; everything else becomes text.

    The body is rendered through markdown-it + nh3 later, so this only has to read well.
    """

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                        "blockquote", "section", "article", "table", "ul", "ol"})
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n" if tag != "br" else "\n")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.href = href if re.match(r"^https?://", href) else None
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS and tag not in ("li", "br"):
            self.parts.append("\n\n")
        elif tag == "a" and self.href is not None:
            text = "".join(self.link_text).strip() or self.href
            self.parts.append(f"[{_escape_md(text)}]({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.href is not None:
            self.link_text.append(data)
        else:
            self.parts.append(_escape_md(data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _escape_md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def html_to_text(html: str) -> str:
    maker = _TextMaker()
    maker.feed(html)
    maker.close()
    return maker.text()


def plain(html: str) -> str:
    """One line of plain text (for titles and summaries)."""
    text = html_to_text(html)
    text = re.sub(r"\\(.)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_sentence(text: str) -> str:
    match = re.match(r"^(.+?[。！？!?])", text)
    return match.group(1) if match else text


# -- entries -> notices ------------------------------------------------------------------------

def entry_key(entry: Any) -> str:
    return str(entry.get("id") or entry.get("link") or entry.get("title") or "")


def notice_id(key: str, published: datetime, taken: Container[str] = frozenset()) -> str:
    """imp-20180704-1a2b3c4d; longer (and finally numbered) while that id is ``taken`` by
    another entry, so that two entries of one day never share a draft."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    day = f"imp-{published:%Y%m%d}"
    for length in (8, 12, 16, 24, 32, 64):
        candidate = f"{day}-{digest[:length]}"
        if candidate not in taken:
            return candidate
    number = 2
    while f"{day}-{digest}-{number}" in taken:
        number += 1
    return f"{day}-{digest}-{number}"


def _published(entry: Any, config: Config) -> datetime:
    for name in ("published_parsed", "updated_parsed"):
        stamp = entry.get(name)
        if stamp:
            moment = datetime(*stamp[:6], tzinfo=UTC)
            return moment.astimezone(config.zone).replace(tzinfo=None)
    return datetime.now(config.zone).replace(tzinfo=None, microsecond=0)


def _body(entry: Any) -> str:
    html = ""
    if entry.get("content"):
        html = entry.content[0].get("value", "")
    html = html or entry.get("summary", "")
    return html_to_text(html)


def notice_data(entry: Any, feed_title: str, area: str, issuer: str | None,
                config: Config, taken: Container[str] = frozenset()) -> dict[str, Any]:
    """The draft notice of one entry, as a YAML-ready mapping (its id not one of ``taken``)."""
    published = _published(entry, config)
    key = entry_key(entry)
    title = _clip(plain(entry.get("title", "")) or "（无标题）", MAX_TITLE)
    body = _body(entry) or title
    summary_source = plain(entry.get("summary", "")) or plain(body) or title
    link = entry.get("link") or ""
    data: dict[str, Any] = {
        "id": notice_id(key, published, taken),
        "revision": 1,
        "kind": "announcement",
        "title": title,
        "issuer": issuer or feed_title or config.office.name,
        "level": _level_of(area).value,
        "area": area,
        "published": published,
        "summary": _clip(_first_sentence(summary_source), MAX_SUMMARY),
        "body": body,
    }
    if re.match(r"^https?://", link):
        data["attachments"] = [{"title": "原文链接", "url": link}]
    data["tags"] = ["imported"]
    data["status"] = "draft"
    return data


def _level_of(area: str) -> Level:
    return {1: Level.county, 2: Level.town, 3: Level.village}[len(area.split("/"))]


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text, so that an office can edit the body comfortably."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(data: dict[str, Any], source: str) -> str:
    header = (f"# 由 `noticecast import-feed` 从 {source} 导入的草稿。核对、补全后把 status 改为 "
              "approved 才会发布。\n")
    return header + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                              default_flow_style=False, width=100)


# -- the import ----------------------------------------------------------------------------------

def default_area(config: Config, area: str | None, source: str) -> str:
    if area:
        parts = [p.strip() for p in area.split("/") if p.strip()]
        if not 1 <= len(parts) <= 3:
            raise InputError.at("--area", 0, 0, f"area {area!r} must be 县/镇/村, one to three "
                                "names, e.g. 什邡市/师古镇")
        known, wrong = config.area_known("/".join(parts))
        if not known:
            raise InputError.at("--area", 0, 0, f"{wrong!r} is not in the office's regions; "
                                "use an area from noticecast.yaml")
        return "/".join(parts)
    if not config.regions:
        raise InputError.at(source, 0, 0, "no regions in noticecast.yaml to choose an area "
                            "from; pass --area, e.g. --area 什邡市")
    return next(iter(config.regions))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _load_state(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text("utf-8"))
        return dict(data.get("entries", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def import_feed(source: str, folder: Path, config: Config, *, area: str | None = None,
                issuer: str | None = None) -> ImportResult:
    limits = config.import_feed
    raw, headers = fetch(source, deadline_s=limits.deadline_s, max_bytes=limits.max_bytes)
    parsed = parse_feed(raw, headers, source)
    chosen_area = default_area(config, area, source)
    feed_title = plain(parsed.feed.get("title", ""))
    state_path = folder / STATE_FILE
    state = _load_state(state_path)
    result = ImportResult()
    # Draft ids that belong to some entry: an entry of the same day whose short hash collides
    # gets a longer id instead of being mistaken for an earlier import.
    taken = {Path(record["file"]).stem for record in state.values()}
    for entry in parsed.entries:
        key = entry_key(entry)
        if not key:
            continue
        record = state.get(key)
        own = Path(record["file"]).stem if record is not None else None
        data = notice_data(entry, feed_title, chosen_area, issuer, config,
                           _TakenByOthers(taken, own))
        text = to_yaml(data, source)
        if record is not None:
            path = folder / record["file"]
            if record["sha256"] == _sha(text) or not path.exists():
                result.seen += 1  # unchanged upstream, or the office deleted the draft
                continue
            if _sha(path.read_text("utf-8")) != record["sha256"]:
                result.kept.append(path)  # edited here: never overwritten
                continue
        else:
            path = folder / f"{data['id']}.yaml"
            if path.exists():
                # Not in the state (it was lost), but the file is there: leave it alone.
                result.kept.append(path)
                state[key] = {"file": path.name, "sha256": _sha(text)}
                taken.add(path.stem)
                continue
        try:
            write_atomic(path, text.encode("utf-8"))  # ResourceError on a full disk
        except ResourceError:
            with contextlib.suppress(ResourceError):  # what was written so far stays known
                _save_state(state_path, source, state)
            raise
        state[key] = {"file": path.name, "sha256": _sha(text)}
        taken.add(path.stem)
        result.written.append(path)
    _save_state(state_path, source, state)
    return result


def _save_state(path: Path, source: str, state: dict[str, dict[str, str]]) -> None:
    write_atomic(path, json.dumps({"version": 1, "source": source, "entries": state},
                                  ensure_ascii=False, indent=1).encode("utf-8"))


@dataclass(frozen=True)
class _TakenByOthers:
    """The draft ids of every other entry: all of ``taken`` but the entry's ``own``."""

    taken: set[str]
    own: str | None

    def __contains__(self, draft_id: object) -> bool:
        return draft_id != self.own and draft_id in self.taken
