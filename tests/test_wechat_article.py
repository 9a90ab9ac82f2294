"""The WeChat article formatter: WeChat's limits, the HTML its editor keeps, the event variants."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.load import load_notices
from pipeline.model import Correction, Notice, Status, Withdrawal
from pipeline.renderers.base import RenderContext
from pipeline.renderers.wechat_article import (
    CONTENT_LIMIT,
    ORIGINAL_SLOT,
    article_for,
    compose,
    image_names,
    with_images,
)
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ctx() -> RenderContext:
    return RenderContext(config=Config(root=REPO), today=date(2018, 7, 8),
                         templates=make_environment(template_dirs(REPO)))


@pytest.fixture(scope="module")
def notice(ctx: RenderContext) -> Notice:
    loaded = load_notices([REPO / "content" / "2018" / "sf-2018-0012.yaml"], ctx.config, REPO)
    return loaded.notices[0]


def test_the_publish_article_has_the_facts_and_only_what_the_editor_keeps(
        notice: Notice, ctx: RenderContext) -> None:
    body = "见[实施办法](https://example.gov.cn/a)。\n\n| 村 | 户数 |\n|---|---|\n| 马祖村 | 32 |\n"
    article = compose(notice.model_copy(update={"body": body}), ctx)
    assert list(article.variants) == ["publish"]
    fields = article_for(article.as_json(), "publish", None)
    assert fields is not None
    content = fields["content"]
    assert "<table" in content and "资金合计" in content and notice.summary in content
    assert not re.search(r"<(a|style|script|div|span)\b|class=", content)
    assert "见实施办法。" in content and "<td style=" in content and "马祖村" in content
    assert image_names(content) == ["qr.png"]
    uploaded = with_images(content, {"qr.png": "http://mmbiz.qpic.cn/x/0?wx_fmt=png&a=1"})
    assert 'src="http://mmbiz.qpic.cn/x/0?wx_fmt=png&amp;a=1"' in uploaded
    assert fields["content_source_url"] == ctx.notice_url(notice.id)
    assert fields["author"] == notice.issuer and fields["digest"] == notice.summary


def test_limits_are_kept_title_author_digest_content(notice: Notice,
                                                     ctx: RenderContext) -> None:
    long = notice.model_copy(update={
        "title": "师古镇" * 30, "issuer": "四川省德阳市什邡市师古镇马祖村村民委员会扶贫工作组",
        "summary": "摘要" * 90, "body": "很长的正文。" * 4000, "revision": 2,
        "correction": Correction(note="更正了金额。")})
    article = compose(long, ctx)
    for variant in article.variants.values():
        assert len(variant.title) <= 32 and len(variant.author) <= 16
        assert len(variant.digest) <= 128 and len(variant.content) < CONTENT_LIMIT
    assert article.variants["correction"].title.startswith("【更正】")
    assert "阅读原文" in article.variants["publish"].content  # the long body is left to the site


def test_a_correction_links_the_original_and_a_withdrawal_is_short(
        notice: Notice, ctx: RenderContext) -> None:
    corrected = notice.model_copy(update={
        "revision": 2, "correction": Correction(note="更正了电话。", changes=("电话改为…",))})
    data = compose(corrected, ctx).as_json()
    assert ORIGINAL_SLOT in data["variants"]["correction"]["content"]
    url = "https://mp.weixin.qq.com/s/ARTICLE-1"
    fields = article_for(data, "correction", url)
    assert fields is not None and f'<a href="{url}">' in fields["content"]
    assert "更正说明" in fields["content"] and ORIGINAL_SLOT not in fields["content"]
    without = article_for(data, "correction", None)
    assert without is not None and "<a " not in without["content"]

    withdrawn = notice.model_copy(update={
        "status": Status.withdrawn,
        "withdrawal": Withdrawal(reason="项目调整。", on=date(2018, 7, 10))})
    data = compose(withdrawn, ctx).as_json()
    fields = article_for(data, "withdrawal", None)
    assert fields is not None and fields["title"].startswith("【撤回】")
    assert "项目调整" in fields["content"] and "2018年7月10日" in fields["content"]
    assert "<table" not in fields["content"]  # a short notice, not the article again
    assert article_for(data, "correction", None) is None
