"""The Telegram channel against a real (fake) Bot API server on 127.0.0.1.

The bot is python-telegram-bot's ExtBot with its AIORateLimiter, pointed at the fake server
through ``channels.telegram.api_base_url``; nothing is mocked on the client side.
"""

from __future__ import annotations

import io
import json
import logging
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


def _config(base_url: str | None, *, chat: str = "@shifang_notices", timeout_s: float = 10.0,
            flood_retries: int = 1) -> Config:
    return Config(root=REPO, channels=Channels(telegram=TelegramSettings(
        chat=chat, token_env=TOKEN_ENV, api_base_url=base_url, timeout_s=timeout_s,
        flood_retries=flood_retries)))


def _channel(config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             token: str | None = TOKEN) -> TelegramChannel:
    if token is None:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    else:
        monkeypatch.setenv(TOKEN_ENV, token)
    return TelegramChannel.from_config(config, tmp_path / "sink")


def _delivery(channel: TelegramChannel, config: Config, artifacts: list[Artifact],
              event: str = "publish", previous: Receipt | None = None,
              revision: int = 1) -> Delivery:
    return Delivery(notice_id=NOTICE, revision=revision, target=channel.targets(config)[0],
                    artifacts=artifacts, event=event, previous=previous)  # type: ignore[arg-type]


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


def test_server_error_is_transient_and_a_timeout_in_doubt(card_artifacts: list[Artifact],
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        api.fail("sendPhoto", 502, "Bad Gateway")
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        with pytest.raises(TransientError):
            channel.deliver(_delivery(channel, config, card_artifacts))
    with FakeBotApi(TOKEN, delay_s=1.5) as slow:
        config = _config(slow.base_url, timeout_s=0.3)
        channel = _channel(config, tmp_path, monkeypatch)
        # The photo may have been posted: resending could post it twice.
        with pytest.raises(InDoubtError) as caught:
            channel.deliver(_delivery(channel, config, card_artifacts))
    assert "timed out" in str(caught.value)


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


def test_withdrawal_edits_the_original_caption(card_artifacts: list[Artifact],
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as api:
        config = _config(api.base_url)
        channel = _channel(config, tmp_path, monkeypatch)
        first = channel.deliver(_delivery(channel, config, card_artifacts))
        receipt = channel.deliver(_delivery(channel, config, card_artifacts, event="withdrawal",
                                            previous=first))
        # Nothing was ever sent to a chat without a previous receipt: nothing to edit.
        skipped = channel.deliver(_delivery(channel, config, card_artifacts,
                                            event="withdrawal"))
    edit = api.of("editMessageCaption")
    assert len(edit) == 1
    assert edit[0].fields["message_id"] == first.remote_id
    assert edit[0].fields["caption"].startswith("【已撤回】")
    assert utf16_len(edit[0].fields["caption"]) <= 1024
    assert not edit[0].files
    assert len(api.of("sendPhoto")) == 1
    assert receipt.remote_id == first.remote_id
    assert skipped.remote_id is None and "skipped" in skipped.details


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
    assert record["params"]["caption"].startswith("【更正】")
    assert record["params"]["reply_parameters"]["message_id"] == first.remote_id
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
