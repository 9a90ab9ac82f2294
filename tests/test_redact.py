"""pipeline.redact: the secrets a config names and phone numbers, masked in any text."""

from __future__ import annotations

import logging

import pytest

from pipeline.config import Config
from pipeline.redact import env_names, format_exception, install_log_redaction, redact, watch


def test_every_env_setting_of_the_config_is_a_secret_name() -> None:
    names = env_names(Config())
    assert {"NOTICECAST_TELEGRAM_TOKEN", "NOTICECAST_TICKER_TOKEN"} <= names
    config = Config(channels={"newspaper": {"smtp_password_env": "PAPER_PW"},
                              "ticker": {"endpoints": [{"url": "http://127.0.0.1:9/x",
                                                        "token_env": "SCREEN_TOKEN"}]}})
    assert {"PAPER_PW", "SCREEN_TOKEN"} <= env_names(config)


def test_secrets_are_masked_in_every_form_a_server_echoes(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("NC_REDACT_TEST_TOKEN", "ab:cd/ef+gh")
    watch(Config(channels={"ticker": {"token_env": "NC_REDACT_TEST_TOKEN"}}))
    echoed = "401: got 'Bearer ab:cd/ef+gh' (ab%3Acd%2Fef%2Bgh in the query)"
    assert redact(echoed) == "401: got 'Bearer <secret>' (<secret> in the query)"
    monkeypatch.setenv("NC_REDACT_TEST_TOKEN", "xy")  # too short to mask without harm
    assert redact("xyz 1xy2") == "xyz 1xy2"


@pytest.mark.parametrize(("text", "shown"), [
    ("to=13812345678&x=1", "to=138****5678&x=1"),
    ("+86 138-1234-5678", "138****5678"),
    ("008613812345678", "138****5678"),
    ('{"phone": "8613812345678"}', '{"phone": "138****5678"}'),
    ("+44 20 7946 0958", "+442****0958"),
    # Not phone numbers: left alone.
    ("message id 20181207123456789", "message id 20181207123456789"),
    ("2018-07-08T09:30:00+08:00", "2018-07-08T09:30:00+08:00"),
    ("office 0838-8201234", "office 0838-8201234"),
])
def test_phone_numbers_keep_three_and_four_digits(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_log_records_and_tracebacks_are_masked(monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTICECAST_TICKER_TOKEN", "tok-123456")
    install_log_redaction()
    install_log_redaction()  # idempotent
    logger = logging.getLogger("noticecast.test_redact")
    try:
        raise RuntimeError("gateway said: Bearer tok-123456 for 13812345678")
    except RuntimeError as exc:
        logger.error("sending to %s failed", "13812345678", exc_info=True)
        crash = format_exception(exc)
    assert "tok-123456" not in caplog.text and "13812345678" not in caplog.text
    assert "138****5678" in caplog.text and "<secret>" in caplog.text
    assert "tok-123456" not in crash and "RuntimeError" in crash
