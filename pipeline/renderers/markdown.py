"""Notice bodies: Markdown -> HTML that is safe to put in a public page.

Two locks, so that one mistake never opens the door: markdown-it-py runs with raw HTML off (a
``<script>`` in a notice is shown as text), and nh3 then keeps only a short list of tags,
attributes and URL schemes. Headings in a body are shifted below the page's own ``<h2>``
sections, so that every page keeps one ``<h1>`` and a gap-free heading order.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "a", "strong", "em", "b", "i", "u", "s", "del", "ins", "sub", "sup",
    "code", "pre", "blockquote", "ul", "ol", "li", "dl", "dt", "dd",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "caption",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
FIRST_BODY_HEADING = 3  # the page uses h1 for the title and h2 for its sections


_CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


@cache
def make_parser() -> MarkdownIt:
    # "js-default" is CommonMark with html off and tables on; one parser per process. A line
    # break in the YAML is not a line break on the page: offices wrap long lines in the file
    # (a blank line starts a paragraph; two trailing spaces or a backslash force a break).
    return MarkdownIt("js-default", {"breaks": False, "linkify": False, "typographer": False})


def join_soft_breaks(tokens: list[Token]) -> None:
    """A wrapped line joins without a space between Chinese characters, with one otherwise."""
    for token in tokens:
        children = token.children or []
        for index, child in enumerate(children):
            if child.type != "softbreak":
                continue
            before = children[index - 1].content if index > 0 else ""
            after = children[index + 1].content if index + 1 < len(children) else ""
            seam = (before and _CJK.match(before[-1])) or (after and _CJK.match(after[0]))
            child.type, child.content = "text", "" if seam else " "


def _shift_headings(tokens: list[Token]) -> None:
    """Map the heading levels a body uses, in rank order, onto h3, h4, h5, h6."""
    levels = sorted({int(t.tag[1]) for t in tokens if t.type == "heading_open"})
    mapping = {level: f"h{min(6, FIRST_BODY_HEADING + rank)}"
               for rank, level in enumerate(levels)}
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = mapping[int(token.tag[1])]


def to_html(text: str) -> str:
    """Markdown text -> sanitised HTML fragment."""
    parser = make_parser()
    tokens = parser.parse(text)
    join_soft_breaks(tokens)
    _shift_headings(tokens)
    raw = parser.renderer.render(tokens, parser.options, {})
    return clean(raw)


def clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def safe_link(url: str) -> str | None:
    """``url`` if a browser would open it as a web page or file; None for javascript:, data:...

    Browsers drop tabs, newlines and leading control characters before reading a scheme, so
    ``java\\tscript:`` is a javascript: URL; those are removed before the check.
    """
    compact = "".join(ch for ch in url if ch > " " and ch != "\x7f")
    if not compact:
        return None
    try:
        parts = urlsplit(compact)
    except ValueError:
        return None
    if parts.scheme:
        return url.strip() if parts.scheme.lower() in ("http", "https") else None
    # No scheme: a relative path. Refuse anything a browser might still read as a scheme.
    head = compact.split("/", 1)[0]
    return None if ":" in head else url.strip()
