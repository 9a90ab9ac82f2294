"""Projects: every notice with the same ``project.code`` (项目编号) is one project.

A project follows its notices from plan to acceptance (plan → 公示 → 更正 → 竣工公示). Its
current facts (name, place, funds, period, beneficiaries) are those of its latest notice that
is not withdrawn, so a correction changes them. Where it stands today is read from the
notices' dates alone:

* 未开工 (not started): before the implementation period;
* 实施中 (under way): within it;
* 已逾期 (overdue): after it, with no 竣工公示;
* 已竣工 (completed): a 竣工公示 is out and its publicity period is still running;
* 已验收 (accepted): the 竣工公示's publicity period ended (公示期满) — or a notice is tagged 验收.

A fund notice without a code is a project of its own (keyed by the notice id), so that the
statistics count it; only coded projects get a page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pipeline.errors import InputError, Location, Problem
from pipeline.model import Beneficiaries, DateRange, Kind, Notice, format_wan
from pipeline.yamlsrc import read as read_yaml

ACCEPTANCE_TAG = "验收"


class ProjectState(StrEnum):
    not_started = "not_started"
    under_way = "under_way"
    overdue = "overdue"
    completed = "completed"
    accepted = "accepted"
    unknown = "unknown"  # no implementation period given and no 竣工公示

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    ProjectState.not_started: "未开工",
    ProjectState.under_way: "实施中",
    ProjectState.overdue: "已逾期",
    ProjectState.completed: "已竣工",
    ProjectState.accepted: "已验收",
    ProjectState.unknown: "未定",
}


def order_key(notice: Notice) -> tuple[object, ...]:
    """Notices of a project in the order they were published (then by id, for ties)."""
    return (notice.published, notice.id)


@dataclass(frozen=True)
class ProjectFile:
    """One project (项目明细表): its key, its notices in order and what they say together."""

    key: str  # the project code, or the notice id for a notice without a code
    code: str | None
    notices: tuple[Notice, ...]

    @property
    def current(self) -> Notice:
        """The latest notice that is not withdrawn (the latest one if all are)."""
        live = [n for n in self.notices if not n.is_withdrawn]
        return (live or list(self.notices))[-1]

    @property
    def name(self) -> str:
        project = self.current.project
        return project.name if project else self.current.title

    @property
    def area(self) -> str:
        return self.current.area

    @property
    def department(self) -> str:
        """The department that answers for the project: the issuer of its first notice."""
        return self.notices[0].issuer

    @property
    def year(self) -> int:
        return self.notices[0].published.year

    @property
    def funds_by_source(self) -> list[tuple[str, Decimal]]:
        """The current fund mix: yuan per source (exact), a source named twice summed."""
        mix: dict[str, Decimal] = {}
        project = self.current.project
        for fund in project.funds if project else ():
            mix[fund.source] = mix.get(fund.source, Decimal(0)) + fund.amount
        return list(mix.items())

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.funds_by_source), Decimal(0))

    @property
    def total_display(self) -> str:
        return format_wan(self.total)

    @property
    def period(self) -> DateRange | None:
        for notice in reversed(self.live_notices):
            if notice.project and notice.project.period:
                return notice.project.period
        return None

    @property
    def beneficiaries(self) -> Beneficiaries | None:
        for notice in reversed(self.live_notices):
            if notice.project and notice.project.beneficiaries:
                return notice.project.beneficiaries
        return None

    @property
    def live_notices(self) -> list[Notice]:
        return [n for n in self.notices if not n.is_withdrawn]

    @property
    def withdrawn(self) -> bool:
        """Every notice of the project was withdrawn."""
        return not self.live_notices

    @property
    def completion(self) -> Notice | None:
        """The first 竣工公示 that is not withdrawn."""
        return next((n for n in self.live_notices if n.kind is Kind.completion_notice), None)

    def state(self, today: date) -> ProjectState:
        completion = self.completion
        if any(ACCEPTANCE_TAG in n.tags for n in self.live_notices):
            return ProjectState.accepted
        if completion is not None:
            ended = completion.publicity is None or today > completion.publicity.end
            return ProjectState.accepted if ended else ProjectState.completed
        period = self.period
        if period is None:
            return ProjectState.unknown
        if today < period.start:
            return ProjectState.not_started
        if today <= period.end:
            return ProjectState.under_way
        return ProjectState.overdue

    def overdue_since(self, today: date) -> date | None:
        """The last day of the implementation period, when the project is overdue."""
        if self.state(today) is ProjectState.overdue and self.period is not None:
            return self.period.end
        return None


def group_projects(notices: Iterable[Notice]) -> list[ProjectFile]:
    """The projects among ``notices`` (fund notices only), coded ones first by code."""
    groups: dict[tuple[bool, str], list[Notice]] = {}
    for notice in notices:
        if not notice.kind.is_fund_notice or notice.project is None:
            continue
        code = notice.project.code
        groups.setdefault((code is None, code or notice.id), []).append(notice)
    projects = []
    for (uncoded, key), members in sorted(groups.items()):
        members.sort(key=order_key)
        projects.append(ProjectFile(key, None if uncoded else key, tuple(members)))
    return projects


def coded(projects: Iterable[ProjectFile]) -> list[ProjectFile]:
    return [p for p in projects if p.code is not None]


# -- what `check` says about projects -----------------------------------------------------

def project_warnings(notices: Sequence[Notice], paths: Mapping[str, Path],
                     display: Mapping[str, str] | None = None) -> list[Problem]:
    """Warnings for `check`: a 竣工公示 with no earlier notice of its project, and amounts
    that change from one notice of a project to the next without a ``correction:``."""
    problems: list[Problem] = []
    for project in coded(group_projects(notices)):
        previous: Notice | None = None
        for index, notice in enumerate(project.notices):
            if notice.kind is Kind.completion_notice and index == 0:
                problems.append(_warning(
                    notice, paths, display, ("project", "code"),
                    f"竣工公示 of project {project.code} has no earlier notice with that code "
                    "(its plan or 项目公示); check project.code, or add the earlier notices"))
            if (previous is not None and notice.total_funds != previous.total_funds
                    and notice.correction is None and not notice.is_withdrawn
                    and not previous.is_withdrawn):
                assert notice.total_funds is not None and previous.total_funds is not None
                problems.append(_warning(
                    notice, paths, display, ("project", "funds"),
                    f"project {project.code}: funds total {format_wan(notice.total_funds)} "
                    f"here but {format_wan(previous.total_funds)} in {previous.id}, and this "
                    "notice has no 'correction:'; fix the amount or add a correction note "
                    "saying what changed"))
            previous = notice
    return problems


def _warning(notice: Notice, paths: Mapping[str, Path], display: Mapping[str, str] | None,
             loc: tuple[str, ...], message: str) -> Problem:
    path = paths.get(notice.id)
    shown = (display or {}).get(notice.id) or (str(path) if path else notice.id)
    where = Location(shown)
    if path is not None:
        with contextlib.suppress(InputError):  # unreadable now: the file's name will do
            where = read_yaml(path, display=shown).locate(loc)
    return Problem(where, message, severity="warning")
