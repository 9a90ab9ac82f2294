"""The WeChat article of a notice (图文消息): what the wechat channel puts into a 公众号 draft.

Per notice:

* ``<id>/article.json``: the draft's fields (title, author, digest, content,
  ``content_source_url``) for each event the notice can go out as: ``publish`` always,
  ``correction`` from revision 2 on (headed 【更正】), ``withdrawal`` once withdrawn (a short
  【撤回】 notice);
* ``<id>/article.html``: the published article as a phone shows it, for the preview desk;
* ``<id>/thumb.png``: the cover, the notice's main 1080×1920 card (the same picture as the
  card renderer's, drawn by the same code);
* ``<id>/qr.png``: the QR code of the canonical page, shown inside the article.

WeChat's editor keeps only a little HTML: no ``<style>``, classes or scripts, no outside
images (an image must be uploaded with ``media/uploadimg`` and referenced by the address that
call returns) and no links except to other 公众号 articles. So the content is plain paragraphs,
headings, lists and tables with inline styles; links to the site become text (the canonical
page is the article's 阅读原文 link, ``content_source_url``); images are referenced as
``noticecast:<file>`` and the channel puts the uploaded address in their place. A correction's
link to the original article is known only when it is sent: the content holds ``ORIGINAL_SLOT``,
which ``article_for`` fills.

The limits are those of ``draft/add``: a title of at most 32 characters, an author of 16, a
digest of 128, content under 20,000 characters (a long body is left to the web page then).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import nh3

from pipeline.model import Notice, format_date
from pipeline.renderers import markdown, png, qr
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.caption import shorten
from pipeline.renderers.card_layout import CardLayout
from pipeline.renderers.card_spec import card_specs, card_texts
from pipeline.renderers.card_style import load_style

ARTICLE_NAME = "article.json"
PREVIEW_NAME = "article.html"
THUMB_NAME = "thumb.png"
QR_NAME = "qr.png"
IMAGE_SCHEME = "noticecast:"
ORIGINAL_SLOT = "<!--noticecast:original-->"
CORRECTION_MARK = "【更正】"
WITHDRAWAL_MARK = "【撤回】"
TITLE_LIMIT = 32
AUTHOR_LIMIT = 16
DIGEST_LIMIT = 128
CONTENT_LIMIT = 20_000
QR_MODULE_PX = 8
ELLIPSIS = "…"
CARD_SIZE = (1080, 1920)  # the main card, the cover

# Inline styles: the only styling WeChat keeps.
_P = "margin:0 0 12px;line-height:1.75;font-size:16px;color:#222;"
_H2 = ("margin:24px 0 10px;padding-left:8px;border-left:4px solid #c8102e;font-size:18px;"
       "font-weight:bold;color:#c8102e;")
_TABLE = "width:100%;border-collapse:collapse;margin:0 0 12px;font-size:15px;"
_TH = ("border:1px solid #ddd;background:#f7f3f0;padding:6px 8px;text-align:left;"
       "vertical-align:top;white-space:nowrap;")
_TD = "border:1px solid #ddd;padding:6px 8px;vertical-align:top;"
_NOTE = "margin:0 0 12px;padding:10px 12px;background:#fff4e5;border-left:4px solid #e67e22;"
_BANNER = "margin:0 0 12px;padding:10px 12px;background:#fdecea;border-left:4px solid #c8102e;"
_MUTED = "margin:0 0 8px;font-size:14px;color:#888;"

# What of a Markdown body's HTML the WeChat editor keeps: no links (their text stays).
_BODY_TAGS = markdown.ALLOWED_TAGS - {"a"}


@dataclass(frozen=True)
class Variant:
    """The draft fields of one event's article (``thumb_media_id`` is the channel's)."""

    title: str
    author: str
    digest: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "author": self.author, "digest": self.digest,
                "content": self.content}


@dataclass(frozen=True)
class WechatArticle:
    notice_id: str
    revision: int
    content_source_url: str
    variants: Mapping[str, Variant]

    def as_json(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id, "revision": self.revision,
            "content_source_url": self.content_source_url,
            "thumb": THUMB_NAME, "images": [QR_NAME], "cover_crop": cover_crop(*CARD_SIZE),
            "variants": {event: v.as_dict() for event, v in self.variants.items()},
        }


# -- composing -------------------------------------------------------------------------------

def compose(notice: Notice, ctx: RenderContext) -> WechatArticle:
    """The article of ``notice`` for every event it can go out as."""
    url = ctx.notice_url(notice.id)
    author = shorten(notice.issuer, AUTHOR_LIMIT, ELLIPSIS)
    digest = shorten(notice.summary, DIGEST_LIMIT, ELLIPSIS)
    variants: dict[str, Variant] = {
        "publish": Variant(_title(notice.title), author, digest, _content(notice, url)),
    }
    if notice.is_correction:
        variants["correction"] = Variant(
            _title(notice.title, CORRECTION_MARK), author, digest,
            _content(notice, url, correction=True))
    if notice.is_withdrawn:
        reason = notice.withdrawal.reason if notice.withdrawal else ""
        variants["withdrawal"] = Variant(
            _title(notice.title, WITHDRAWAL_MARK), author,
            shorten(f"本公告已撤回。{reason}", DIGEST_LIMIT, ELLIPSIS),
            _withdrawal_content(notice, url))
    return WechatArticle(notice.id, notice.revision, url, variants)


def cover_crop(width: int, height: int) -> dict[str, str]:
    """Which part of the portrait card WeChat shows as the cover: the top (the office's
    header and the title), as ``pic_crop_235_1`` (lists) and ``pic_crop_1_1`` (shares), in
    WeChat's X1_Y1_X2_Y2 fractions. Left to itself WeChat takes the middle, the facts."""
    def top(ratio: float) -> str:
        return f"0_0_1_{min(1.0, width / ratio / height):.6f}"

    return {"pic_crop_235_1": top(2.35), "pic_crop_1_1": top(1.0)}


