"""The WeChat Official Account channel (公众号): each notice published as a 图文 article.

It carries the ``wechat`` renderer's outputs (``pipeline.renderers.wechat_article``): the
article's fields per event, the cover (the notice's card) and the images the article shows.
One delivery, through the API (``channels.wechat_api``):

1. ``material/add_material?type=image``: the cover, as permanent material, for
   ``thumb_media_id`` (the ``thumb`` type takes only JPEGs of up to 64 kB; a permanent image
   is what drafts accept as their cover);
2. ``media/uploadimg``: each image of the content; its address replaces ``noticecast:<file>``;
3. ``draft/add``: the article as a draft (title, author = the issuer, digest = the summary,
   content, ``content_source_url`` = the canonical page, the 阅读原文 link);
4. ``freepublish/submit``: publish the draft. From here on the outcome may be public: an answer
   that does not come, or cannot be read, makes the delivery *in doubt* (``InDoubtError``) and
   it is never submitted again on its own (at most once);
5. ``freepublish/get``, every ``poll_interval_s`` until the job succeeds or fails, or until
   ``publish_timeout_s`` has passed (in doubt then: the job may still succeed). Its
   ``article_id`` is the receipt's ``remote_id``, its ``article_url`` is in the details.

Errors before step 4 are transient or permanent as ``WechatApi.call`` classifies them: nothing
is public yet (an orphan draft or image may be left in the account, which is harmless).

Events: ``publish`` sends the article; ``correction`` a new article headed 【更正】 whose first
lines link the original (its ``article_url`` from the earlier receipt); ``withdrawal`` first
deletes the published article (``withdraw``: ``freepublish/delete``), then publishes a short
【撤回】 notice; ``expiry`` sends nothing.

The AppID is in the config, the AppSecret in the environment variable it names. Without an
AppID the channel writes what it would send to its outbox folder, ``out/channels/wechat/``:
the ``draft/add`` request as JSON (``<stem>.json``), the article as a page (``<stem>.html``) and
the pictures. An AppID without its secret is an error, not a silent fall back to the folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from channels.base import (
    Delivery,
    DeliveryKind,
    InDoubtError,
    PermanentError,
    Receipt,
    Scope,
    Target,
    TransientError,
)
from channels.wechat_api import TokenCache, Upload, WechatApi
from pipeline.build import write_atomic
from pipeline.config import Config
from pipeline.renderers.wechat_article import (
    ARTICLE_NAME,
    THUMB_NAME,
    Variant,
    article_for,
    image_names,
    preview_html,
    with_images,
)

OUTBOX_KEY = "outbox"
PUBLISHED, PUBLISHING = 0, 1
JOB_STATES = {2: "原创声明失败 original-content check failed", 3: "常规失败 publishing failed",
              4: "平台审核不通过 rejected by the platform's review",
              5: "已被删除 deleted after publishing", 6: "已被封禁 banned after publishing"}
ARTICLE_GONE = frozenset({53600})  # freepublish/delete: no such article (deleted already)


@dataclass(frozen=True)
class Draft:
    """What one delivery sends: the draft/add article and the files it needs."""

    event: str
    fields: dict[str, str]
    thumb: bytes
    images: dict[str, bytes] = field(default_factory=dict)


class WechatChannel:
    name: ClassVar[str] = "wechat"
    delivery: ClassVar[DeliveryKind] = "at-most-once"
    scope: ClassVar[Scope] = "notice"
    renderer: ClassVar[str] = "wechat"

    def __init__(self, *, sink: Path, api: WechatApi | None = None,
                 publish_timeout_s: float = 120.0, poll_interval_s: float = 3.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.api = api
        self.publish_timeout_s = publish_timeout_s
        self.poll_interval_s = poll_interval_s
        self.sleep = sleep
        self.clock = clock

    def __repr__(self) -> str:
        mode = f"api {self.api.app_id}" if self.api else "outbox"
        return f"WechatChannel({mode}, sink={str(self.sink)!r})"

    @classmethod
    def from_config(cls, config: Config, sink: Path) -> WechatChannel:
        settings = config.channels.wechat
        timing = {"publish_timeout_s": settings.publish_timeout_s,
                  "poll_interval_s": settings.poll_interval_s}
        if not settings.app_id:
            return cls(sink=sink, **timing)
        secret = Config.secret(settings.secret_env)
        if secret is None:
            raise PermanentError(
                f"channels.wechat.app_id is {settings.app_id} but the environment variable "
                f"{settings.secret_env} (the AppSecret) is not set; set it, or remove app_id "
                "to write to the outbox folder")
        api = WechatApi(app_id=settings.app_id, secret=secret, base_url=settings.api_base_url,
                        cache=TokenCache(config.path(settings.token_cache), settings.app_id),
                        timeout_s=settings.timeout_s)
        return cls(sink=sink, api=api, **timing)

    def targets(self, config: Config) -> list[Target]:
        app_id = config.channels.wechat.app_id
        if app_id:
            return [Target(channel=self.name, key=app_id, address={"app_id": app_id},
                           label=f"公众号 {app_id}")]
        return [Target(channel=self.name, key=OUTBOX_KEY, label="公众号 outbox")]

    def close(self) -> None:
        if self.api is not None:
            self.api.close()

    # -- delivering ------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> Receipt:
        details: dict[str, Any] = {"event": delivery.event, "revision": delivery.revision}
        if delivery.event == "expiry":
            details["skipped"] = "WeChat has nothing to do when a publicity period ends"
            return Receipt(channel=self.name, target_key=delivery.target.key, details=details)
        original = _article_url(delivery.previous) if delivery.event == "correction" else None
        draft = plan(delivery, original)
        if original:
            details["corrects"] = original
        if self.api is None:
            remote_id = self._write_sink(delivery, draft)
            details["sink"] = True
            return Receipt(channel=self.name, target_key=delivery.target.key,
                           remote_id=remote_id, details=details)
        published = self._publish(draft, delivery)
        details.update(published)
        return Receipt(channel=self.name, target_key=delivery.target.key,
                       remote_id=str(published["article_id"]), details=details)

    def withdraw(self, receipt: Receipt) -> None:
        """Delete the published article (``freepublish/delete``); the withdrawal delivery
        that follows publishes the 【撤回】 notice. An article deleted already is done."""
        article_id = receipt.remote_id
        if not article_id or article_id.startswith("sink:"):
            if article_id and self.api is None:
                self._write_sink_delete(article_id)
            return  # nothing was published through the API
        if self.api is None:
            raise PermanentError(
                f"wechat: article {article_id} was published through the API, but no AppID "
                "is configured now: set channels.wechat.app_id to delete it")
        try:
            self.api.call("freepublish/delete", json_body={"article_id": article_id,
                                                           "index": 0}, accept=ARTICLE_GONE)
        except InDoubtError as exc:  # a delete may be repeated: retry it
            raise TransientError(str(exc)) from None

    # -- the API ---------------------------------------------------------------------------

    def _publish(self, draft: Draft, delivery: Delivery) -> dict[str, Any]:
        api = self.api
        assert api is not None
        thumb = api.call("material/add_material", query={"type": "image"},
                         upload=Upload("media", THUMB_NAME, draft.thumb, "image/png"))
        urls: dict[str, str] = {}
        for name, data in draft.images.items():
            answer = api.call("media/uploadimg", upload=Upload("media", name, data,
                                                                 "image/png"))
            urls[name] = _text(answer, "url", "media/uploadimg")
        article = {**draft.fields, "content": with_images(draft.fields["content"], urls),
                   "thumb_media_id": _text(thumb, "media_id", "material/add_material"),
                   "need_open_comment": 0, "only_fans_can_comment": 0}
        added = api.call("draft/add", json_body={"articles": [article]})
        draft_id = _text(added, "media_id", "draft/add")
        # The point of no return: from here an unknown outcome may be a public article.
        submitted = api.call("freepublish/submit", json_body={"media_id": draft_id},
                             sent_matters=True)
        publish_id = submitted.get("publish_id")
        if publish_id in (None, ""):
            raise InDoubtError(f"wechat {api.app_id}: freepublish/submit answered without a "
                               f"publish_id for draft {draft_id}; check the account's 发表记录")
        job = self._await_job(str(publish_id), delivery)
        return {"publish_id": str(publish_id), "draft_media_id": draft_id,
                "thumb_media_id": article["thumb_media_id"], **job}

    def _await_job(self, publish_id: str, delivery: Delivery) -> dict[str, Any]:
        """Poll the publish job until it ends; a job whose end is not seen is in doubt."""
        api = self.api
        assert api is not None
        where = f"wechat {api.app_id}: {delivery.notice_id} publish job {publish_id}"
        deadline = self.clock() + self.publish_timeout_s
        last = "no answer yet"
        while True:
            try:
                job = api.call("freepublish/get", json_body={"publish_id": publish_id})
            except (TransientError, InDoubtError) as exc:  # a status read may be repeated
                job, last = None, str(exc)
            except PermanentError as exc:
                raise InDoubtError(f"{where}: submitted, but its state cannot be read "
                                   f"({exc}); check the account's 发表记录") from None
            if job is not None:
                status = job.get("publish_status")
                if status == PUBLISHED:
                    return _published(job, where)
                if status in JOB_STATES:
                    failed = job.get("fail_idx") or []
                    raise PermanentError(f"{where}: 发表失败 {JOB_STATES[status]} (status "
                                         f"{status}, articles {failed}); see the draft in "
                                         "the 公众平台")
                last = f"publish_status {status}"
            if self.clock() + self.poll_interval_s > deadline:
                raise InDoubtError(f"{where}: not finished after {self.publish_timeout_s:g} s "
                                   f"({last}); it may still be published: check the "
                                   "account's 发表记录")
            self.sleep(self.poll_interval_s)

    # -- the outbox ------------------------------------------------------------------------

    def _write_sink(self, delivery: Delivery, draft: Draft) -> str:
        stem = f"r{delivery.revision}-{delivery.event}"
        folder = self.sink / delivery.notice_id
        thumb_name = f"{stem}-{THUMB_NAME}"
        write_atomic(folder / thumb_name, draft.thumb)
        image_files = {name: f"{stem}-{name}" for name in draft.images}
        for name, data in draft.images.items():
            write_atomic(folder / image_files[name], data)
        variant = Variant(draft.fields["title"], draft.fields["author"],
                          draft.fields["digest"], draft.fields["content"])
        write_atomic(folder / f"{stem}.html",
                     preview_html(variant, image_files).encode("utf-8"))
        record = {"api": "draft/add", "articles": [{
            **draft.fields, "thumb_media_id": f"(material/add_material type=image: "
                                              f"{thumb_name})",
            "need_open_comment": 0, "only_fans_can_comment": 0}],
            "uploadimg": image_files, "then": ["freepublish/submit", "freepublish/get"]}
        # The JSON goes last: its presence says the delivery is complete.
        write_atomic(folder / f"{stem}.json",
                     json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"))
        return f"sink:{delivery.notice_id}/{stem}"

    def _write_sink_delete(self, remote_id: str) -> None:
        path = remote_id.removeprefix("sink:")
        notice_id, _, stem = path.partition("/")
        record = {"api": "freepublish/delete", "article": f"{stem}.json", "index": 0}
        write_atomic(self.sink / notice_id / f"{stem}-delete.json",
                     json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"))


# -- helpers ---------------------------------------------------------------------------------

def plan(delivery: Delivery, original_url: str | None = None) -> Draft:
    """The draft a delivery sends, from the built article (pure)."""
    files = {a.path.rsplit("/", 1)[-1]: a for a in delivery.artifacts}
    built = files.get(ARTICLE_NAME)
    if built is None or THUMB_NAME not in files:
        raise PermanentError(f"wechat: {delivery.notice_id}: no built article among the "
                             "outputs; build it first (noticecast build --only wechat)")
    article = json.loads(built.data)
    fields = article_for(article, delivery.event, original_url)
    if fields is None:
        raise PermanentError(f"wechat: {delivery.notice_id}: the built article has no "
                             f"{delivery.event} version; rebuild it (noticecast build --only "
                             "wechat)")
    images = {}
    for name in image_names(fields["content"]):
        if name not in files:
            raise PermanentError(f"wechat: {delivery.notice_id}: the article shows {name}, "
                                 "which was not built; rebuild it")
        images[name] = files[name].data
    return Draft(delivery.event, fields, files[THUMB_NAME].data, images)


def _article_url(previous: Receipt | None) -> str | None:
    if previous is None:
        return None
    url = previous.details.get("article_url")
    return str(url) if url else None


def _text(answer: Mapping[str, Any], key: str, api: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise TransientError(f"wechat: {api} answered without a {key}; nothing was "
                             "published, will retry")
    return value


def _published(job: Mapping[str, Any], where: str) -> dict[str, Any]:
    article_id = job.get("article_id")
    items = (job.get("article_detail") or {}).get("item") or []
    url = next((i.get("article_url") for i in items if isinstance(i, dict)), None)
    if not article_id:
        raise InDoubtError(f"{where}: published, but the answer has no article_id; find the "
                           "article in the account's 发表记录")
    return {"article_id": str(article_id), "article_url": url}


__all__ = ["Draft", "WechatChannel", "plan"]
