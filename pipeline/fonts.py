"""Find the system's CJK fonts (Debian's fonts-noto-cjk) once per process.

Fonts are looked up through fontconfig (``fc-match``), which knows the collection index of
"Noto Sans CJK SC" inside the .ttc file; Pillow needs both the file and the index.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipeline.errors import RenderError

SANS = "Noto Sans CJK SC"
SERIF = "Noto Serif CJK SC"


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int
    family: str
    style: str


@cache
def find_font(family: str = SANS, style: str = "Regular") -> FontFile:
    """The file holding ``family`` in ``style`` (e.g. "Bold"); RenderError when not installed."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        raise RenderError(None, "fontconfig (fc-match) is not installed; install the Debian "
                                "packages fontconfig and fonts-noto-cjk")
    pattern = f"{family}:style={style}"
    output = subprocess.run(
        [fc_match, "-f", "%{file}\t%{index}\t%{family[0]}\t%{style[0]}", pattern],
        capture_output=True, text=True, check=False).stdout
    parts = output.split("\t")
    if len(parts) < 4 or family.split()[0].lower() not in output.lower():
        raise RenderError(None, f"font {family!r} is not installed; install the Debian package "
                                "fonts-noto-cjk (make demo does this)")
    return FontFile(Path(parts[0]), int(parts[1] or 0), parts[2], parts[3])


@cache
def pil_font(family: str = SANS, style: str = "Regular", size: int = 32) -> object:
    """A Pillow FreeType font, cached per (family, style, size) for the life of the process."""
    from PIL import ImageFont

    font = find_font(family, style)
    return ImageFont.truetype(str(font.path), size=size, index=font.index)