def article_for(article: Mapping[str, Any], event: str, original_url: str | None
                ) -> dict[str, str] | None:
    """The draft fields for ``event`` from a built ``article.json``, with the correction's
    link to the original filled in; None when the notice has no article for that event."""
    variant = (article.get("variants") or {}).get(event)
    if variant is None:
        return None
    fields = {key: str(variant[key]) for key in ("title", "author", "digest", "content")}
    fields["content"] = fields["content"].replace(ORIGINAL_SLOT, original_link(original_url))
    fields["content_source_url"] = str(article["content_source_url"])
    fields.update({key: str(value) for key, value in (article.get("cover_crop") or {}).items()})
    return fields


def original_link(url: str | None) -> str:
    """The line of a correction that points to the article it corrects."""
    if not url:
        return _p("此前发布的原文请见公示网站（点击文末“阅读原文”）。")
    # A link to another article of the account is the one kind of link WeChat keeps.
    return (f'<p style="{_P}">原文：<a href="{html.escape(url)}">'
            f"{html.escape(url)}</a></p>")


def image_names(content: str) -> list[str]:
    """The files that ``content`` references as ``noticecast:<file>``, in order, once each."""
    names: list[str] = []
    start = content.find(IMAGE_SCHEME)
    while start >= 0:
        end = content.find('"', start)
        name = content[start + len(IMAGE_SCHEME):end]
        if name not in names:
            names.append(name)
        start = content.find(IMAGE_SCHEME, end)
    return names


def with_images(content: str, urls: Mapping[str, str]) -> str:
    """``content`` with each ``noticecast:<file>`` replaced by its uploaded address."""
    for name, url in urls.items():
        content = content.replace(f'"{IMAGE_SCHEME}{name}"', f'"{html.escape(url)}"')
    return content


def _title(title: str, mark: str = "") -> str:
    return mark + shorten(title, TITLE_LIMIT - len(mark), ELLIPSIS)


def _p(text: str, style: str = _P) -> str:
    return f'<p style="{style}">{html.escape(text)}</p>'


def _h2(text: str) -> str:
    return f'<h2 style="{_H2}">{html.escape(text)}</h2>'


