"""The Telegram caption: 1024 UTF-16 units at most, cut cleanly, the link always kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.renderers.caption import (
    CORRECTION_MARK,
    ELLIPSIS,
    compose,
    shorten,
    utf16_len,
    with_mark,
)

URL = "https://gongshi.example.gov.cn/notices/sf-2018-0012/"
# Chinese, ASCII, astral characters (two UTF-16 units each) and sentence ends.
ALPHABET = st.sampled_from([*"扶贫资金项目公示村镇道路。！？，abc 123",
                            "\U00020BB7", "\U0001F600", "\U0002A6A5"])
text = st.lists(ALPHABET, max_size=1500).map("".join)


def test_utf16_counts_astral_characters_twice() -> None:
    assert utf16_len("公示") == 2
    assert utf16_len("𠮷") == 2
    assert utf16_len("😀a") == 3
    assert utf16_len("𠮷公示") == len("𠮷公示".encode("utf-16-le")) // 2


@settings(max_examples=300, deadline=None)
@given(body=text, limit=st.integers(min_value=3, max_value=1024))
def test_shorten_fits_and_is_a_clean_prefix(body: str, limit: int) -> None:
    cut = shorten(body, limit)
    assert utf16_len(cut) <= limit
    cut.encode("utf-16-le")  # valid UTF-16: no lone surrogate anywhere
    if utf16_len(body) <= limit:
        assert cut == body
    else:
        assert cut.endswith(ELLIPSIS)
        assert body.startswith(cut[: -len(ELLIPSIS)].rstrip(" ，、,：:"))


def test_shorten_prefers_the_end_of_a_sentence() -> None:
    body = "第一句话说明项目情况。" * 20 + "最后一句很长很长很长很长"
    cut = shorten(body, 120)
    assert cut.endswith("。" + ELLIPSIS)
    assert utf16_len(cut) <= 120


def test_shorten_never_separates_an_emoji_from_its_modifiers() -> None:
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    for limit in range(3, 14):
        cut = shorten("公示" + family + "结束了", limit)
        assert not cut[: -len(ELLIPSIS)].endswith("\u200d")


@settings(max_examples=200, deadline=None)
@given(title=text, summary=text, note=st.one_of(st.none(), text))
def test_compose_always_fits_and_keeps_the_link(title: str, summary: str,
                                                note: str | None) -> None:
    caption = compose(title or "标题", summary, "公示期：2018年7月4日至7月14日", URL,
                      mark=CORRECTION_MARK, note=note)
    assert utf16_len(caption) <= 1024
    assert caption.endswith(f"查看全文：{URL}")
    assert caption.startswith(CORRECTION_MARK)


def test_a_short_caption_is_whole() -> None:
    caption = compose("师古镇马祖村产业道路硬化工程项目公示", "总投资68.5万元。",
                      "公示期：2018年7月4日至7月14日，公示中", URL, mark="【项目公示】")
    assert caption == ("【项目公示】师古镇马祖村产业道路硬化工程项目公示\n\n总投资68.5万元。\n\n"
                       f"公示期：2018年7月4日至7月14日，公示中\n查看全文：{URL}")


@settings(max_examples=100, deadline=None)
@given(title=text, summary=text)
def test_with_mark_adds_the_mark_once_within_the_limit(title: str, summary: str) -> None:
    caption = compose(title or "标题", summary, None, URL)
    marked = with_mark(caption, "【已撤回】")
    assert marked.startswith("【已撤回】")
    assert utf16_len(marked) <= 1024
    assert marked.endswith(URL)
    assert with_mark(marked, "【已撤回】") == marked
