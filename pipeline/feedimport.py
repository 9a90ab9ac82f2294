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

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import yaml

from pipeline.build import write_atomic
from pipeline.config import Config
from pipeline.errors import InputError
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

def fetch(source: str) -> tuple[bytes, dict[str, str]]:
    """The raw bytes of a feed URL or file, and the HTTP headers that tell its encoding."""
    if re.match(r"^https?://", source, re.IGNORECASE):
        import httpx

        try:
            response = httpx.get(source, timeout=FETCH_TIMEOUT_S, follow_redirects=True,
                                 headers={"User-Agent": "noticecast-import-feed"})
        except httpx.HTTPError as exc:
            raise InputError.at(source, 0, 0, f"cannot fetch the feed: {exc}") from None
        if response.status_code >= 400:
            raise InputError.at(source, 0, 0, f"cannot fetch the feed: HTTP "
                                f"{response.status_code} {response.reason_phrase}")
        return response.content, {k.lower(): v for k, v in response.headers.items()}
    path = Path(source)
    if not path.is_file():
        raise InputError.at(source, 0, 0, "no such file; give a feed file or an http(s) URL")
    return path.read_bytes(), {}


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


def notice_id(key: str, published: datetime) -> str:
    return f"imp-{published:%Y%m%d}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


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
                config: Config) -> dict[str, Any]:
    """The draft notice of one entry, as a YAML-ready mapping."""
    published = _published(entry, config)
    key = entry_key(entry)
    title = _clip(plain(entry.get("title", "")) or "（无标题）", MAX_TITLE)
    body = _body(entry) or title
    summary_source = plain(entry.get("summary", "")) or plain(body) or title
    link = entry.get("link") or ""
    data: dict[str, Any] = {
        "id": notice_id(key, published),
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
    raw, headers = fetch(source)
    parsed = parse_feed(raw, headers, source)
    chosen_area = default_area(config, area, source)
    feed_title = plain(parsed.feed.get("title", ""))
    state_path = folder / STATE_FILE
    state = _load_state(state_path)
    result = ImportResult()
    for entry in parsed.entries:
        key = entry_key(entry)
        if not key:
            continue
        data = notice_data(entry, feed_title, chosen_area, issuer, config)
        text = to_yaml(data, source)
        record = state.get(key)
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
                continue
        write_atomic(path, text.encode("utf-8"))
        state[key] = {"file": path.name, "sha256": _sha(text)}
        result.written.append(path)
    write_atomic(state_path, json.dumps({"version": 1, "source": source, "entries": state},
                                        ensure_ascii=False, indent=1).encode("utf-8"))
    return result
