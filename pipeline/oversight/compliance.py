"""The compliance report (什邡's monthly 通报): did each notice go out, on time, for long enough?

For a period (a month, or ``--from``/``--to``), every fund notice whose publicity period starts
in it (a notice without one: whose publication falls in it) is *due*. For each:

* the days it was public **on the site**: from the first site delivery that arrived (or the
  publicity start, if it arrived earlier) to the end of the publicity period, as of the report's
  instant; it was **on time** if the site had it by the end of the publicity start day;
* the days it hung **on each board** that carries its area (the recorded postings: posted to
  taken down, or to the report's instant); a board with no posting is *never posted*;
* whether it **met** ``rules.min_publicity_days`` (for the levels ``rules.min_publicity_levels``
  names): *met*, *short* (a period that is over, with fewer days), or *running* (not over yet);
* the channels it reached and when; the deliveries that failed or are in doubt, still open.

Per town and per department: notices due, on time, late, short of the minimum, and projects past
their implementation period without a 竣工公示; ranked by problems, worst first, as a 通报 lists
them. Pure: notices, config and the ledger's facts (``DeliverySummary``) in, a report out.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import Config
from pipeline.errors import InputError, Location, Problem
from pipeline.model import Notice, Status, format_date
from pipeline.oversight.deliveries import (
    Carried,
    DeliverySummary,
    channel_label,
    open_problems,
)
from pipeline.oversight.projects import ProjectFile, ProjectState, group_projects
from pipeline.oversight.tables import Table

MET, SHORT, RUNNING, NOT_REQUIRED = "met", "short", "running", "not-required"
VERDICT_LABELS = {MET: "达标", SHORT: "不足", RUNNING: "公示中", NOT_REQUIRED: "不要求"}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def month(cls, text: str) -> Period:
        try:
            year, month = (int(p) for p in text.split("-"))
            last = calendar.monthrange(year, month)[1]
            return cls(date(year, month, 1), date(year, month, last))
        except (ValueError, calendar.IllegalMonthError):
            raise InputError(Problem(Location("--month"), f"{text!r} is not a month; write "
                                     "it as YYYY-MM, e.g. 2018-07")) from None

    @property
    def label(self) -> str:
        last = calendar.monthrange(self.start.year, self.start.month)[1]
        if self.start.day == 1 and self.end == self.start.replace(day=last):
            return f"{self.start.year}年{self.start.month}月"
        return f"{format_date(self.start)}至{format_date(self.end)}"

    @property
    def slug(self) -> str:
        if self.label.endswith("月") and "至" not in self.label:
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class BoardDays:
    board: str  # the board's area
    name: str
    posted: datetime | None
    taken_down: datetime | None
    days: int

    @property
    def never_posted(self) -> bool:
        return self.posted is None


@dataclass
class NoticeCompliance:
    notice: Notice
    town: str  # 什邡市师古镇, or 什邡市（县本级）
    department: str
    required: int | None  # the minimum days, where the rules ask for one
    site_arrived: datetime | None
    site_days: int
    boards: list[BoardDays]
    channels: list[tuple[str, datetime]]  # (label, first arrival)
    problems: list[Carried]
    on_time: bool
    verdict: str

    @property
    def late(self) -> bool:
        return not self.on_time

    @property
    def short(self) -> bool:
        return self.verdict == SHORT

    @property
    def missing_boards(self) -> list[BoardDays]:
        return [b for b in self.boards if b.never_posted]


@dataclass
class Tally:
    name: str
    due: int = 0
    on_time: int = 0
    late: int = 0
    short: int = 0
    never_posted: int = 0
    open_problems: int = 0
    no_completion: int = 0

    @property
    def problems(self) -> int:
        return self.late + self.short + self.never_posted + self.no_completion

    @property
    def rate(self) -> str:
        if not self.due:
            return "—"
        good = self.due - min(self.due, self.late + self.short)
        return f"{good * 100 // self.due}%"


@dataclass
class ComplianceReport:
    period: Period
    as_of: datetime
    min_days: int
    notices: list[NoticeCompliance]
    overdue: list[ProjectFile]  # past the implementation period, no 竣工公示
    towns: list[Tally] = field(default_factory=list)
    departments: list[Tally] = field(default_factory=list)


def town_of(area: str) -> str:
    parts = area.split("/")
    return "".join(parts[:2]) if len(parts) >= 2 else f"{parts[0]}（县本级）"


def _days(first: date, last: date) -> int:
    return max(0, (last - first).days + 1)


def _required(notice: Notice, config: Config) -> int | None:
    if notice.publicity is None or notice.level not in config.rules.min_publicity_levels:
        return None
    return config.rules.min_publicity_days


def _channels_of(notice: Notice, config: Config) -> tuple[str, ...]:
    return notice.channels if notice.channels is not None else config.channels_for(notice.kind)


def _boards_for(notice: Notice, config: Config) -> list[tuple[str, str]]:
    """(area, name) of each board that carries the notice: the board of its own area."""
    if "board" not in _channels_of(notice, config):
        return []
    return [(b.area, b.name or f"{b.area.replace('/', '')}公开栏")
            for b in config.channels.board.boards if b.area == notice.area]


def assess(notice: Notice, config: Config, summary: DeliverySummary, as_of: datetime
           ) -> NoticeCompliance:
    zone = config.zone
    today = as_of.astimezone(zone).date()
    carried = summary.of(notice.id)
    site = [c.arrived for c in carried if c.channel == "site" and c.arrived is not None]
    site_arrived = min(site) if site else None
    publicity = notice.publicity
    first_day = publicity.start if publicity else notice.published.astimezone(zone).date()
    last_day = publicity.end if publicity else first_day
    window_over = today > last_day
    if site_arrived is not None:
        arrived_day = site_arrived.astimezone(zone).date()
        site_days = _days(max(arrived_day, first_day), min(last_day, today))
        on_time = arrived_day <= first_day
    else:
        site_days, on_time = 0, today < first_day  # not due yet is not late
    boards = []
    for area, name in _boards_for(notice, config):
        sheets = [p for p in summary.postings_of(notice.id) if p.board == area]
        if not sheets:
            boards.append(BoardDays(area, name, None, None, 0))
            continue
        posted = min(p.posted for p in sheets)
        down = [p.taken_down for p in sheets]
        taken_down = None if any(d is None for d in down) else max(d for d in down if d)
        end = (taken_down.astimezone(zone).date() if taken_down else today)
        boards.append(BoardDays(area, name, posted, taken_down,
                                _days(posted.astimezone(zone).date(), end)))
    required = _required(notice, config)
    verdict = _verdict(required, site_days, boards, window_over, publicity is not None)
    firsts: dict[str, datetime] = {}
    for item in carried:
        if item.arrived is not None:
            label = channel_label(item.channel)
            firsts[label] = min(firsts.get(label, item.arrived), item.arrived)
    channels = sorted(firsts.items(), key=lambda pair: pair[1])
    return NoticeCompliance(notice, town_of(notice.area), notice.issuer, required,
                            site_arrived, site_days, boards, channels,
                            open_problems(summary, notice.id), on_time, verdict)


def _verdict(required: int | None, site_days: int, boards: Sequence[BoardDays],
             window_over: bool, has_period: bool) -> str:
    if required is None or not has_period:
        return NOT_REQUIRED
    board_short = any(b.never_posted and window_over for b in boards) or any(
        b.taken_down is not None and b.days < required for b in boards)
    site_short = window_over and site_days < required
    if board_short or site_short:
        return SHORT
    boards_done = all(b.days >= required for b in boards)
    if window_over and boards_done:
        return MET
    return RUNNING


def is_due(notice: Notice, period: Period, zone: ZoneInfo) -> bool:
    if notice.status is Status.draft or not notice.kind.is_fund_notice:
        return False
    day = notice.publicity.start if notice.publicity else notice.published.astimezone(
        zone).date()
    return day in period


def build_report(notices: Iterable[Notice], config: Config, summary: DeliverySummary,
                 period: Period, as_of: datetime) -> ComplianceReport:
    zone = config.zone
    everything = list(notices)
    due = sorted((n for n in everything if is_due(n, period, zone)),
                 key=lambda n: (town_of(n.area), n.published, n.id))
    assessed = [assess(n, config, summary, as_of) for n in due]
    # Projects whose implementation period ended by the end of the report's period (and
    # before its instant) with no 竣工公示 among the notices published by then.
    cutoff = min(period.end, as_of.astimezone(zone).date())
    public = [n for n in everything if n.status is not Status.draft
              and n.published.astimezone(zone).date() <= cutoff]
    overdue = [p for p in group_projects(public)
               if not p.withdrawn and p.state(cutoff) is ProjectState.overdue]
    report = ComplianceReport(period, as_of, config.rules.min_publicity_days, assessed, overdue)
    report.towns = _tallies(assessed, overdue, lambda item: item.town,
                            lambda p: town_of(p.area))
    report.departments = _tallies(assessed, overdue, lambda item: item.department,
                                  lambda p: p.department)
    return report


def _tallies(assessed: Sequence[NoticeCompliance], overdue: Sequence[ProjectFile],
             key_of_notice: object, key_of_project: object) -> list[Tally]:
    tallies: dict[str, Tally] = {}
    for item in assessed:
        name = key_of_notice(item)  # type: ignore[operator]
        tally = tallies.setdefault(name, Tally(name))
        tally.due += 1
        tally.on_time += item.on_time
        tally.late += item.late
        tally.short += item.short
        tally.never_posted += bool(item.missing_boards)
        tally.open_problems += len(item.problems)
    for project in overdue:
        name = key_of_project(project)  # type: ignore[operator]
        tallies.setdefault(name, Tally(name)).no_completion += 1
    return sorted(tallies.values(), key=lambda t: (-t.problems, -t.open_problems, t.name))


# -- as tables (XLSX) and display values (HTML, PDF) ---------------------------------------------

def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M}"


def notice_table(report: ComplianceReport, zone: ZoneInfo) -> Table:
    rows = []
    for item in report.notices:
        n = item.notice
        boards = "；".join(
            f"{b.name} 未张贴" if b.never_posted else f"{b.name} {b.days}天"
            + ("" if b.taken_down else "（在栏）") for b in item.boards)
        rows.append((
            n.id, n.title, item.town, item.department,
            n.publicity.display if n.publicity else "",
            _when(item.site_arrived, zone) or "未送达", item.site_days, boards or "—",
            item.required or "", VERDICT_LABELS[item.verdict], "是" if item.on_time else "否",
            "；".join(f"{label} {_when(at, zone)}" for label, at in item.channels),
            "；".join(f"{channel_label(c.channel)} {c.target_label or c.target}：{c.state}"
                     for c in item.problems)))
    headers = ("编号", "标题", "乡镇", "发布单位", "公示期", "网站首次送达", "网站公示天数",
               "公示栏", "要求天数", "公示天数", "按时", "已送达渠道", "未解决的失败或存疑")
    return Table("逐条情况", headers, tuple(rows))


def tally_table(title: str, first: str, tallies: Sequence[Tally]) -> Table:
    rows = tuple((rank, t.name, t.due, t.on_time, t.late, t.short, t.never_posted,
                  t.no_completion, t.open_problems, t.rate)
                 for rank, t in enumerate(tallies, start=1))
    headers = ("排名", first, "应公示", "按时", "迟发", "不足10天", "公示栏未张贴",
               "逾期未竣工公示", "送达失败或存疑", "达标率")
    return Table(title, headers, rows)


def overdue_table(report: ComplianceReport) -> Table:
    rows = tuple((p.code or p.key, p.name, town_of(p.area), p.department,
                  p.period.display if p.period else "") for p in report.overdue)
    return Table("逾期未竣工公示", ("项目编号", "项目名称", "乡镇", "主管部门", "实施期限"), rows)


def all_tables(report: ComplianceReport, zone: ZoneInfo) -> list[Table]:
    return [tally_table("按乡镇排名", "乡镇", report.towns),
            tally_table("按部门排名", "部门", report.departments),
            notice_table(report, zone), overdue_table(report)]


def report_file_stem(period: Period) -> str:
    return f"compliance-{period.slug}"


def end_instant(period: Period, zone: ZoneInfo) -> datetime:
    """The last moment of the period, in the office's zone."""
    return datetime.combine(period.end + timedelta(days=1), datetime.min.time(),
                            tzinfo=zone) - timedelta(seconds=1)
