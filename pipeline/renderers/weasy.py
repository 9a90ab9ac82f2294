"""WeasyPrint for the newspaper: imported once per process, fast, with the lean stylesheet.

Importing WeasyPrint takes about 0.7 s, and more than a third of that is a search for files it
does not need. WeasyPrint names each native library (GObject, Pango, HarfBuzz, fontconfig) in
several spellings, one per platform, and cffi hands every spelling that is not a file name to
``ctypes.util.find_library``. On Linux each such lookup runs ``ldconfig`` and then ``gcc`` in
subprocesses, and most spellings miss. The last spelling on each of WeasyPrint's lists is the
soname itself (``libpango-1.0.so.0``), which the dynamic loader finds without help. So on Linux
the import runs with ``find_library`` answering "not found" at once; should the import fail that
way, it is tried again the ordinary way. An incremental build that re-renders one block waits
for this import, so it is worth its few lines.
"""

from __future__ import annotations

import ctypes.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import Any

# The few user-agent rules the block markup (templates/newspaper/blocks.html) needs. WeasyPrint's
# full HTML5 stylesheet is matched against every element and costs about a tenth of the time.
LEAN_UA_CSS = """
html, body, section, header, footer, div, p, h1 { display: block }
head, style, title, meta, script { display: none }
b { font-weight: bold }
br::before { content: "\\A"; white-space: pre-line }
"""


@contextmanager
def _sonames_only() -> Iterator[None]:
    original = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        yield
    finally:
        ctypes.util.find_library = original


def _forget_weasyprint() -> None:
    for name in [n for n in sys.modules if n == "weasyprint" or n.startswith("weasyprint.")]:
        del sys.modules[name]


@cache
def weasyprint() -> ModuleType:
    """The ``weasyprint`` module, imported the fast way where that works."""
    if sys.platform.startswith("linux") and "weasyprint" not in sys.modules:
        try:
            with _sonames_only():
                import weasyprint
            return weasyprint
        except OSError:
            _forget_weasyprint()
    import weasyprint
    return weasyprint


@cache
def block_html() -> tuple[Any, Any]:
    """An HTML class with the lean user-agent stylesheet, and one font configuration that
    every batch of this process shares (fonts are found and loaded once)."""
    module = weasyprint()
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    stylesheet = module.CSS(string=LEAN_UA_CSS, font_config=fonts)

    class BlockHTML(module.HTML):  # type: ignore[misc,name-defined]
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [stylesheet]

    return BlockHTML, fonts
