"""Statistics (城口's 三账 by level): projects, notices, money by source, households.

Everything is counted per project (``projects.group_projects``), once, where the project is:
its year (of its first notice), its department (the issuer of its first notice) and its area
(of its current notice). A project's notices are the fund notices in it. Money is exact:
yuan in Decimal, shown in 万元.

The area table is a tree that adds up: a town's row is the sum of its villages' rows and of
its own projects (the row 镇本级, shown when there are any); a county's row likewise (县本级);
the counties add up to the total, and so do the years and the departments. A project whose
every notice was withdrawn is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.oversight.projects import ProjectFile
from pipeline.oversight.tables import Table, wan

OWN_LEVEL = {1: "（县本级）", 2: "（镇本级）"}


@dataclass
class Tally:
    projects: int = 0
    notices: int = 0
    funds: dict[str, Decimal] = field(default_factory=dict)  # yuan per source
    households: int = 0
    poor_households: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.funds.values(), Decimal(0))

    def add_project(self, project: ProjectFile) -> None:
        self.projects += 1
        self.notices += len(project.notices)
        for source, amount in project.funds_by_source:
            self.funds[source] = self.funds.get(source, Decimal(0)) + amount
        people = project.beneficiaries
        if people is not None:
            self.households += people.households
            self.poor_households += people.poor_households

    def add(self, other: Tally) -> None:
        self.projects += other.projects
        self.notices += other.notices
        for source, amount in other.funds.items():
            self.funds[source] = self.funds.get(source, Decimal(0)) + amount
        self.households += other.households
        self.poor_households += other.poor_households

    def key(self) -> tuple[object, ...]:
        """For comparing tallies in tests: every number, money exact."""
        return (self.projects, self.notices, tuple(sorted(self.funds.items())),
                self.households, self.poor_households)


@dataclass
class AreaNode:
    path: str
    depth: int  # 1 county, 2 town, 3 village
    own: Tally = field(default_factory=Tally)  # projects at this very area
    children: dict[str, AreaNode] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.split("/")[-1]

    def tally(self) -> Tally:
        total = Tally()
        total.add(self.own)
        for child in self.children.values():
            total.add(child.tally())
        return total


@dataclass
class Statistics:
    total: Tally
    by_year: dict[int, Tally]
    by_department: dict[str, Tally]
    counties: dict[str, AreaNode]
    sources: list[str]  # every fund source, the largest first


def compute(projects: Iterable[ProjectFile]) -> Statistics:
    total = Tally()
    by_year: dict[int, Tally] = {}
    by_department: dict[str, Tally] = {}
    counties: dict[str, AreaNode] = {}
    for project in projects:
        if project.withdrawn:
            continue  # taken back: on the record, but no money goes there
        total.add_project(project)
        by_year.setdefault(project.year, Tally()).add_project(project)
        by_department.setdefault(project.department, Tally()).add_project(project)
        parts = project.area.split("/")
        node = counties.setdefault(parts[0], AreaNode(parts[0], 1))
        for depth in range(2, len(parts) + 1):
            path = "/".join(parts[:depth])
            node = node.children.setdefault(path, AreaNode(path, depth))
        node.own.add_project(project)
    sources = sorted(total.funds, key=lambda s: (-total.funds[s], s))
    return Statistics(total, dict(sorted(by_year.items())),
                      dict(sorted(by_department.items())), dict(sorted(counties.items())),
                      sources)


# -- as tables ------------------------------------------------------------------------------

COUNTS = ("项目数", "公告数")
PEOPLE = ("受益户数", "贫困户数")
TOTAL = "资金合计（万元）"


def _headers(first: Sequence[str], sources: Sequence[str]) -> tuple[str, ...]:
    return (*first, *COUNTS, TOTAL, *(f"{s}（万元）" for s in sources), *PEOPLE)


def _row(first: Sequence[str | int], tally: Tally, sources: Sequence[str]
         ) -> tuple[str | int | Decimal | None, ...]:
    return (*first, tally.projects, tally.notices, wan(tally.total),
            *(wan(tally.funds.get(s, Decimal(0))) for s in sources),
            tally.households, tally.poor_households)


def _money(sources: Sequence[str]) -> frozenset[str]:
    return frozenset({TOTAL, *(f"{s}（万元）" for s in sources)})


def year_table(stats: Statistics) -> Table:
    rows = [_row((f"{year}年",), t, stats.sources) for year, t in stats.by_year.items()]
    rows.append(_row(("合计",), stats.total, stats.sources))
    return Table("按年度", _headers(("年度",), stats.sources), tuple(rows), _money(stats.sources))


def department_table(stats: Statistics) -> Table:
    rows = [_row((name,), t, stats.sources) for name, t in stats.by_department.items()]
    rows.append(_row(("合计",), stats.total, stats.sources))
    return Table("按部门", _headers(("主管部门",), stats.sources), tuple(rows),
                 _money(stats.sources))


LEVEL_NAMES = {1: "县", 2: "乡镇", 3: "村"}


def area_table(stats: Statistics) -> Table:
    """County, then each town (its own projects first), then its villages; each with a
    row that the rows below it add up to."""
    rows: list[tuple[str | int | Decimal | None, ...]] = []
    levels: list[int] = []

    def walk(node: AreaNode) -> None:
        rows.append(_row((LEVEL_NAMES[node.depth], node.path.replace("/", "")), node.tally(),
                         stats.sources))
        levels.append(node.depth - 1)
        if node.children and node.depth in OWN_LEVEL and node.own.projects:
            rows.append(_row(("本级", node.path.replace("/", "") + OWN_LEVEL[node.depth]),
                             node.own, stats.sources))
            levels.append(node.depth)
        for child in node.children.values():
            walk(child)

    for county in stats.counties.values():
        walk(county)
    rows.append(_row(("合计", "全部"), stats.total, stats.sources))
    levels.append(0)
    return Table("按乡镇和村", _headers(("层级", "地区"), stats.sources), tuple(rows),
                 _money(stats.sources), tuple(levels))


def all_tables(stats: Statistics) -> list[Table]:
    return [year_table(stats), department_table(stats), area_table(stats)]