def _content(notice: Notice, url: str, *, correction: bool = False) -> str:
    head: list[str] = []
    if correction:
        head.append(_p(f"{CORRECTION_MARK}本文是对此前发布的《{notice.title}》的更正"
                       f"（第{notice.revision}版），以本文为准。", _NOTE))
        head.append(ORIGINAL_SLOT)
    head.append(_meta(notice))
    if notice.correction and notice.is_correction:
        head.append(_h2("更正说明"))
        head.append(_p(notice.correction.note))
        head.extend(_list(notice.correction.changes))
    head.append(_p(notice.summary, _P + "font-weight:bold;"))
    facts = _facts(notice)
    body = [_h2("正文"), _body(notice.body)]
    if notice.interpretation:
        body += [_h2("政策解读"), _body(notice.interpretation)]
    tail = _attachments(notice) + _contact(notice) + _share(url)
    content = "".join([*head, *facts, *body, *tail])
    if len(content) >= CONTENT_LIMIT:
        # The web page has every word; the article keeps the facts and points there.
        short = [_h2("正文"), _p("正文较长，请点击文末“阅读原文”在公示网站查看全文。")]
        content = "".join([*head, *facts, *short, *tail])
    return content


def _meta(notice: Notice) -> str:
    rows = [("发布单位", notice.issuer), ("地区", notice.place),
            ("发布时间", f"{format_date(notice.published_date)} {notice.published:%H:%M}")]
    if notice.publicity:
        rows.append(("公示期", f"{notice.publicity.display}（{notice.publicity.days}天）"))
    rows.append(("编号", notice.id))
    return "".join(_p(f"{label}：{value}", _MUTED) for label, value in rows)


def _facts(notice: Notice) -> list[str]:
    project = notice.project
    if project is None:
        return []
    rows: list[tuple[str, str]] = [("项目名称", project.name), ("实施地点", project.location),
                                   ("建设内容", project.content)]
    if project.subsidy_standard:
        rows.append(("补助标准", project.subsidy_standard))
    if project.period:
        rows.append(("实施期限", project.period.display))
    rows.append(("实施单位", project.implementer))
    person = project.responsible
    rows.append(("责任人", f"{person.name} {person.phone}" if person.phone else person.name))
    rows.append(("资金来源及规模", "；".join(f"{f.source} {f.amount_display}"
                                        for f in project.funds)))
    rows.append(("资金合计", project.total_display))
    if project.performance_goal:
        rows.append(("绩效目标", project.performance_goal))
    if project.poverty_mechanism:
        rows.append(("带贫减贫机制", project.poverty_mechanism))
    if project.beneficiaries:
        b = project.beneficiaries
        text = f"{b.households}户，其中贫困户{b.poor_households}户"
        if b.people is not None:
            text += f"，受益{b.people}人"
        rows.append(("受益户数", text))
    cells = "".join(f'<tr><th style="{_TH}">{html.escape(label)}</th>'
                    f'<td style="{_TD}">{html.escape(value)}</td></tr>' for label, value in rows)
    return [_h2("项目信息"), f'<table style="{_TABLE}"><tbody>{cells}</tbody></table>']


def _body(text: str) -> str:
    """A Markdown body as the web page shows it, without links, with inline styles."""
    cleaned = nh3.clean(markdown.to_html(text), tags=set(_BODY_TAGS),
                        attributes={"ol": {"start"}}, strip_comments=True)
    for tag, style in (("p", _P), ("table", _TABLE), ("th", _TH), ("td", _TD)):
        cleaned = cleaned.replace(f"<{tag}>", f'<{tag} style="{style}">')
    return cleaned


def _list(items: Sequence[str]) -> list[str]:
    if not items:
        return []
    rows = "".join(f'<li style="{_P}">{html.escape(item)}</li>' for item in items)
    return [f'<ul style="margin:0 0 12px;padding-left:20px;">{rows}</ul>']


def _attachments(notice: Notice) -> list[str]:
    if not notice.attachments:
        return []
    items = [f"{a.title}（{a.url}）" if markdown.safe_link(a.url) else a.title
             for a in notice.attachments]
    return [_h2("附件"), *_list(items)]


def _contact(notice: Notice) -> list[str]:
    lines = [f"{label}：{number}" for label, number in notice.contact.phones()]
    if notice.contact.address:
        lines.append(f"地址：{notice.contact.address}")
    return [_h2("联系方式"), *_list(lines),
            _p("对公示内容有异议的，可在公示期内通过以上电话反映，"
               "或拨打全国扶贫监督举报电话12317。", _MUTED)]


