"""End to end: the demo project published to all five channels' local sinks, then a correction,
a withdrawal and the end of a publicity period, each through the ledger."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from pipeline.ledger import DELIVERED, Ledger
from pipeline.project import Project
from pipeline.publish import PublishOptions, PublishReport, ledger_path, moment, publish

CHANNELS = ("site", "telegram", "wechat", "newspaper", "ticker", "sms", "board")
SECRETS = ("NOTICECAST_TELEGRAM_TOKEN", "NOTICECAST_TICKER_TOKEN", "NOTICECAST_SMPP_PASSWORD",
           "NOTICECAST_SMS_TOKEN", "NOTICECAST_WECHAT_SECRET")
missing = [n for n in CHANNELS if importlib.util.find_spec(f"channels.{n}") is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing), reason=f"channel modules not there yet: {missing}"),
]


def _run(root: Path, day: date) -> PublishReport:
    project = Project.open(root)
    report = publish(project, PublishOptions(now=moment(project.config, today=day)))
    assert not report.problems, [str(p) for p in report.problems]
    for name, tally in report.tallies.items():
        assert tally.failed == 0 and tally.retried == 0 and tally.in_doubt == 0, (name, tally)
    return report


def _edit(root: Path, notice_id: str, **changes: object) -> None:
    path = next((root / "content").rglob(f"{notice_id}.yaml"))
    data = yaml.safe_load(path.read_text("utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def _delivered(root: Path) -> dict[tuple[str, int, str, str], set[str]]:
    """(notice, revision, event, channel) -> the targets that have it."""
    found: dict[tuple[str, int, str, str], set[str]] = {}
    with Ledger(ledger_path(Project.open(root))) as ledger:
        for row in ledger.current(states=[DELIVERED]):
            key = row.key
            found.setdefault((key.notice_id, key.revision, key.event, key.channel),
                             set()).add(key.target)
    return found


def test_demo_publishes_everywhere_then_corrects_withdraws_and_expires(
        demo_project: Path, demo_today: date, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    first = _run(demo_project, demo_today)
    for name in CHANNELS:
        assert first.tallies[name].delivered > 0, name
    sinks = demo_project / "out" / "channels"
    assert all(any((sinks / name).rglob("*")) for name in CHANNELS)
    assert _run(demo_project, demo_today).plan.batches == []  # a re-run sends nothing

    before = _delivered(demo_project)
    rev1 = {k[3]: v for k, v in before.items() if k[:3] == ("sf-2018-0012", 1, "publish")}
    assert set(rev1) == set(CHANNELS)

    # A correction (revision 2) reaches, per channel, exactly the targets that had revision 1.
    _edit(demo_project, "sf-2018-0012", revision=2,
          correction={"note": "更正了项目负责人的电话。"})
    _run(demo_project, date(2018, 7, 9))
    after = _delivered(demo_project)
    for name in CHANNELS:
        assert after.get(("sf-2018-0012", 2, "correction", name)) == rev1[name], name

    # A withdrawal goes to the earlier recipients of every channel.
    _edit(demo_project, "sf-2018-0012", status="withdrawn",
          withdrawal={"reason": "项目调整，本公示撤回。", "on": date(2018, 7, 10)})
    _run(demo_project, date(2018, 7, 10))
    after = _delivered(demo_project)
    for name in CHANNELS:
        assert after.get(("sf-2018-0012", 2, "withdrawal", name)) == rev1[name], name

    # The end of a publicity period: the ticker and the site are delivered again.
    ending = _ending_notice(demo_project, demo_today, still_running=date(2018, 7, 10))
    if ending is None:
        pytest.skip("no demo notice has a publicity period running on the demo day")
    notice_id, end = ending
    _run(demo_project, end)
    assert not any(k[:3] == (notice_id, 1, "expiry") for k in _delivered(demo_project))
    day_after = date.fromordinal(end.toordinal() + 1)
    report = _run(demo_project, day_after)
    expired = {k[3] for k in _delivered(demo_project) if k[0] == notice_id and k[2] == "expiry"}
    assert expired == {"site", "ticker"}, report.plan.items


def _ending_notice(root: Path, today: date, still_running: date) -> tuple[str, date] | None:
    """An approved revision-1 notice for site and ticker, published by ``today``, whose
    period runs from ``today`` to at least ``still_running``."""
    from pipeline.load import load_notices

    project = Project.open(root)
    loaded = load_notices((project.content_dir,), project.config, project.root)
    candidates = []
    for notice in loaded.notices:
        channels = notice.channels or project.config.channels_for(notice.kind)
        if (notice.publicity and notice.status.value == "approved" and notice.revision == 1
                and notice.id != "sf-2018-0012" and {"site", "ticker"} <= set(channels)
                and notice.publicity.start <= today
                and notice.publicity.end >= still_running
                and notice.published <= datetime.combine(today, datetime.min.time(),
                                                         tzinfo=project.config.zone)):
            candidates.append((notice.publicity.end, notice.id))
    if not candidates:
        return None
    end, notice_id = min(candidates)
    return notice_id, end
