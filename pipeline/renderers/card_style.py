"""The card's layout settings (templates/card/layout.yaml), read through the template loader.

Reading through ``read_template_file`` means a site project overrides the file exactly like a
Jinja template. The parsed settings are cached by the file's text, so a build parses it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from jinja2 import Environment, TemplateNotFound

from pipeline.errors import RenderError
from pipeline.renderers.card_canvas import RGB, hex_rgb
from pipeline.renderers.typeset import PLACEHOLDER, FontStack
from pipeline.templating import read_template_file

LAYOUT_FILE = "card/layout.yaml"


@dataclass(frozen=True)
class CardStyle:
    settings: dict[str, Any]

    def colour(self, name: str) -> RGB:
        return self._colour(("colours", name))

    def kind_colour(self, kind: str) -> RGB:
        return self._colour(("kinds", kind))

    def pair(self, section: str, name: str) -> tuple[RGB, RGB]:
        """A [background, text] pair from ``states`` or ``banners``."""
        try:
            background, text = self.settings[section][name]
            return hex_rgb(background), hex_rgb(text)
        except (KeyError, TypeError, ValueError):
            raise _bad(f"{section}.{name} must be a pair of colours [background, text]") from None

    def measure(self, name: str, variant: str) -> float:
        """A measure in px at 1080 wide; a mapping gives one value per card variant."""
        try:
            value = self.settings["measures"][name]
            if isinstance(value, dict):
                value = value.get(variant, value.get("tall"))
            return float(value)
        except (KeyError, TypeError, ValueError):
            raise _bad(f"measures.{name} is missing or not a number") from None

    def stack(self, style: str) -> FontStack:
        fonts = self.settings.get("fonts") or {}
        families = (fonts.get("sans") or "Noto Sans CJK SC", *(fonts.get("fallbacks") or ()))
        return FontStack(tuple(families), style)

    @property
    def placeholder(self) -> str:
        return str((self.settings.get("fonts") or {}).get("placeholder", PLACEHOLDER))

    def _colour(self, path: tuple[str, str]) -> RGB:
        try:
            return hex_rgb(self.settings[path[0]][path[1]])
        except (KeyError, TypeError, ValueError):
            raise _bad(f"{'.'.join(path)} is missing or not a #rrggbb colour") from None


def _bad(message: str) -> RenderError:
    return RenderError(None, f"templates/{LAYOUT_FILE}: {message}")


def load_style(templates: Environment) -> CardStyle:
    try:
        text = read_template_file(templates, LAYOUT_FILE)
    except TemplateNotFound:
        raise _bad("not found; the packaged default is missing") from None
    return _parse(text)


@lru_cache(maxsize=8)
def _parse(text: str) -> CardStyle:
    try:
        settings = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise _bad(f"is not valid YAML{where}") from None
    if not isinstance(settings, dict):
        raise _bad("must be a mapping of settings")
    return CardStyle(settings)
