"""Whether WeasyPrint will subset fonts with HarfBuzz (fast) or fall back to fontTools (slow).

Debian's libharfbuzz-subset0 makes CJK font subsetting take milliseconds; without it WeasyPrint
uses fontTools, which takes seconds per document with the Noto CJK fonts. The renderer still
works, so this is a warning, printed once per process, not an error.
"""

from __future__ import annotations

import warnings
from functools import cache

from pipeline.renderers.weasy import weasyprint


class SlowFontSubsettingWarning(RuntimeWarning):
    """WeasyPrint will subset fonts with fontTools: correct, but about 50x slower."""


@cache
def harfbuzz_subsetting() -> bool:
    """True when WeasyPrint found libharfbuzz-subset (and HarfBuzz is new enough to use it)."""
    try:
        weasyprint()
        from weasyprint.text.ffi import harfbuzz, harfbuzz_subset
    except (ImportError, OSError):
        return False
    if harfbuzz_subset is None:
        return False
    try:
        # WeasyPrint's own condition for using it (pdf/fonts.py).
        return bool(harfbuzz.hb_version_atleast(4, 1, 0))
    except AttributeError:
        return False


@cache
def warn_if_slow_subsetting() -> None:
    """Warn once per process when font subsetting will fall back to fontTools."""
    if not harfbuzz_subsetting():
        warnings.warn(
            "libharfbuzz-subset is not available: WeasyPrint falls back to fontTools for font "
            "subsetting, which takes seconds per newspaper batch with CJK fonts; install the "
            "Debian package libharfbuzz-subset0",
            SlowFontSubsettingWarning, stacklevel=3)
