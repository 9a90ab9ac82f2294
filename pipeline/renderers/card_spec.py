"""What a card is made of before it is drawn: its sizes, and the notice's words.

``card_specs`` lists the pictures to make (the tall and the feed card, and with ``--print``
both again at A6 size); ``card_texts`` prepares every text the card shows, replacing any
character no font can draw by the placeholder and remembering it for a located warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlparse

from pipeline.model import Notice
from pipeline.renderers.base import RenderContext
from pipeline.renderers.card_facts import Fact, key_facts
from pipeline.renderers.card_style import CardStyle
from pipeline.renderers.typeset import Missing, cover

VARIANTS: dict[str, tuple[int, int]] = {"tall": (1080, 1920), "feed": (1080, 1350)}
A6_MM = (105.0, 148.0)
MIN_SCREEN_MODULE_PX = 8  # below this a QR photographed from a phone screen gets unreliable
MIN_PRINT_MODULE_MM = 0.5


@dataclass(frozen=True)
class CardSpec:
    """One picture to make: which layout variant, its pixel size, its scale and print dpi."""

    variant: str
    width: int
    height: int
    scale: float
    dpi: int | None
    filename: str

    @property
    def min_module_px(self) -> int:
        if self.dpi:
            return math.ceil(MIN_PRINT_MODULE_MM / 25.4 * self.dpi)
        return MIN_SCREEN_MODULE_PX


def card_specs(print_sizes: bool, dpi: int) -> list[CardSpec]:
    specs = [CardSpec(variant, w, h, 1.0, None, f"card-{w}x{h}.png")
             for variant, (w, h) in VARIANTS.items()]
    if print_sizes:
        page_w, page_h = (round(mm / 25.4 * dpi) for mm in A6_MM)
        for variant, (w, h) in VARIANTS.items():
            scale = min(page_w / w, page_h / h)  # the whole card on an A6 sheet
            specs.append(CardSpec(variant, round(w * scale), round(h * scale), scale, dpi,
                                  f"card-a6-{variant}.png"))
    return specs


@dataclass(frozen=True)
class CardTexts:
    """The notice's words as the card shows them, with undrawable characters replaced."""

    office: str
    issuer: str
    title: str
    summary: str
    banner: str | None
    facts: tuple[Fact, ...]
    footer: str
    missing: tuple[Missing, ...]


def card_texts(notice: Notice, ctx: RenderContext, style: CardStyle) -> CardTexts:
    stacks = (style.stack("Regular"), style.stack("Bold"))
    missing: list[Missing] = []

    def clean(text: str, field: str) -> str:
        text = " ".join(text.split())  # a card has no line breaks of its own
        covered, lacking = cover(text, stacks, field, style.placeholder)
        missing.extend(m for m in lacking if m.char not in {x.char for x in missing})
        return covered

    banner = None
    if notice.is_withdrawn and notice.withdrawal is not None:
        banner = clean(f"本公告已撤回　{notice.withdrawal.reason}", "withdrawal.reason")
    elif notice.is_correction and notice.correction is not None:
        banner = clean(f"更正 · 第{notice.revision}版　{notice.correction.note}",
                       "correction.note")
    facts = tuple(Fact(f.label, clean(f.value, f"fact {f.label}"), f.emphasis)
                  for f in key_facts(notice, ctx.today))
    host = urlparse(ctx.base_url).netloc
    return CardTexts(
        office=clean(ctx.config.office.name, "office.name"),
        issuer=clean(notice.issuer, "issuer"),
        title=clean(notice.title, "title"),
        summary=clean(notice.summary, "summary"),
        banner=banner,
        facts=facts,
        footer=clean(f"{ctx.config.site.title} · {host}", "site.title"),
        missing=tuple(missing),
    )
