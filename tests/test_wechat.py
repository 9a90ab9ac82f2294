"""The WeChat channel against a fake WeChat Official Account API on 127.0.0.1.

The channel speaks real HTTP (httpx) to the fake (Starlette under uvicorn, in a thread), which
checks the token on every call, the multipart uploads, the JSON field names and limits, and
runs publish jobs through their states. Nothing on the client side is mocked.
"""

from __future__ import annotations

import io
import json
import stat
from datetime import date
from pathlib import Path

import pytest
from peers.fake_wechat_api import FakeWechatApi
from PIL import Image

from channels.base import Delivery, Receipt
from channels.wechat import WechatChannel
from pipeline.config import Channels, Config
from pipeline.config import WechatChannel as WechatSettings
from pipeline.errors import InDoubtError, PermanentError, RenderError, TransientError
from pipeline.fonts import SANS, find_font
from pipeline.load import load_notices
from pipeline.renderers.base import Artifact, RenderContext
from pipeline.renderers.wechat_article import WechatArticleRenderer
from pipeline.templating import make_environment, template_dirs

try:  # the cover is the card, drawn with Debian's fonts-noto-cjk
    find_font(SANS)
except RenderError as missing:
    pytest.skip(str(missing), allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
APP_ID = "wx5fa0c2d1e8b34a67"
SECRET = "3f9c-AppSecret-for-tests-b81e0d"
SECRET_ENV = "NOTICECAST_TEST_WECHAT_SECRET"
NOTICE = "sf-2018-0012"


@pytest.fixture(scope="module")
def notice_and_artifacts() -> tuple[object, list[Artifact]]:
    config = Config(root=REPO)
    loaded = load_notices([REPO / "content" / "2018" / f"{NOTICE}.yaml"], config, REPO)
    assert loaded.notices, loaded.problems
    ctx = RenderContext(config=config, today=date(2018, 7, 8),
                        templates=make_environment(template_dirs(REPO)))
    return loaded.notices[0], list(WechatArticleRenderer().render(loaded.notices, ctx))


@pytest.fixture
def artifacts(notice_and_artifacts: tuple[object, list[Artifact]]) -> list[Artifact]:
    return notice_and_artifacts[1]


def _config(root: Path, api: FakeWechatApi | None, *, timeout_s: float = 5.0,
            publish_timeout_s: float = 5.0) -> Config:
    settings = WechatSettings(
        app_id=APP_ID if api else None, secret_env=SECRET_ENV,
        api_base_url=api.base_url if api else "https://api.weixin.qq.com",
        timeout_s=timeout_s, publish_timeout_s=publish_timeout_s, poll_interval_s=0.02)
    return Config(root=root, channels=Channels(wechat=settings))


def _channel(config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             secret: str | None = SECRET) -> WechatChannel:
    if secret is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, secret)
    return WechatChannel.from_config(config, tmp_path / "out" / "channels" / "wechat")


def _delivery(channel: WechatChannel, config: Config, artifacts: list[Artifact],
              event: str = "publish", previous: Receipt | None = None,
              revision: int = 1) -> Delivery:
    return Delivery(notice_id=NOTICE, revision=revision, target=channel.targets(config)[0],
                    artifacts=artifacts, event=event, previous=previous)  # type: ignore[arg-type]


def _publish_apis(polls: int = 2) -> list[str]:
    return ["material/add_material", "media/uploadimg", "draft/add", "freepublish/submit",
            *["freepublish/get"] * polls]


# -- the clean path ----------------------------------------------------------------------------

def test_publish_uploads_the_cover_drafts_submits_and_polls(
        artifacts: list[Artifact], notice_and_artifacts: tuple[object, list[Artifact]],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notice = notice_and_artifacts[0]
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch)
        receipt = channel.deliver(_delivery(channel, config, artifacts))

    assert api.apis() == ["stable_token", *_publish_apis()]
    token_call = api.of("stable_token")[0]
    assert token_call.json == {"grant_type": "client_credential", "appid": APP_ID,
                               "secret": SECRET, "force_refresh": False}
    assert token_call.token is None and "secret" not in token_call.query  # not in the URL
    assert all(c.token == api.current_token for c in api.calls[1:])

    cover = api.of("material/add_material")[0]
    assert cover.query["type"] == "image"
    assert cover.content_type.startswith("multipart/form-data")
    assert cover.files["media"].content_type == "image/png"
    assert Image.open(io.BytesIO(cover.files["media"].data)).size == (1080, 1920)

    draft = api.of("draft/add")[0]
    assert b"\\u" not in draft.raw  # UTF-8 as it is: WeChat shows \u escapes literally
    article = draft.json["articles"][0]
    assert article["title"] == notice.title  # type: ignore[attr-defined]
    assert article["author"] == notice.issuer  # type: ignore[attr-defined]
    assert article["digest"] == notice.summary  # type: ignore[attr-defined]
    assert article["content_source_url"] == f"http://localhost:8000/notices/{NOTICE}/"
    assert article["thumb_media_id"] in api.materials
    # The cover shows the card's top (header and title), not WeChat's default middle.
    assert article["pic_crop_235_1"] == "0_0_1_0.239362"
    assert article["pic_crop_1_1"] == "0_0_1_0.562500"
    content = article["content"]
    assert "项目信息" in content and "<table" in content and "资金合计" in content
    assert "noticecast:" not in content and "<!--" not in content
    assert api.of("media/uploadimg")[0].files["media"].data.startswith(b"\x89PNG")
    assert "mmbiz.qpic.cn" in content and "<a " not in content and "<style" not in content

    assert receipt.remote_id in api.articles
    assert receipt.details["article_url"] == api.article_url(receipt.remote_id)
    assert receipt.details["publish_id"] in api.jobs


