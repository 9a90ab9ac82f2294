"""The one place where renderers and channels are registered, by name.

Built-ins are listed here as import paths and imported only when used, so that a build of web
pages never pays for loading WeasyPrint. Outside plug-ins register through the entry point
groups ``noticecast.renderers`` and ``noticecast.channels`` (value: ``module:Class``).
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pipeline.errors import UnknownNameError

if TYPE_CHECKING:
    from channels.base import Channel
    from pipeline.renderers.base import Renderer

# Order matters: it is the order of `noticecast build` and of its summary table.
RENDERERS: dict[str, str] = {
    "web": "pipeline.renderers.web:WebRenderer",
    "card": "pipeline.renderers.card:CardRenderer",
    "newspaper": "pipeline.renderers.newspaper:NewspaperRenderer",
    "ticker": "pipeline.renderers.ticker:TickerRenderer",
    "sms": "pipeline.renderers.sms:SmsRenderer",
    "wechat": "pipeline.renderers.wechat_article:WechatArticleRenderer",
    "board": "pipeline.renderers.board:BoardRenderer",
}

CHANNELS: dict[str, str] = {
    "site": "channels.site:SiteChannel",
    "telegram": "channels.telegram:TelegramChannel",
    "newspaper": "channels.newspaper:NewspaperChannel",
    "ticker": "channels.ticker:TickerChannel",
    "sms": "channels.sms:SmsChannel",
    "wechat": "channels.wechat:WechatChannel",
    "board": "channels.board:BoardChannel",
    "memory": "channels.memory:MemoryChannel",
}


def add_renderer(name: str, target: str) -> None:
    RENDERERS[name] = target
    _load.cache_clear()


def add_channel(name: str, target: str) -> None:
    CHANNELS[name] = target
    _load.cache_clear()


@cache
def _plugins(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def renderer_names() -> list[str]:
    return [*RENDERERS, *(n for n in _plugins("noticecast.renderers") if n not in RENDERERS)]


def channel_names() -> list[str]:
    return [*CHANNELS, *(n for n in _plugins("noticecast.channels") if n not in CHANNELS)]


@cache
def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _target(kind: str, name: str, table: dict[str, str], group: str) -> str:
    target = table.get(name) or _plugins(group).get(name)
    if target is None:
        known = ", ".join(renderer_names() if kind == "renderer" else channel_names())
        raise UnknownNameError(f"unknown {kind} {name!r}; known {kind}s: {known}")
    return target


def renderer_class(name: str) -> type[Renderer]:
    return _load(_target("renderer", name, RENDERERS, "noticecast.renderers"))


def get_renderer(name: str) -> Renderer:
    return renderer_class(name)()


def channel_class(name: str) -> type[Channel]:
    return _load(_target("channel", name, CHANNELS, "noticecast.channels"))
