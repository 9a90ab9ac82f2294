"""The Telegram channel against a real (fake) Bot API server on 127.0.0.1.

The bot is python-telegram-bot's ExtBot with its AIORateLimiter, pointed at the fake server
through ``channels.telegram.api_base_url``; nothing is mocked on the client side.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from peers.fake_bot_api import FakeBotApi
from PIL import Image

from channels.base import Artifact, Delivery, PermanentError, Receipt, Target, TransientError
from channels.telegram import TelegramChannel
from pipeline.config import Channels, Config
from pipeline.config import TelegramChannel as TelegramSettings
from pipeline.errors import InDoubtError, RenderError
from pipeline.fonts import SANS, find_font
from pipeline.load import load_notices
from pipeline.renderers.base import RenderContext
from pipeline.renderers.caption import utf16_len
from pipeline.renderers.card import CardRenderer
from pipeline.templating import make_environment, template_dirs

try:  # the card is drawn with Debian's fonts-noto-cjk; without it there is nothing to test
    find_font(SANS)
except RenderError as missing:
    pytest.skip(str(missing), allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
TOKEN = "7000001:AAH-sEcReT_t0ken-for-tests"
TOKEN_ENV = "NOTICECAST_TEST_TELEGRAM_TOKEN"
NOTICE = "sf-2018-0012"

# PTB's own rate limiter reads RetryAfter.retry_after, which warns about its type changing in a
# future major version; the channel handles both types.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


@pytest.fixture(scope="module")
def card_artifacts() -> list[Artifact]:
    config = Config(root=REPO)
    loaded = load_notices([REPO / "content" / "2018" / f"{NOTICE}.yaml"], config, REPO)
    assert loaded.notices, loaded.problems
    ctx = RenderContext(config=config, today=date(2018, 7, 8),
                        templates=make_environment(template_dirs(REPO)))
    return list(CardRenderer().render(loaded.notices, ctx))


@pytest.fixture(scope="module")
def withdrawn_artifacts(tmp_path_factory: pytest.TempPathFactory) -> list[Artifact]:
    """The card and caption of the same notice, withdrawn while its publicity runs."""
    config = Config(root=REPO)
    text = (REPO / "content" / "2018" / f"{NOTICE}.yaml").read_text("utf-8")
    text = text.replace("status: approved", "status: withdrawn") + (
        "\nwithdrawal:\n  on: 2018-07-09\n  reason: 项目调整，另行公示。\n")
    source = tmp_path_factory.mktemp("withdrawn") / f"{NOTICE}.yaml"
    source.write_text(text, "utf-8")
    loaded = load_notices([source], config, REPO)
    assert loaded.notices and loaded.notices[0].is_withdrawn, loaded.problems
    ctx = RenderContext(config=config, today=date(2018, 7, 9),
                        templates=make_environment(template_dirs(REPO)))
    return list(CardRenderer().render(loaded.notices, ctx))


def _config(base_url: str | None, *, chat: str = "@shifang_notices", timeout_s: float = 10.0,
            flood_retries: int = 1) -> Config:
    return Config(root=REPO, channels=Channels(telegram=TelegramSettings(
        chat=chat, token_env=TOKEN_ENV, api_base_url=base_url, timeout_s=timeout_s,
        flood_retries=flood_retries)))


_OPEN: list[TelegramChannel] = []


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    """A channel lives for one run; the publisher closes it at the end, and so do the tests."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _channel(config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             token: str | None = TOKEN) -> TelegramChannel:
    if token is None:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    else:
        monkeypatch.setenv(TOKEN_ENV, token)
    channel = TelegramChannel.from_config(config, tmp_path / "sink")
    _OPEN.append(channel)
    return channel


def _delivery(channel: TelegramChannel, config: Config, artifacts: list[Artifact],
              event: str = "publish", previous: Receipt | None = None,
              revision: int = 1, earlier: tuple[Receipt, ...] = ()) -> Delivery:
    return Delivery(notice_id=NOTICE, revision=revision, target=channel.targets(config)[0],
                    artifacts=artifacts, event=event, previous=previous,  # type: ignore[arg-type]
                    earlier=earlier)