def test_the_token_is_cached_across_runs_in_the_state_folder_only(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        first = _channel(config, tmp_path, monkeypatch)
        first.deliver(_delivery(first, config, artifacts))
        second = _channel(config, tmp_path, monkeypatch)  # the next run: a new channel
        second.deliver(_delivery(second, config, artifacts))

    assert api.apis().count("stable_token") == 1
    cache = tmp_path / ".noticecast" / "wechat-token.json"
    assert json.loads(cache.read_text())["access_token"] == api.current_token
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert SECRET not in cache.read_text()
    assert not any(api.current_token in p.read_bytes().decode("utf-8", "replace")
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert SECRET not in repr(first) and SECRET not in repr(first.api)


def test_a_damaged_or_foreign_token_cache_is_replaced(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / ".noticecast" / "wechat-token.json"
    cache.parent.mkdir()
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        for damaged in ('{"access_token": ', json.dumps(
                {"app_id": "wx-another-account", "access_token": "T", "expires_at": 9e12})):
            cache.write_text(damaged)
            channel = _channel(config, tmp_path, monkeypatch)
            channel.deliver(_delivery(channel, config, artifacts))
    assert api.apis().count("stable_token") == 2
    assert json.loads(cache.read_text())["app_id"] == APP_ID


def test_a_token_that_expires_mid_run_is_fetched_again_and_the_call_repeated(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch)
        api.expire_token_at("draft/add")
        receipt = channel.deliver(_delivery(channel, config, artifacts))

    assert api.apis() == ["stable_token", "material/add_material", "media/uploadimg",
                          "draft/add", "stable_token", "draft/add", "freepublish/submit",
                          "freepublish/get", "freepublish/get"]
    first, second = api.of("draft/add")
    assert first.token != second.token and second.token == api.current_token
    assert len(api.of("freepublish/submit")) == 1 and receipt.remote_id in api.articles


# -- transient, permanent, in doubt -----------------------------------------------------------

@pytest.mark.parametrize("fault", ["45009", "-1", "502", "timeout"])
def test_a_refusal_or_failure_before_submit_is_transient(
        fault: str, artifacts: list[Artifact], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api, timeout_s=0.5)
        channel = _channel(config, tmp_path, monkeypatch)
        if fault == "502":
            api.fail_http("draft/add", 502)
        elif fault == "timeout":
            api.delay("draft/add", 1.5)
        else:
            api.fail("draft/add", int(fault), "api freq out of limit")
        with pytest.raises(TransientError) as caught:
            channel.deliver(_delivery(channel, config, artifacts))
    assert "freepublish/submit" not in api.apis()
    assert "draft/add" in str(caught.value) and SECRET not in str(caught.value)
    if fault == "45009":
        assert "接口繁忙" in str(caught.value) and "quota" in str(caught.value)


@pytest.mark.parametrize("fault", ["timeout", "502"])
def test_an_unknown_outcome_after_submit_is_in_doubt(
        fault: str, artifacts: list[Artifact], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api, timeout_s=0.5)
        channel = _channel(config, tmp_path, monkeypatch)
        if fault == "timeout":
            api.delay("freepublish/submit", 1.5)
        else:
            api.fail_http("freepublish/submit", 502)
        with pytest.raises(InDoubtError) as caught:
            channel.deliver(_delivery(channel, config, artifacts))
    assert api.apis()[-1] == "freepublish/submit"
    assert len(api.of("freepublish/submit")) == 1
    assert "发表记录" in str(caught.value)


def test_a_publish_job_that_does_not_finish_in_time_is_in_doubt(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET, polls_until_done=10_000) as api:
        config = _config(tmp_path, api, publish_timeout_s=0.3)
        channel = _channel(config, tmp_path, monkeypatch)
        with pytest.raises(InDoubtError, match="not finished"):
            channel.deliver(_delivery(channel, config, artifacts))
    assert len(api.of("freepublish/submit")) == 1 and len(api.of("freepublish/get")) >= 2


def test_a_failed_status_read_while_polling_is_read_again(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch)
        api.fail_http("freepublish/get", 503)
        api.fail("freepublish/get", 45009)
        receipt = channel.deliver(_delivery(channel, config, artifacts))
    assert receipt.remote_id in api.articles and len(api.of("freepublish/submit")) == 1


@pytest.mark.parametrize(("setup", "words"), [
    ("not-whitelisted", ["40164", "白名单", "whitelist"]),
    ("bad-secret", ["40125", "AppSecret", "secret_env"]),
    ("no-permission", ["48001", "权限", "not authorised"]),
])
def test_permanent_errors_say_what_to_do_in_chinese_and_english(
        setup: str, words: list[str], artifacts: list[Artifact], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET, whitelisted=setup != "not-whitelisted") as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch,
                           secret="wrong-secret" if setup == "bad-secret" else SECRET)
        if setup == "no-permission":
            api.fail("draft/add", 48001, "api unauthorized")
        with pytest.raises(PermanentError) as caught:
            channel.deliver(_delivery(channel, config, artifacts))
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert "wrong-secret" not in message and SECRET not in message
    assert "freepublish/submit" not in api.apis()


def test_an_app_id_without_its_secret_is_an_error_not_the_outbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        with pytest.raises(PermanentError, match=SECRET_ENV):
            _channel(config, tmp_path, monkeypatch, secret=None)


# -- corrections and withdrawals ----------------------------------------------------------------

def test_a_correction_is_a_new_article_that_links_the_original(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corrected = _corrected(artifacts)
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, artifacts))
        second = channel.deliver(_delivery(channel, config, corrected, "correction",
                                           previous=first, revision=2))
    assert first.remote_id != second.remote_id and len(api.articles) == 2
    article = api.articles[str(second.remote_id)]
    assert article["title"].startswith("【更正】")
    assert f'href="{first.details["article_url"]}"' in article["content"]
    assert second.details["corrects"] == first.details["article_url"]


def test_a_withdrawal_deletes_the_article_and_publishes_a_short_notice(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    withdrawn = _withdrawn(artifacts)
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, artifacts))
        channel.withdraw(first)
        notice = channel.deliver(_delivery(channel, config, withdrawn, "withdrawal",
                                           previous=first))
        channel.withdraw(first)  # a repeated withdrawal (a retry) finds it gone: done
    assert api.deleted == [first.remote_id]
    assert [c.json for c in api.of("freepublish/delete")] == [
        {"article_id": first.remote_id, "index": 0}] * 2
    assert list(api.articles) == [notice.remote_id]
    assert api.articles[str(notice.remote_id)]["title"].startswith("【撤回】")
    assert "项目调整" in api.articles[str(notice.remote_id)]["content"]


