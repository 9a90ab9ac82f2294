"""Drawing one card: a column from the red header down to the QR panel and the footer.

The bottom panel and three facts are reserved first; the title (shrunk in steps, then cut with
an ellipsis) and the summary get what is left, and spare room is spread between the facts, so
nothing ever overlaps, falls off the card, or leaves it top-heavy.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from pipeline.model import Notice, format_date
from pipeline.renderers import qr
from pipeline.renderers.base import RenderContext
from pipeline.renderers.card_canvas import RGB, Canvas
from pipeline.renderers.card_facts import Fact
from pipeline.renderers.card_spec import CardSpec, CardTexts
from pipeline.renderers.card_style import CardStyle
from pipeline.renderers.typeset import FontStack, fit, size_steps

EM_ASCENT = 0.88  # where the ideographic em box's top lies above the baseline, in em
QR_CAPTION = "扫码查看详情"


class CardLayout:
    """Draws one card variant at one scale; every measure comes from the style."""

    def __init__(self, notice: Notice, ctx: RenderContext, style: CardStyle, spec: CardSpec,
                 texts: CardTexts) -> None:
        self.notice, self.ctx, self.style, self.spec, self.texts = notice, ctx, style, spec, texts
        self.regular = style.stack("Regular")
        self.bold = style.stack("Bold")
        self.paper = style.colour("paper")
        self.canvas = Canvas(spec.width, spec.height, self.paper)
        self.margin = self.px("margin")
        self.module_px = 0
        self.facts_shown: list[str] = []  # labels of the facts drawn, for tests and previews
        self.pills_shown: list[str] = []  # the badges drawn (kind, state), for the same

    def px(self, name: str) -> int:
        return round(self.style.measure(name, self.spec.variant) * self.spec.scale)

    def lines(self, name: str) -> int:
        return int(self.style.measure(name, self.spec.variant))

    def ratio(self, name: str) -> float:
        return self.style.measure(name, self.spec.variant)

    # -- drawing primitives ----------------------------------------------------------------

    def line(self, stack: FontStack, size: int, text: str, x: float, top: float, fill: RGB,
             behind: RGB, align: str = "left", right: float | None = None) -> float:
        """One line whose em box starts at ``top``; returns its width."""
        width = stack.face(size).measure(text)
        if align == "center":
            x = x + ((right if right is not None else self.spec.width) - x - width) / 2
        elif align == "right":
            x = (right if right is not None else self.spec.width - self.margin) - width
        self.canvas.text(stack, size, text, x, top + size * EM_ASCENT, fill, behind)
        return width

    def pill(self, text: str, x: int, top: int, fill: RGB, ink: RGB, behind: RGB,
             bold: bool = True) -> int:
        height = self.px("badge_height")
        size = self.px("badge_size")
        stack = self.bold if bold else self.regular
        width = round(stack.face(size).measure(text) + height * 0.9)
        self.pills_shown.append(text)
        self.canvas.rounded((x, top, x + width, top + height), round(8 * self.spec.scale),
                            fill, behind)
        self.line(stack, size, text, x + height * 0.45, top + (height - size) / 2, ink, fill)
        return width

    # -- the card, top to bottom -----------------------------------------------------------

    def draw(self) -> Canvas:
        y = self.header()
        y = self.banner(y)
        y = self.badges(y + round(self.margin * 0.55))
        panel_top = self.panel()
        self.body(y + round(self.margin * 0.4), panel_top - round(self.margin * 0.35))
        if self.notice.is_withdrawn:
            self.seal(y)
        return self.canvas

    def header(self) -> int:
        style, w = self.style, self.spec.width
        height = self.px("header_height")
        red, ink, soft = style.colour("header"), style.colour("header_ink"), \
            style.colour("header_muted")
        self.canvas.rect((0, 0, w, height), red)
        office_size, issuer_size = self.px("office_size"), self.px("issuer_size")
        width = w - 2 * self.margin
        office = fit(self.texts.office, self.regular, width, 1,
                     size_steps(office_size, round(office_size * 0.75), 2))
        issuer = fit(self.texts.issuer, self.bold, width, 1,
                     size_steps(issuer_size, round(issuer_size * 0.7), 2))
        gap = round(office_size * 0.55)
        block = office.face.size + gap + issuer.face.size
        top = (height - block) / 2
        self.line(self.regular, office.face.size, office.lines[0], 0, top, soft, red, "center")
        self.line(self.bold, issuer.face.size, issuer.lines[0], 0,
                  top + office.face.size + gap, ink, red, "center")
        gold = self.px("gold_rule")
        self.canvas.rect((0, height, w, height + gold), style.colour("gold"))
        return height + gold

    def banner(self, y: int) -> int:
        if self.texts.banner is None:
            return y
        kind = "withdrawn" if self.notice.is_withdrawn else "correction"
        background, ink = self.style.pair("banners", kind)
        height, size = self.px("banner_height"), self.px("banner_size")
        text = fit(self.texts.banner, self.bold, self.spec.width - 2 * self.margin, 2, [size])
        pitch = round(size * 1.4)
        height += pitch * (len(text.lines) - 1)
        self.canvas.rect((0, y, self.spec.width, y + height), background)
        top = y + (height - size - pitch * (len(text.lines) - 1)) / 2
        for number, line in enumerate(text.lines):
            self.line(self.bold, size, line, self.margin, top + number * pitch, ink, background)
        return y + height

    def badges(self, y: int) -> int:
        notice, style = self.notice, self.style
        white = style.colour("header_ink")
        x = self.margin
        gap = round(16 * self.spec.scale)
        x += self.pill(notice.kind.label, x, y, style.kind_colour(notice.kind.value), white,
                       self.paper) + gap
        if notice.is_withdrawn:  # no longer 公示中, whatever the dates say
            background, ink = style.pair("banners", "withdrawn")
            x += self.pill("已撤回", x, y, background, ink, self.paper) + gap
        else:
            state = notice.publicity_state(self.ctx.today)
            background, ink = style.pair("states", state.value)
            x += self.pill(state.label, x, y, background, ink, self.paper) + gap
        if notice.status.value == "draft":
            background, ink = style.pair("states", "draft")
            x += self.pill("草稿 · 未发布", x, y, background, ink, self.paper) + gap
        size = self.px("badge_size")
        height = self.px("badge_height")
        right_text = f"第{notice.revision}版" if notice.is_correction else notice.level.label
        self.line(self.regular, size, right_text, 0, y + (height - size) / 2,
                  style.colour("muted"), self.paper, "right")
        return y + height

    def panel(self) -> int:
        """The bottom panel (date, hotlines, QR code) and the footer; returns the panel's top."""
        style, spec, scale = self.style, self.spec, self.spec.scale
        w, h = spec.width, spec.height
        footer_h = self.px("footer_height")
        red = style.colour("header")
        self.canvas.rect((0, h - footer_h, w, h), red)
        footer_size = self.px("footer_size")
        footer = fit(self.texts.footer, self.regular, w - 2 * self.margin, 1, [footer_size])
        self.line(self.regular, footer_size, footer.lines[0], 0, h - footer_h +
                  (footer_h - footer_size) / 2, style.colour("header_muted"), red, "center")

        url = self.ctx.notice_url(self.notice.id)
        modules = qr.modules(url)
        self.module_px = max(spec.min_module_px, round(self.ratio("qr_module_px") * scale))
        qr_px = modules * self.module_px
        caption_size = self.px("qr_caption_size")
        inset = round(10 * scale)
        panel_h = inset + qr_px + round(caption_size * 1.9)
        bottom = h - footer_h - round(self.margin * 0.45)
        top = bottom - panel_h
        left, right = self.margin, w - self.margin
        panel, border = style.colour("panel"), style.colour("panel_border")
        radius = round(16 * scale)
        self.canvas.rounded((left, top, right, bottom), radius, border, self.paper)
        edge = max(1, round(2 * scale))
        self.canvas.rounded((left + edge, top + edge, right - edge, bottom - edge),
                            radius - edge, panel, border)

        qr_x = right - inset - qr_px
        qr_y = top + inset
        self.canvas.two_colour(qr.image(url, self.module_px), qr_x, qr_y,
                               style.colour("qr_dark"), style.colour("qr_light"))
        self.line(self.bold, caption_size, QR_CAPTION, qr_x,
                  qr_y + qr_px - round(self.module_px * 1.5), style.colour("ink"), panel,
                  "center", right=qr_x + qr_px)

        self.info(left + round(40 * scale), top, qr_x - round(8 * scale), bottom, panel)
        return top

    def info(self, x: int, top: int, right: int, bottom: int, behind: RGB) -> None:
        """Published date and the phone numbers, in the panel left of the QR code."""
        notice, office = self.notice, self.ctx.config.office
        rows = [("发布日期", format_date(notice.published_date))]
        supervision = notice.contact.supervision_phone or office.supervision_phone
        if supervision:
            rows.append(("监督电话", supervision))
        rows.append(("扶贫监督举报电话", notice.contact.hotline))
        label_size, value_size = self.px("info_label_size"), self.px("info_value_size")
        row_gap = round(value_size * 0.8)
        row_h = round(label_size * 1.5) + value_size
        block = len(rows) * row_h + (len(rows) - 1) * row_gap
        y = top + (bottom - top - block) / 2
        accent_bar = round(6 * self.spec.scale)
        self.canvas.rect((x - round(22 * self.spec.scale), round(y),
                          x - round(22 * self.spec.scale) + accent_bar, round(y + block)),
                         self.style.colour("header"))
        muted, ink = self.style.colour("muted"), self.style.colour("ink")
        for label, value in rows:
            self.line(self.regular, label_size, label, x, y, muted, behind)
            shown = fit(value, self.bold, right - x, 1,
                        size_steps(value_size, round(value_size * 0.7), 2))
            self.line(self.bold, shown.face.size, shown.lines[0], x,
                      y + round(label_size * 1.5), ink, behind)
            y += row_h + row_gap

    def body(self, top: int, bottom: int) -> None:
        """Title, summary, rule and facts between the badges and the panel."""
        style, scale = self.style, self.spec.scale
        width = self.spec.width - 2 * self.margin
        ink, muted = style.colour("ink"), style.colour("muted")
        facts = self.texts.facts
        value_size, amount_size = self.px("value_size"), self.px("amount_size")
        fact_gap = self.px("fact_gap")
        leading = self.ratio("fact_leading")

        def row_height(fact: Fact, lines: int) -> int:
            size = amount_size if fact.emphasis else value_size
            return round(size + (lines - 1) * size * leading) + fact_gap

        rule_gap = round(30 * scale)
        reserved = sum(row_height(f, 1) for f in facts[:3]) + 2 * rule_gap
        room = bottom - top - reserved

        title_pitch = self.ratio("title_leading")
        smallest = max(1, round(self.ctx.config.card.title_min_px * scale))
        largest = max(smallest, self.px("title_max"))
        max_lines = max(1, min(self.lines("title_lines"),
                               int((room - smallest) // (smallest * title_pitch)) + 1))
        title = fit(self.texts.title, self.bold, width, max_lines,
                    size_steps(largest, smallest, max(1, self.px("title_step"))))
        size = title.face.size
        y = float(top)
        for number, text in enumerate(title.lines):
            self.line(self.bold, size, text, self.margin, y + number * size * title_pitch, ink,
                      self.paper)
        y += size + (len(title.lines) - 1) * size * title_pitch
        room -= y - top

        summary_size = self.px("summary_size")
        summary_pitch = summary_size * self.ratio("summary_leading")
        gap = round(summary_size * 0.9)
        summary_lines = min(self.lines("summary_lines"),
                            int((room - gap - summary_size) // summary_pitch) + 1)
        if summary_lines > 0 and self.texts.summary:
            summary = fit(self.texts.summary, self.regular, width, summary_lines,
                          [summary_size])
            y += gap
            for number, text in enumerate(summary.lines):
                self.line(self.regular, summary_size, text, self.margin,
                          y + number * summary_pitch, muted, self.paper)
            y += summary_size + (len(summary.lines) - 1) * summary_pitch

        rows = self.plan_facts(facts, bottom - y - 2 * rule_gap - round(8 * scale))
        used = sum(height for _, _, height in rows) + fact_gap * len(rows)
        leftover = bottom - y - 2 * rule_gap - round(8 * scale) - used
        # Spare room (short titles) goes first into air between the facts, then evenly above
        # the rule and below the facts, so the card never looks top-heavy.
        extra = min(leftover / max(1, len(rows)), fact_gap * 0.9) if leftover > 0 else 0.0
        y += max(0.0, (leftover - extra * len(rows)) / 2) + rule_gap
        self.canvas.rect((self.margin, round(y), self.spec.width - self.margin,
                          round(y) + max(1, round(2 * scale))), style.colour("rule"))
        y += rule_gap + round(8 * scale)
        self.draw_facts(rows, y, fact_gap + extra)
        self.facts_shown = [fact.label for fact, _, _ in rows]

    def plan_facts(self, facts: Sequence[Fact], room: float) -> list[tuple[Fact, tuple[str, ...],
                                                                        int]]:
        """The facts that fit in ``room`` px (at least three), with their lines and heights."""
        value_size, amount_size = self.px("value_size"), self.px("amount_size")
        value_x = self.margin + self.px("label_width")
        value_w = self.spec.width - self.margin - value_x
        leading = self.ratio("fact_leading")
        fact_gap = self.px("fact_gap")
        rows: list[tuple[Fact, tuple[str, ...], int]] = []
        used = 0.0
        shown = facts[: self.lines("facts_max")]
        for number, fact in enumerate(shown):
            size = amount_size if fact.emphasis else value_size
            stack = self.bold if fact.emphasis else self.regular
            lines = fit(fact.value, stack, value_w, self.lines("value_lines"), [size]).lines
            height = round(size + (len(lines) - 1) * size * leading)
            # The first three facts are guaranteed: keep one line for each still to come.
            owed = sum((amount_size if f.emphasis else value_size) + fact_gap
                       for f in shown[number + 1:3])
            if used + height + owed > room and len(lines) > 1:
                lines = fit(fact.value, stack, value_w, 1, [size]).lines
                height = size
            if used + height > room and len(rows) >= 3:
                break
            rows.append((fact, lines, height))
            used += height + fact_gap
        return rows

    def draw_facts(self, rows: Sequence[tuple[Fact, tuple[str, ...], int]], y: float,
                   pitch_gap: float) -> None:
        style = self.style
        label_size = self.px("label_size")
        value_x = self.margin + self.px("label_width")
        leading = self.ratio("fact_leading")
        for fact, lines, height in rows:
            size = self.px("amount_size") if fact.emphasis else self.px("value_size")
            stack = self.bold if fact.emphasis else self.regular
            colour = style.colour("accent") if fact.emphasis else style.colour("ink")
            # Labels sit on the first line's baseline, whatever the value's size.
            baseline = y + size * EM_ASCENT
            self.line(self.regular, label_size, fact.label, self.margin,
                      baseline - label_size * EM_ASCENT, style.colour("muted"), self.paper)
            for number, text in enumerate(lines):
                self.line(stack, size, text, value_x, y + number * size * leading, colour,
                          self.paper)
            y += height + pitch_gap

    def seal(self, y: int) -> None:
        """A red 已撤回 seal across the title, like the stamp on a withdrawn paper notice."""
        scale = self.spec.scale
        size = round(96 * scale)
        mask = _seal_mask(self.bold, size, max(2, round(8 * scale)))
        left = self.spec.width - self.margin - mask.width + round(20 * scale)
        self.canvas.coverage(mask, left, y + round(10 * scale), self.style.colour("stamp"),
                             self.paper, strength=0.8)


def _seal_mask(stack: FontStack, size: int, border: int) -> Image.Image:
    """The coverage of a double-ringed seal reading 已撤回, turned as if stamped by hand."""
    face = stack.face(size)
    text = "已撤回"
    pad = round(size * 0.45)
    width = round(face.measure(text)) + 2 * pad
    height = size + 2 * pad
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=round(size * 0.25),
                           outline=255, width=border)
    inner = border * 2
    draw.rounded_rectangle((inner, inner, width - 1 - inner, height - 1 - inner),
                           radius=round(size * 0.18), outline=255, width=max(1, border // 3))
    x = float(pad)
    for index, run in face.runs(text):
        draw.text((x, pad + size * EM_ASCENT), run, font=face.fonts[index], fill=255,
                  anchor="ls")
        x += face.measure(run)
    return mask.rotate(12, resample=Image.Resampling.BICUBIC, expand=True)