def _caption(artifacts: list[Artifact]) -> str:
    return next(a for a in artifacts if a.path.endswith("caption.txt")).data.decode("utf-8")


def _url(artifacts: list[Artifact]) -> str:
    return next(a for a in artifacts if a.path.endswith("card-1080x1920.png")).meta["url"]


def test_targets_and_token_come_from_config(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    config = _config(None, chat="@shifang_notices, -1001234567890")
    channel = _channel(config, tmp_path, monkeypatch)
    targets = channel.targets(config)
    assert [t.key for t in targets] == ["@shifang_notices", "-1001234567890"]
    assert targets[1].address["chat_id"] == -1001234567890
    assert TOKEN not in repr(channel)
    assert (TelegramChannel.name, TelegramChannel.delivery, TelegramChannel.scope) == (
        "telegram", "at-most-once", "notice")


def test_publish_sends_the_card_caption_and_button(card_artifacts: list[Artifact],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        receipt = channel.deliver(_delivery(channel, config, card_artifacts))

    assert [c.method for c in api.calls] == ["getMe", "sendPhoto"]
    call = api.of("sendPhoto")[0]
    assert call.token == TOKEN
    assert call.content_type.startswith("multipart/form-data")
    photo = call.files["photo"]
    assert photo.content_type == "image/png"
    assert photo.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(photo.data)).size == (1080, 1920)
    assert call.fields["chat_id"] == "@shifang_notices"
    assert call.fields["caption"] == _caption(card_artifacts)
    assert utf16_len(call.fields["caption"]) <= 1024
    button = call.json_field("reply_markup")["inline_keyboard"][0][0]
    assert button == {"text": "查看全文", "url": _url(card_artifacts)}
    assert "reply_parameters" not in call.fields

    assert receipt.remote_id == "101"  # the message_id the server returned
    assert receipt.target_key == "@shifang_notices"
    assert TOKEN not in json.dumps(receipt.as_dict(), ensure_ascii=False)
    assert caplog.records, "PTB and httpx log at DEBUG/INFO; the test must see those logs"
    assert TOKEN not in caplog.text
    assert "<token>" in caplog.text  # the URL was logged, redacted


def test_flood_control_429_is_waited_out_by_ptb_then_succeeds(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        api.fail("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
        config = _config(api.base_url, flood_retries=1)
        channel = _channel(config, tmp_path, monkeypatch)
        receipt = channel.deliver(_delivery(channel, config, card_artifacts))
    assert len(api.of("sendPhoto")) == 2  # refused once, then sent: not a duplicate
    assert receipt.remote_id == "101"


def test_429_beyond_the_limiter_is_transient_with_retry_after(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        api.fail("sendPhoto", 429, "Too Many Requests: retry after 7", retry_after=7)
        config = _config(api.base_url, flood_retries=0)
        channel = _channel(config, tmp_path, monkeypatch)
        with pytest.raises(TransientError) as caught:
            channel.deliver(_delivery(channel, config, card_artifacts))
    assert caught.value.retry_after == 7
    assert len(api.of("sendPhoto")) == 1


@pytest.mark.parametrize(("status", "description"), [
    (400, "Bad Request: chat not found"),
    (403, "Forbidden: bot is not a member of the channel chat"),
])
def test_400_and_403_are_permanent_and_not_retried(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        status: int, description: str) -> None:
    with FakeBotApi(TOKEN) as api:
        api.fail("sendPhoto", status, description)
        config = _config(api.base_url, flood_retries=3)
        channel = _channel(config, tmp_path, monkeypatch)
        with pytest.raises(PermanentError) as caught:
            channel.deliver(_delivery(channel, config, card_artifacts))
    assert len(api.of("sendPhoto")) == 1  # neither PTB nor the channel tried again
    assert description.split(": ", 1)[1].lower() in str(caught.value).lower()
    assert "@shifang_notices" in str(caught.value)


def test_after_the_photo_went_out_a_5xx_or_a_timeout_is_in_doubt(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        api.fail("getMe", 502, "Bad Gateway")
        api.fail("sendPhoto", 502, "Bad Gateway")
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        # getMe posts nothing: its 502 is simply retried later.
        with pytest.raises(TransientError):
            channel.deliver(_delivery(channel, config, card_artifacts))
        # A gateway's 502 after the upload says nothing about whether the post was made.
        with pytest.raises(InDoubtError, match="may have been posted"):
            channel.deliver(_delivery(channel, config, card_artifacts))
    assert len(api.of("sendPhoto")) == 1
    with FakeBotApi(TOKEN) as slow:
        config = _config(slow.base_url, timeout_s=0.3)
        channel = _channel(config, tmp_path, monkeypatch)
        channel.deliver(_delivery(channel, config, card_artifacts))  # getMe is done now
        slow.delay_s = 1.5
        # The photo may have been posted: resending could post it twice.
        with pytest.raises(InDoubtError) as caught:
            channel.deliver(_delivery(channel, config, card_artifacts))
    assert "timed out" in str(caught.value).lower()


def test_a_server_that_is_not_there_is_transient(card_artifacts: list[Artifact],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        base_url = api.base_url  # closed again at once: nothing listens on that port
    config = _config(base_url)
    channel = _channel(config, tmp_path, monkeypatch)
    with pytest.raises(TransientError):
        channel.deliver(_delivery(channel, config, card_artifacts))


@pytest.mark.parametrize("how", ["not-json", "no-result", "bad-message"])
def test_a_malformed_success_answer_is_in_doubt_never_retried(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        how: str) -> None:
    with FakeBotApi(TOKEN) as api:
        api.malform("sendPhoto", how)
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        with pytest.raises(InDoubtError) as caught:
            channel.deliver(_delivery(channel, config, card_artifacts))
    assert len(api.of("sendPhoto")) == 1  # posted once, and nothing tried it again
    assert TOKEN not in str(caught.value)


def test_one_bot_per_run_getme_once_and_close_ends_its_thread(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    before = {t for t in threading.enumerate() if t.name == "telegram-bot"}
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        receipts = [channel.deliver(_delivery(channel, config, card_artifacts))
                    for _ in range(3)]
        channel.close()
    assert [c.method for c in api.calls] == ["getMe"] + ["sendPhoto"] * 3
    assert [r.remote_id for r in receipts] == ["101", "102", "103"]
    after = {t for t in threading.enumerate() if t.name == "telegram-bot"}
    assert after <= before


def test_a_rejected_token_is_asked_once_per_run(card_artifacts: list[Artifact],
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch, token="1:wrong")
        for _ in range(3):
            with pytest.raises(PermanentError, match="token was rejected"):
                channel.deliver(_delivery(channel, config, card_artifacts))
    assert [c.method for c in api.calls] == ["getMe"]


def test_a_rejected_token_never_shows_up_in_the_error(card_artifacts: list[Artifact],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "9999:WRONG-token-that-must-stay-secret"
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch, token=wrong)
        with pytest.raises(PermanentError) as caught:
            channel.deliver(_delivery(channel, config, card_artifacts))
    message = str(caught.value)
    assert "token was rejected" in message
    assert wrong not in message
    # Not even kept in the exception chain, where a crash report would find it.
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert wrong not in caplog.text
    assert not api.of("sendPhoto")


def test_correction_replies_to_the_original_with_the_new_card(
        card_artifacts: list[Artifact], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, card_artifacts))
        second = channel.deliver(_delivery(channel, config, card_artifacts, event="correction",
                                           previous=first, revision=2))
    reply = api.of("sendPhoto")[1]
    assert reply.fields["caption"].startswith("【更正】")
    assert reply.json_field("reply_parameters")["message_id"] == int(first.remote_id or 0)
    assert reply.files["photo"].data.startswith(b"\x89PNG")
    assert second.remote_id == "102"
    assert second.details["reply_to"] == int(first.remote_id or 0)


def test_withdrawal_replaces_card_and_caption_of_every_earlier_post(
        card_artifacts: list[Artifact], withdrawn_artifacts: list[Artifact],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, card_artifacts))
        second = channel.deliver(_delivery(channel, config, card_artifacts, event="correction",
                                           previous=first, revision=2, earlier=(first,)))
        receipt = channel.deliver(_delivery(channel, config, withdrawn_artifacts,
                                            event="withdrawal", previous=second, revision=2,
                                            earlier=(first, second)))
        # Nothing was ever sent to a chat without a previous receipt: nothing to edit.
        skipped = channel.deliver(_delivery(channel, config, withdrawn_artifacts,
                                            event="withdrawal"))
    edits = api.of("editMessageMedia")
    assert [int(e.fields["message_id"]) for e in edits] == [101, 102]
    withdrawn_card = next(a for a in withdrawn_artifacts if a.path.endswith(".png")).data
    for edit in edits:
        media = edit.json_field("media")
        assert media["type"] == "photo"
        assert media["caption"].startswith("【已撤回】")
        assert "公示中" not in media["caption"]
        assert utf16_len(media["caption"]) <= 1024
        assert edit.files[media["media"].removeprefix("attach://")].data == withdrawn_card
    assert len(api.of("sendPhoto")) == 2  # the publication and the correction, no more
    assert receipt.remote_id == second.remote_id
    assert receipt.details["edited"] == [101, 102]
    assert skipped.remote_id is None and "skipped" in skipped.details


def test_correction_marks_each_earlier_post_first(card_artifacts: list[Artifact],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, card_artifacts))
        second = channel.deliver(_delivery(channel, config, card_artifacts, event="correction",
                                           previous=first, revision=2, earlier=(first,)))
        api.deleted.add(101)  # an admin deleted the original: the rest still goes out
        third = channel.deliver(_delivery(channel, config, card_artifacts, event="correction",
                                          previous=second, revision=3,
                                          earlier=(first, second)))
    assert [c.method for c in api.calls] == [
        "getMe", "sendPhoto", "editMessageCaption", "sendPhoto",
        "editMessageCaption", "editMessageCaption", "sendPhoto"]
    marks = api.of("editMessageCaption")
    assert marks[0].fields["caption"].startswith("【已更正，以第2版为准】")
    # The mark goes on the caption that was posted: the receipt kept it.
    assert marks[0].fields["caption"].endswith(first.details["caption"].rsplit("\n\n")[-1])
    assert marks[2].fields["message_id"] == "102"
    assert marks[2].fields["caption"].startswith("【已更正，以第3版为准】【更正】")
    assert third.details["gone"] == [101] and third.details["edited"] == [102]
    assert api.of("sendPhoto")[2].json_field("reply_parameters")["message_id"] == 102


def test_without_a_token_the_call_and_png_go_to_the_sink(card_artifacts: list[Artifact],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    config = _config(None)
    channel = _channel(config, tmp_path, monkeypatch, token=None)
    receipt = channel.deliver(_delivery(channel, config, card_artifacts))
    folder = tmp_path / "sink" / NOTICE
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["r1-publish-shifang_notices.json", "r1-publish-shifang_notices.png"]
    record = json.loads((folder / files[0]).read_text("utf-8"))
    assert record["method"] == "sendPhoto"
    assert record["photo"] == files[1]
    assert record["params"]["chat_id"] == "@shifang_notices"
    assert record["params"]["caption"] == _caption(card_artifacts)
    assert record["params"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "查看全文"
    png = next(a for a in card_artifacts if a.path.endswith("card-1080x1920.png"))
    assert (folder / files[1]).read_bytes() == png.data
    assert receipt.remote_id == f"sink:{NOTICE}/r1-publish-shifang_notices"


def test_the_token_is_never_written_to_the_sink(card_artifacts: list[Artifact],
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    # A token set but the env var for the sink run unset: prove the sink holds no secret
    # even when the environment has one under another name.
    monkeypatch.setenv("SOME_OTHER_TOKEN", TOKEN)
    config = _config(None)
    channel = _channel(config, tmp_path, monkeypatch, token=None)
    channel.deliver(_delivery(channel, config, card_artifacts, event="correction", revision=2))
    for path in (tmp_path / "sink").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()


def test_missing_card_is_a_permanent_error(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    config = _config(None)
    channel = _channel(config, tmp_path, monkeypatch, token=None)
    with pytest.raises(PermanentError, match="build the cards first"):
        channel.deliver(Delivery(NOTICE, 1, Target("telegram", "@x"), artifacts=[]))


def test_sink_correction_refers_to_the_sink_delivery(card_artifacts: list[Artifact],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    config = _config(None)
    channel = _channel(config, tmp_path, monkeypatch, token=None)
    first = channel.deliver(_delivery(channel, config, card_artifacts))
    channel.deliver(_delivery(channel, config, card_artifacts, event="correction",
                              previous=first, revision=2))
    record = json.loads((tmp_path / "sink" / NOTICE / "r2-correction-shifang_notices.json")
                        .read_text("utf-8"))
    mark, post = record["calls"]  # the earlier post is marked, then the correction posted
    assert (mark["method"], post["method"]) == ("editMessageCaption", "sendPhoto")
    assert mark["params"]["caption"].startswith("【已更正，以第2版为准】")
    assert post["params"]["caption"].startswith("【更正】")
    assert post["params"]["reply_parameters"]["message_id"] == first.remote_id
    # With a token now, there is no real message to reply to: say so, never guess.
    with FakeBotApi(TOKEN) as api:
        live_config = _config(api.base_url)
        live = _channel(live_config, tmp_path, monkeypatch)
        with pytest.raises(PermanentError, match="local sink"):
            live.deliver(_delivery(live, live_config, card_artifacts, event="correction",
                                   previous=first, revision=2))
    assert not api.calls


def test_deliver_works_when_called_from_async_code(card_artifacts: list[Artifact],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def from_a_running_loop(channel: TelegramChannel, delivery: Delivery) -> Receipt:
        return channel.deliver(delivery)

    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        # In a thread of its own: another test's fixture (Playwright) may own this thread's loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            receipt = pool.submit(asyncio.run, from_a_running_loop(
                channel, _delivery(channel, config, card_artifacts))).result()
    assert receipt.remote_id == "101"


@pytest.mark.parametrize("url", ["https://api.telegram.org", "https://api.telegram.org/bot/",
                                 "http://127.0.0.1:8081/bot?x=1", "ftp://example.org/bot",
                                 "https://user:pw@api.telegram.org/bot"])
def test_a_malformed_api_base_url_is_refused_when_the_config_loads(tmp_path: Path,
                                                                  url: str) -> None:
    from pipeline.config import load_config

    path = tmp_path / "noticecast.yaml"
    path.write_text(f"channels:\n  telegram:\n    api_base_url: {url}\n", "utf-8")
    # The telegram channel is out of service, with the located reason; the rest publishes.
    problems = load_config(path).broken_channels["telegram"]
    assert any("api_base_url" in str(p) and ":3:" in str(p) for p in problems), problems


@pytest.mark.parametrize("url", ["https://api.telegram.org/bot", "http://127.0.0.1:8081/bot",
                                 "https://tg.example.org/custom/bot{token}/x"])
def test_a_well_formed_api_base_url_is_kept(tmp_path: Path, url: str) -> None:
    from pipeline.config import load_config

    path = tmp_path / "noticecast.yaml"
    path.write_text(f"channels:\n  telegram:\n    api_base_url: '{url}'\n", "utf-8")
    assert load_config(path).channels.telegram.api_base_url == url


def test_a_refused_mark_does_not_hold_back_the_correction(card_artifacts: list[Artifact],
                                                          withdrawn_artifacts: list[Artifact],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, card_artifacts))
        api.fail("editMessageCaption", 400, "Bad Request: message caption is too long")
        second = channel.deliver(_delivery(channel, config, card_artifacts, event="correction",
                                           previous=first, revision=2, earlier=(first,)))
        api.fail("editMessageMedia", 400, "Bad Request: wrong file identifier")
        with pytest.raises(PermanentError, match=r"(?i)wrong file identifier"):
            channel.deliver(_delivery(channel, config, withdrawn_artifacts, event="withdrawal",
                                      previous=first, earlier=(first,)))
    assert second.remote_id == "102"  # the correction reached the chat all the same
    assert second.details["unmarked"][0]["message_id"] == 101
    assert "too long" in second.details["unmarked"][0]["reason"]
