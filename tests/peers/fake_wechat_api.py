"""A small WeChat Official Account API on 127.0.0.1 (Starlette, uvicorn in a thread).

It checks the calls as the real one does, in the real shapes (HTTP 200 with an ``errcode``):

* ``stable_token`` (POST JSON: grant_type, appid, secret): 40013 for a wrong AppID, 40125 for
  a wrong secret, 40164 when this client's IP is "not whitelisted"; otherwise a token;
* every other call needs ``?access_token=`` with a current token: 41001 without one, 40001 for
  an unknown one, 42001 for one that ``expire_token`` expired;
* ``material/add_material?type=image`` and ``media/uploadimg`` take a multipart ``media`` file
  with a file name and an image content type (PNG or JPEG bytes);
* ``draft/add`` takes ``{"articles": [...]}`` with WeChat's field names only, a permanent
  ``thumb_media_id``, the length limits (45003 title, 45110 author, 45004 digest, 45002
  content) and only images uploaded here (45166 otherwise);
* ``freepublish/submit`` turns a draft (used once) into a publish job that is ``publishing``
  (1) for ``polls_until_done`` reads of ``freepublish/get``, then published (0) with an
  ``article_id`` and ``article_url``; ``freepublish/delete`` deletes it (53600 if unknown).

Scripted faults, per call: ``fail(api, errcode)`` answers an error code, ``fail_http(api,
status)`` an HTTP status, ``delay(api, seconds)`` acts on the call and then answers late (a
client timeout after the call had its effect), ``expire_token_at(api)`` expires the token just
as that call arrives. Every request is recorded in ``calls``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ARTICLE_FIELDS = frozenset({"article_type", "title", "author", "digest", "content",
                            "content_source_url", "thumb_media_id", "need_open_comment",
                            "only_fans_can_comment", "pic_crop_235_1", "pic_crop_1_1"})
LIMITS = (("title", 32, 45003), ("author", 16, 45110), ("digest", 128, 45004),
          ("content", 19_999, 45002))
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
IMG_SRC = re.compile(r'<img[^>]*\ssrc="([^"]*)"')
CROP = re.compile(r"(0|1|0\.\d+|1\.0+)(_(0|1|0\.\d+|1\.0+)){3}")


@dataclass
class Upload:
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    api: str
    token: str | None
    query: dict[str, str]
    content_type: str
    raw: bytes
    json: Any = None
    files: dict[str, Upload] = field(default_factory=dict)


@dataclass
class Job:
    publish_id: str
    draft: dict[str, Any]
    polls_left: int
    article_id: str | None = None


@dataclass
class FakeWechatApi:
    app_id: str
    secret: str
    expires_in: int = 7200
    polls_until_done: int = 1
    whitelisted: bool = True
    calls: list[Call] = field(default_factory=list)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)  # published, by id
    deleted: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)
        self.tokens: dict[str, bool] = {}  # token -> still valid
        self.current_token: str | None = None
        self.materials: dict[str, bytes] = {}
        self.image_urls: set[str] = set()
        self.drafts: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, Job] = {}
        self._faults: dict[str, list[tuple[str, Any]]] = {}
        app = Starlette(routes=[Route("/cgi-bin/{api:path}", self._handle, methods=["POST"])])
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                                     access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    # -- the test's side -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, api: str, errcode: int, errmsg: str = "scripted", times: int = 1) -> None:
        self._faults.setdefault(api, []).extend([("errcode", (errcode, errmsg))] * times)

    def fail_http(self, api: str, status: int, times: int = 1) -> None:
        self._faults.setdefault(api, []).extend([("http", status)] * times)

    def delay(self, api: str, seconds: float, times: int = 1) -> None:
        self._faults.setdefault(api, []).extend([("delay", seconds)] * times)

    def expire_token_at(self, api: str) -> None:
        """The token expires just as ``api`` is next called (mid-run, between two calls)."""
        self._faults.setdefault(api, []).append(("expire", None))

    def expire_token(self) -> None:
        """The current token expires now (as after two hours, or a forced refresh elsewhere)."""
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = False

    def of(self, api: str) -> list[Call]:
        return [c for c in self.calls if c.api == api]

    def apis(self) -> list[str]:
        return [c.api for c in self.calls]

    def __enter__(self) -> FakeWechatApi:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the fake WeChat API did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    # -- the server's side -----------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        api = request.path_params["api"]
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        call = Call(api, request.query_params.get("access_token"), dict(request.query_params),
                    content_type, raw)
        with self._lock:
            self.calls.append(call)
            fault = self._faults[api].pop(0) if self._faults.get(api) else None
            if fault and fault[0] == "expire":
                for token in self.tokens:
                    self.tokens[token] = False
            if fault and fault[0] == "http":
                return Response(b"<html>bad gateway</html>", status_code=fault[1],
                                media_type="text/html")
            if fault and fault[0] == "errcode":
                answer: dict[str, Any] = {"errcode": fault[1][0], "errmsg": fault[1][1]}
            else:
                answer = self._answer(call)
        if fault and fault[0] == "delay":
            await asyncio.sleep(fault[1])
        return JSONResponse(answer)

    def _answer(self, call: Call) -> dict[str, Any]:
        try:
            _parse(call)
        except ValueError as exc:
            return _error(47001, f"data format error: {exc}")
        if call.api == "stable_token":
            return self._stable_token(call)
        if call.token is None:
            return _error(41001, "access_token missing")
        if call.token not in self.tokens:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if not self.tokens[call.token]:
            return _error(42001, "access_token expired")
        handler = getattr(self, "_" + call.api.replace("/", "_"), None)
        if handler is None:
            return _error(48001, f"api unauthorized: {call.api}")
        return handler(call)

    def _stable_token(self, call: Call) -> dict[str, Any]:
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if body.get("appid") != self.app_id:
            return _error(40013, "invalid appid")
        if body.get("secret") != self.secret:
            return _error(40125, "invalid appsecret")
        if not self.whitelisted:
            return _error(40164, "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist")
        if self.current_token is None or not self.tokens[self.current_token] \
                or body.get("force_refresh"):
            if self.current_token:
                self.tokens[self.current_token] = False
            self.current_token = f"TOKEN-{next(self._ids)}"
            self.tokens[self.current_token] = True
        return {"access_token": self.current_token, "expires_in": self.expires_in}

    def _upload(self, call: Call) -> Upload | dict[str, Any]:
        media = call.files.get("media")
        if not call.content_type.startswith("multipart/form-data") or media is None:
            return _error(41005, "media data missing")
        if not media.filename or not media.content_type.startswith("image/") \
                or not media.data.startswith(IMAGE_MAGIC):
            return _error(40005, "invalid file type")
        return media

    def _material_add_material(self, call: Call) -> dict[str, Any]:
        if call.query.get("type") != "image":
            return _error(40004, "invalid media type")
        media = self._upload(call)
        if isinstance(media, dict):
            return media
        media_id = f"MEDIA-{next(self._ids)}"
        self.materials[media_id] = media.data
        return {"media_id": media_id, "url": f"http://mmbiz.qpic.cn/mmbiz_png/{media_id}/0"}

    def _media_uploadimg(self, call: Call) -> dict[str, Any]:
        media = self._upload(call)
        if isinstance(media, dict):
            return media
        if len(media.data) > 1024 * 1024:
            return _error(40009, "invalid image size")
        url = f"http://mmbiz.qpic.cn/mmbiz_png/IMG-{next(self._ids)}/0?wx_fmt=png"
        self.image_urls.add(url)
        return {"url": url}

    def _draft_add(self, call: Call) -> dict[str, Any]:
        body = call.json
        articles = body.get("articles") if isinstance(body, dict) else None
        if not articles or not isinstance(articles, list):
            return _error(44003, "empty news data")
        for article in articles:
            unknown = set(article) - ARTICLE_FIELDS
            if unknown:
                return _error(47001, f"data format error: unknown fields {sorted(unknown)}")
            if not article.get("title") or not article.get("content"):
                return _error(44003, "empty news data")
            if article.get("thumb_media_id") not in self.materials:
                return _error(40007, "invalid media_id")
            for name in ("pic_crop_235_1", "pic_crop_1_1"):
                if name in article and not CROP.fullmatch(str(article[name])):
                    return _error(47001, f"data format error: {name}")
            for name, limit, code in LIMITS:
                if len(str(article.get(name, ""))) > limit:
                    return _error(code, f"{name} size out of limit")
            for src in IMG_SRC.findall(article["content"]):
                if src.replace("&amp;", "&") not in self.image_urls:
                    return _error(45166, f"invalid content: image {src} not uploaded")
        media_id = f"DRAFT-{next(self._ids)}"
        self.drafts[media_id] = articles[0]
        return {"media_id": media_id}

    def _freepublish_submit(self, call: Call) -> dict[str, Any]:
        media_id = (call.json or {}).get("media_id")
        draft = self.drafts.pop(media_id, None)
        if draft is None:
            return _error(40007, "invalid media_id")
        publish_id = str(next(self._ids))
        self.jobs[publish_id] = Job(publish_id, draft, self.polls_until_done)
        return {"errcode": 0, "errmsg": "ok", "publish_id": publish_id,
                "msg_data_id": int(publish_id)}

    def _freepublish_get(self, call: Call) -> dict[str, Any]:
        job = self.jobs.get(str((call.json or {}).get("publish_id")))
        if job is None:
            return _error(40007, "invalid publish_id")
        if job.polls_left > 0:
            job.polls_left -= 1
            return {"publish_id": job.publish_id, "publish_status": 1}
        if job.article_id is None:
            job.article_id = f"ARTICLE-{job.publish_id}"
            self.articles[job.article_id] = job.draft
        return {"publish_id": job.publish_id, "publish_status": 0,
                "article_id": job.article_id,
                "article_detail": {"count": 1, "item": [
                    {"idx": 1, "article_url": self.article_url(job.article_id)}]},
                "fail_idx": []}

    def _freepublish_delete(self, call: Call) -> dict[str, Any]:
        article_id = (call.json or {}).get("article_id")
        if article_id not in self.articles:
            return _error(53600, "Article ID 无效")
        del self.articles[article_id]
        self.deleted.append(article_id)
        return {"errcode": 0, "errmsg": "ok"}

    def article_url(self, article_id: str) -> str:
        return f"https://mp.weixin.qq.com/s/{article_id}"

    def published_titles(self) -> list[str]:
        return [a["title"] for a in self.articles.values()]


def _error(code: int, message: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": f"{message} rid: 6566f0a1-0b7c1e2d-3f4a5b6c"}


def _parse(call: Call) -> None:
    """Fill ``call.json`` or ``call.files`` from the body, as WeChat reads it."""
    if call.content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + call.content_type.encode("latin-1") + b"\r\n\r\n" + call.raw)
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            call.files[name] = Upload(part.get_filename(), part.get_content_type(),
                                      part.get_payload(decode=True) or b"")
    elif call.raw:
        call.json = json.loads(call.raw.decode("utf-8"))


__all__ = ["Call", "FakeWechatApi"]