def test_expiry_sends_nothing(artifacts: list[Artifact], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeWechatApi(APP_ID, SECRET) as api:
        config = _config(tmp_path, api)
        channel = _channel(config, tmp_path, monkeypatch)
        receipt = channel.deliver(_delivery(channel, config, artifacts, "expiry"))
    assert api.calls == [] and "skipped" in receipt.details


# -- the outbox ---------------------------------------------------------------------------------

def test_without_an_app_id_the_article_goes_to_the_outbox(
        artifacts: list[Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, None)
    channel = _channel(config, tmp_path, monkeypatch, secret=None)
    assert channel.targets(config)[0].key == "outbox"
    receipt = channel.deliver(_delivery(channel, config, artifacts))
    folder = tmp_path / "out" / "channels" / "wechat" / NOTICE
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["r1-publish-qr.png", "r1-publish-thumb.png", "r1-publish.html",
                     "r1-publish.json"]
    record = json.loads((folder / "r1-publish.json").read_text("utf-8"))
    article = record["articles"][0]
    assert article["author"] == "什邡市师古镇人民政府" and article["digest"]
    assert 'src="noticecast:' not in (folder / "r1-publish.html").read_text("utf-8")
    assert 'src="r1-publish-qr.png"' in (folder / "r1-publish.html").read_text("utf-8")
    assert receipt.remote_id == f"sink:{NOTICE}/r1-publish" and receipt.details["sink"]
    channel.withdraw(receipt)
    assert (folder / "r1-publish-delete.json").is_file()


# -- helpers ----------------------------------------------------------------------------------

def _rendered(**changes: object) -> list[Artifact]:
    config = Config(root=REPO)
    loaded = load_notices([REPO / "content" / "2018" / f"{NOTICE}.yaml"], config, REPO)
    notice = loaded.notices[0].model_copy(update=changes)
    ctx = RenderContext(config=config, today=date(2018, 7, 10),
                        templates=make_environment(template_dirs(REPO)))
    return list(WechatArticleRenderer().render([notice], ctx))


def _corrected(artifacts: list[Artifact]) -> list[Artifact]:
    from pipeline.model import Correction

    return _rendered(revision=2, correction=Correction(note="更正了项目负责人的电话。"))


def _withdrawn(artifacts: list[Artifact]) -> list[Artifact]:
    from pipeline.model import Status, Withdrawal

    return _rendered(status=Status.withdrawn,
                     withdrawal=Withdrawal(reason="项目调整，本公示撤回。", on=date(2018, 7, 10)))