def _share(url: str) -> list[str]:
    return [_h2("扫码查看"),
            f'<p style="{_P}text-align:center;"><img src="{IMAGE_SCHEME}{QR_NAME}" '
            f'alt="公示网站二维码" style="width:160px;height:160px;"></p>',
            _p("长按识别二维码，或点击文末“阅读原文”，查看公示网站上的原文。", _MUTED),
            _p(url, _MUTED)]


def _withdrawal_content(notice: Notice, url: str) -> str:
    withdrawal = notice.withdrawal
    on = withdrawal.on if withdrawal else None
    when = f"已于{format_date(on)}撤回" if on else "已撤回"
    parts = [_p(f"{WITHDRAWAL_MARK}《{notice.title}》{when}，原文已删除，其内容不再有效。",
                _BANNER)]
    if withdrawal:
        parts += [_h2("撤回原因"), _p(withdrawal.reason)]
    parts.append(_meta(notice))
    parts += _contact(notice)
    parts.append(_p(f"公示网站存档：{url}", _MUTED))
    return "".join(parts)


# -- the preview page ------------------------------------------------------------------------

def preview_html(variant: Variant, images: Mapping[str, str]) -> str:
    """A whole page of the article as WeChat shows it on a phone; ``images`` maps the
    referenced files to where the page finds them (next to it, in the outbox)."""
    content = with_images(variant.content, images).replace(ORIGINAL_SLOT, original_link(None))
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(variant.title)}</title></head>"
        '<body style="margin:0;background:#fff;font-family:-apple-system,\'PingFang SC\','
        '\'Noto Sans CJK SC\',sans-serif;">'
        '<article style="max-width:677px;margin:0 auto;padding:20px 16px;">'
        f'<h1 style="font-size:22px;line-height:1.4;margin:0 0 14px;">'
        f"{html.escape(variant.title)}</h1>"
        f'<p style="{_MUTED}">{html.escape(variant.author)}</p>'
        f"{content}</article></body></html>\n")


# -- the renderer ----------------------------------------------------------------------------

class WechatArticleRenderer(BaseRenderer):
    name: ClassVar[str] = "wechat"
    version: ClassVar[str] = "2"
    templates: ClassVar[tuple[str, ...]] = ("card/layout.yaml",)  # the cover is the card
    config_sections: ClassVar[tuple[str, ...]] = ("office", "site", "card")

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        style = load_style(ctx.templates)
        spec = card_specs(False, ctx.config.card.print_dpi)[0]  # the main, portrait card
        for notice in notices:
            article = compose(notice, ctx)
            url = article.content_source_url
            meta = {"url": url}
            cover = CardLayout(notice, ctx, style, spec, card_texts(notice, ctx, style))
            yield Artifact(self.name, f"{notice.id}/{THUMB_NAME}", cover.draw().png(),
                           "image/png", notice.id, notice.revision,
                           {**meta, "size": [spec.width, spec.height]})
            code = qr.image(url, QR_MODULE_PX)
            yield Artifact(self.name, f"{notice.id}/{QR_NAME}",
                           png.encode(code.convert("L")),  # type: ignore[attr-defined]
                           "image/png", notice.id, notice.revision, meta)
            page = preview_html(article.variants["publish"], {QR_NAME: QR_NAME})
            yield Artifact(self.name, f"{notice.id}/{PREVIEW_NAME}", page.encode("utf-8"),
                           "text/html; charset=utf-8", notice.id, notice.revision, meta)
            data = json.dumps(article.as_json(), ensure_ascii=False, indent=2)
            # Last: the article names the files above.
            yield Artifact(self.name, f"{notice.id}/{ARTICLE_NAME}", data.encode("utf-8"),
                           "application/json", notice.id, notice.revision,
                           {**meta, "events": sorted(article.variants)})


__all__ = [
    "ARTICLE_NAME",
    "ORIGINAL_SLOT",
    "QR_NAME",
    "THUMB_NAME",
    "Variant",
    "WechatArticle",
    "WechatArticleRenderer",
    "article_for",
    "compose",
    "cover_crop",
    "image_names",
    "original_link",
    "preview_html",
    "with_images",
]
