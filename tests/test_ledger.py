"""The delivery ledger: schema, append-only history, claims, crash recovery, resolution."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import LedgerError
from pipeline.ledger import (
    DELIVERED,
    IN_DOUBT,
    PENDING,
    RESOLVED,
    RETRY,
    SCHEMA_VERSION,
    SENDING,
    Key,
    Ledger,
    Outcome,
    open_readonly,
)

NOW = datetime(2018, 7, 8, 12, 0, tzinfo=UTC)
SMS = Key("sf-2018-0012", 1, "publish", "sms", "sub-abc")
SITE = Key("sf-2018-0012", 1, "publish", "site", "web-root")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


def test_new_ledger_is_wal_and_at_the_latest_schema(ledger: Ledger) -> None:
    assert ledger.version == SCHEMA_VERSION
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_does_not_migrate_twice(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with Ledger(path) as again:
        assert again.version == SCHEMA_VERSION


def test_a_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def test_claim_writes_intent_then_record_appends_outcome(ledger: Ledger) -> None:
    claimed = ledger.claim([(SMS, "138****0001", "at-most-once")], as_of=NOW, actor="t")
    assert claimed == {SMS: 1}
    assert ledger.get(SMS).state == SENDING
    ledger.record([(SMS, Outcome(DELIVERED, attempt=1, receipt={"remote_id": "m1"}))],
                  as_of=NOW, actor="t")
    row = ledger.get(SMS)
    assert (row.state, row.attempt, row.receipt) == (DELIVERED, 1, {"remote_id": "m1"})
    assert [e.state for e in ledger.history(key=SMS)] == [PENDING, SENDING, DELIVERED]


def test_a_delivered_key_is_never_claimed_again(ledger: Ledger) -> None:
    ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="t")
    ledger.record([(SMS, Outcome(DELIVERED, attempt=1))], as_of=NOW, actor="t")
    assert ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="t") == {}


def test_a_key_being_sent_by_another_run_is_not_claimed(ledger: Ledger) -> None:
    assert ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="a") == {SMS: 1}
    assert ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="b") == {}


def test_a_retry_is_claimed_only_once_its_time_has_come(ledger: Ledger) -> None:
    ledger.claim([(SITE, "", "idempotent")], as_of=NOW, actor="t")
    later = NOW + timedelta(minutes=5)
    ledger.record([(SITE, Outcome(RETRY, attempt=1, next_at=later, reason="503"))],
                  as_of=NOW, actor="t")
    assert ledger.claim([(SITE, "", "idempotent")], as_of=NOW, actor="t") == {}
    assert ledger.claim([(SITE, "", "idempotent")], as_of=later, actor="t") == {SITE: 2}


def test_history_cannot_be_rewritten(ledger: Ledger) -> None:
    ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="t")
    for statement in ("UPDATE events SET state = 'delivered'", "DELETE FROM events",
                      "UPDATE deliveries SET target = 'x'", "DELETE FROM deliveries"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            ledger.db.execute(statement)


def test_the_delivery_key_is_unique(ledger: Ledger) -> None:
    ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="t")
    with pytest.raises(sqlite3.IntegrityError):
        ledger.db.execute(
            "INSERT INTO deliveries (notice_id, revision, event, channel, target, mode, "
            "created_at) VALUES (?, ?, ?, ?, ?, 'at-most-once', 'x')",
            (SMS.notice_id, SMS.revision, SMS.event, SMS.channel, SMS.target))


def test_recovery_redelivers_idempotent_and_doubts_at_most_once(ledger: Ledger) -> None:
    ledger.claim([(SMS, "", "at-most-once"), (SITE, "", "idempotent")], as_of=NOW, actor="t")
    recovered = ledger.recover(as_of=NOW, actor="next run")
    assert {r.key for r in recovered} == {SMS, SITE}
    assert ledger.get(SMS).state == IN_DOUBT
    assert ledger.get(SITE).state == PENDING
    assert ledger.claim([(SMS, "", "at-most-once")], as_of=NOW, actor="t") == {}


def test_resolve_in_doubt(ledger: Ledger) -> None:
    other = Key("sf-2018-0012", 1, "publish", "sms", "sub-def")
    ledger.claim([(SMS, "", "at-most-once"), (other, "", "at-most-once")], as_of=NOW,
                 actor="t")
    ledger.recover(as_of=NOW, actor="t")
    assert ledger.resolve(SMS, delivered=True, as_of=NOW, actor="op").state == RESOLVED
    assert ledger.resolve(other, delivered=False, as_of=NOW, actor="op").state == PENDING
    assert ledger.claim([(SMS, "", "at-most-once"), (other, "", "at-most-once")], as_of=NOW,
                        actor="t") == {other: 1}
    with pytest.raises(LedgerError, match="only in-doubt or failed"):
        ledger.resolve(other, delivered=True, as_of=NOW, actor="op")


def test_key_round_trips_through_text() -> None:
    key = Key("sf-2018-0012", 2, "correction", "telegram", "@chat:with:colons")
    assert Key.parse(str(key)) == key
    with pytest.raises(LedgerError, match="not a delivery key"):
        Key.parse("sf-2018-0012/sms")


def test_readonly_view_sees_rows_and_cannot_write(ledger: Ledger, tmp_path: Path) -> None:
    ledger.claim([(SMS, "138****0001", "at-most-once")], as_of=NOW, actor="t")
    reader = open_readonly(tmp_path / "ledger.sqlite")
    assert reader is not None
    with reader:
        assert [r.key for r in reader.current()] == [SMS]
        with pytest.raises(LedgerError, match="cannot be written"):
            reader.db.execute("INSERT INTO events (delivery_id, state, at, as_of, actor) "
                              "VALUES (1, 'delivered', 'x', 'x', 'x')")
    assert open_readonly(tmp_path / "absent.sqlite") is None


def test_a_ledger_of_an_older_schema_is_migrated_with_its_history(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:  # what version 1 of the schema made
        from pipeline.ledger import MIGRATIONS, _statements

        for statement in _statements(MIGRATIONS[0]):
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO deliveries (notice_id, revision, event, channel, target, mode, "
                   "created_at) VALUES ('n', 1, 'publish', 'sms', 't', 'at-most-once', 'x')")
        db.execute("INSERT INTO events (delivery_id, state, at, as_of, actor) VALUES "
                   "(1, 'delivered', '2018-07-08T00:00:00+00:00', "
                   "'2018-07-08T00:00:00+00:00', 'old')")
    reader = open_readonly(path)
    assert reader is not None
    with reader:
        assert reader.version == SCHEMA_VERSION
        assert [(str(r.key), r.state) for r in reader.current()] == [
            ("n:1:publish:sms:t", DELIVERED)]
