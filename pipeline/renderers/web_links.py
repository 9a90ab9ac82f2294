"""Where every page of the site lives, and how pages link to each other.

Notice URLs are fixed from the first day (``notices/<id>/``, short link ``n/<id>/``): every
other output prints them. Listing folders of departments and areas are named as people read
them (``areas/什邡市/师古镇/马祖村/``, sent percent-encoded UTF-8 in absolute URLs); the short
hashed folders of earlier versions (``areas/2d33b9a2a9/``) stay as redirects, so that links
printed or texted before keep working.

Links inside pages are relative (``../../areas/…/``), so the site works when it is served
under a sub-path or copied to an intranet server; only canonical links, feeds and the sitemap
use absolute URLs from ``site.base_url``.
"""

from __future__ import annotations

import hashlib
from functools import cache
from urllib.parse import quote, urlsplit

from pipeline.model import Kind


def notice_dir(notice_id: str) -> str:
    return f"notices/{notice_id}/"


def short_dir(notice_id: str) -> str:
    return f"n/{notice_id}/"


@cache
def name_slug(name: str) -> str:
    """The short ASCII folder name of earlier versions; kept as a redirect."""
    return hashlib.sha256(name.encode()).hexdigest()[:10]


def _segment(name: str) -> str:
    """A name as one folder: no '/' or '\\' inside it, never '.' or '..'."""
    text = name.replace("/", "／").replace("\\", "＼").strip()
    return text if text.strip(".") else name_slug(name)


def area_dir(area: str) -> str:
    return "areas/" + "".join(f"{_segment(part)}/" for part in area.split("/"))


def department_dir(issuer: str) -> str:
    return f"departments/{_segment(issuer)}/"


def area_hash_dir(area: str) -> str:
    return f"areas/{name_slug(area)}/"


def department_hash_dir(issuer: str) -> str:
    return f"departments/{name_slug(issuer)}/"


def url_path(path: str) -> str:
    """A site path as it goes into an absolute URL: percent-encoded UTF-8."""
    return quote(path, safe="/")


def year_dir(year: int) -> str:
    return f"years/{year}/"


def kind_dir(kind: Kind) -> str:
    return f"kinds/{kind.value}/"


def page_path(folder: str, number: int) -> str:
    """The file of page ``number`` (1-based) of a paginated listing in ``folder``."""
    return f"{folder}index.html" if number == 1 else f"{folder}page/{number}/index.html"


def page_dir(folder: str, number: int) -> str:
    return folder if number == 1 else f"{folder}page/{number}/"


def root_of(path: str) -> str:
    """The relative link from the file at ``path`` back to the site root: '../../' or './'."""
    depth = path.count("/")
    return "../" * depth if depth else "./"


def host_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"
