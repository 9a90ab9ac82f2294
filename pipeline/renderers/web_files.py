"""Files the site carries besides pages: notices' attachments, the favicon, robots.txt.

An attachment whose ``url`` is on this site (``files/…``, relative, or ``<base_url>/files/…``)
is a file of the project: ``content/files/<path>``. The renderer copies it into the site at
``files/<path>`` and the page shows its type and size; one that is missing or larger than
``site.max_attachment_bytes`` is not linked (``check`` reports it with file and line, see
``pipeline.attachments``). Links to other hosts are shown as they are.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.config import Config
from pipeline.model import Notice
from pipeline.renderers import markdown

FILES_DIR = "files"
TYPE_NAMES = {"application/pdf": "PDF", "image/png": "PNG 图片", "image/jpeg": "JPEG 图片",
              "application/msword": "Word", "application/vnd.ms-excel": "Excel",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
              "application/zip": "ZIP", "text/plain": "文本"}


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


@dataclass(frozen=True)
class Attachment:
    title: str
    href: str | None  # None: not linked (unsafe, missing or too large)
    external: bool
    path: str | None = None  # in the site, for a hosted file
    data: bytes | None = None
    media_type: str = "application/octet-stream"
    problem: str | None = None  # why a hosted file is not linked

    @property
    def size(self) -> int | None:
        return len(self.data) if self.data is not None else None

    @property
    def type_label(self) -> str:
        return TYPE_NAMES.get(self.media_type, self.media_type.split("/")[-1].upper())

    @property
    def size_label(self) -> str:
        return human_size(self.size) if self.size is not None else ""

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.href if self.external else None,
                "path": self.path if self.data is not None else None,
                "media_type": self.media_type if self.data is not None else None,
                "bytes": self.size}


def hosted_path(url: str, base_url: str) -> str | None:
    """The path under ``files/`` an attachment URL names on this site; None: elsewhere."""
    text = url.strip()
    prefix = f"{base_url}/{FILES_DIR}/"
    if text.startswith(prefix):
        rest = text[len(prefix):]
    elif "://" in text or text.startswith(("/", "mailto:", "tel:")):
        return None
    else:
        rest = text.removeprefix(f"{FILES_DIR}/")
    parts = PurePosixPath(rest).parts
    if not parts or any(p in ("..", ".") for p in parts):
        return None
    return "/".join(parts)


def attachment_problem(url: str, config: Config) -> tuple[str | None, Path | None]:
    """(what is wrong, the file) for a hosted attachment; (None, file) when it is fine."""
    rel = hosted_path(url, config.site.base_url)
    if rel is None:
        return None, None
    source = config.root / "content" / FILES_DIR / rel
    try:
        size = source.stat().st_size
    except OSError:
        return (f"attachment {url!r} is not in content/{FILES_DIR}/{rel}; put the file "
                "there or fix the url"), source
    limit = config.site.max_attachment_bytes
    if size > limit:
        return (f"attachment content/{FILES_DIR}/{rel} is {human_size(size)}, more than "
                f"site.max_attachment_bytes ({human_size(limit)}); make it smaller or raise "
                "the limit"), source
    return None, source


def resolve_attachments(notice: Notice, config: Config) -> list[Attachment]:
    out = []
    for item in notice.attachments:
        rel = hosted_path(item.url, config.site.base_url)
        if rel is None:
            out.append(Attachment(item.title, markdown.safe_link(item.url), True))
            continue
        problem, source = attachment_problem(item.url, config)
        path = f"{FILES_DIR}/{rel}"
        if problem is not None or source is None:
            out.append(Attachment(item.title, None, False, path, problem=problem or "missing"))
            continue
        media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        out.append(Attachment(item.title, path, False, path, source.read_bytes(), media_type))
    return out


def attachment_stamp(notice: Notice, config: Config) -> str:
    """Size and modification time of each hosted attachment ('' when none), for cache keys."""
    stamps = []
    for item in notice.attachments:
        rel = hosted_path(item.url, config.site.base_url)
        if rel is None:
            continue
        try:
            stat = (config.root / "content" / FILES_DIR / rel).stat()
            stamps.append(f"{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            stamps.append("missing")
    return ",".join(stamps)


def robots_txt(base_url: str) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {base_url}/sitemap.xml\n"


@cache
def favicon_ico() -> bytes:
    """A 32x32 icon in the site's red with a white notice sheet, drawn once."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 31, 31), radius=6, fill=(158, 27, 27, 255))
    draw.rectangle((9, 6, 22, 25), fill=(255, 255, 255, 255))
    for y in (10, 14, 18):
        draw.rectangle((11, y, 20, y + 1), fill=(158, 27, 27, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="ICO", sizes=[(32, 32)])
    return buffer.getvalue()

