"""The mobile summary card: a picture to forward on a phone and to pin on the village board.

Per notice: ``<id>/card-1080x1920.png`` (the main, portrait card), ``<id>/card-1080x1350.png``
(for feeds), with ``--print`` both again at A6 size (``<id>/card-a6-tall.png``,
``<id>/card-a6-feed.png``, at the configured dpi, stored in the PNG), and ``<id>/caption.txt``,
the Telegram caption. Every picture carries a QR code of the notice's canonical page.

The layout is a column: a red government header with the office and the issuer, a correction
or withdrawal banner where it applies, the kind badge and publicity state, the title (shrunk
in steps, then cut with an ellipsis), the summary, the key facts, and at the bottom a panel with
the published date, the hotlines and the QR code. The bottom panel and three facts are reserved
first; the title and summary get what is left, so nothing ever overlaps or falls off the card.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pipeline.model import Notice
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.caption import notice_caption, utf16_len
from pipeline.renderers.card_layout import CardLayout
from pipeline.renderers.card_spec import CardSpec, CardTexts, card_specs, card_texts
from pipeline.renderers.card_style import CardStyle, load_style

__all__ = ["CardLayout", "CardRenderer", "CardSpec", "CardTexts", "card_specs", "card_texts"]


def warning_lines(notice: Notice, texts: CardTexts, style: CardStyle) -> list[str]:
    families = style.stack("Regular").description
    return [f"{notice.id}: character '{m.char}' ({m.codepoint}) has no glyph in {families} "
            f"({m.field}); shown as {style.placeholder}" for m in texts.missing]


class CardRenderer(BaseRenderer):
    name = "card"
    version = "1"
    templates = ("card/layout.yaml",)
    config_sections = ("office", "site", "card")

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        style = load_style(ctx.templates)
        specs = card_specs(ctx.options.print_sizes, ctx.config.card.print_dpi)
        for notice in notices:
            yield from self.render_one(notice, ctx, style, specs)

    def render_one(self, notice: Notice, ctx: RenderContext, style: CardStyle,
                   specs: Sequence[CardSpec]) -> Iterator[Artifact]:
        url = ctx.notice_url(notice.id)
        texts = card_texts(notice, ctx, style)
        warnings = warning_lines(notice, texts, style)
        for number, spec in enumerate(specs):
            layout = CardLayout(notice, ctx, style, spec, texts)
            data = layout.draw().png(spec.dpi)
            meta: dict[str, object] = {"url": url, "size": [spec.width, spec.height],
                                       "variant": spec.variant, "module_px": layout.module_px}
            if spec.dpi:
                meta["dpi"] = spec.dpi
                meta["module_mm"] = round(layout.module_px / spec.dpi * 25.4, 3)
            if warnings and number == 0:  # once per notice, on the main card
                meta["warnings"] = warnings
            yield Artifact(self.name, f"{notice.id}/{spec.filename}", data, "image/png",
                           notice.id, notice.revision, meta)
        caption = notice_caption(notice, url, ctx.today)
        yield Artifact(self.name, f"{notice.id}/caption.txt", caption.encode("utf-8"),
                       "text/plain; charset=utf-8", notice.id, notice.revision,
                       {"url": url, "utf16_length": utf16_len(caption)})
