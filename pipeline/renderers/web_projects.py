"""The site's oversight pages: one page per project (项目明细表), and the statistics.

``projects/<code>/``: the project's notices in order, its fund mix in 万元, its period and
where it stands, its beneficiaries and every channel that carried each notice and when (the
ledger's facts, which the build hands over in ``RenderContext.deliveries``).
``projects/``: every project. ``stats/``: projects, notices, money by source and households
by year, department and area, with CSV and XLSX downloads of the same tables.

Only what is public at the build's instant counts (``pipeline.schedule``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from markupsafe import Markup

from pipeline.model import Notice
from pipeline.oversight import stats as statistics
from pipeline.oversight.projects import coded, group_projects
from pipeline.oversight.sheet import project_rows, sheet_view
from pipeline.oversight.tables import Table, to_csv, to_xlsx
from pipeline.renderers.base import Artifact, RenderContext
from pipeline.renderers.web_links import notice_dir, root_of
from pipeline.schedule import is_public

HTML = "text/html; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
TEMPLATES = ("web/project.html", "web/projects.html", "web/stats.html")
DOWNLOADS = (("by-year", 0), ("by-department", 1), ("by-area", 2))


def project_dir(code: str) -> str:
    return f"projects/{code}/"


def oversight_pages(renderer: str, notices: list[Notice] | tuple[Notice, ...],
                    ctx: RenderContext) -> Iterator[Artifact]:
    zone = ctx.config.zone
    public = [n for n in notices if is_public(n, ctx.moment, zone)]
    projects = group_projects(public)
    common = {"site": ctx.config.site, "office": ctx.config.office, "feed": None}
    env = ctx.templates

    def page(template: str, path: str, title: str, **values: Any) -> Artifact:
        folder = path.removesuffix("index.html")
        html = env.get_template(template).render(
            common, root=root_of(path), page_title=title,
            canonical=f"{ctx.base_url}/{folder}", **values)
        return Artifact(renderer, path, html.encode(), HTML)

    listed = coded(projects)
    for project in listed:
        assert project.code is not None
        path = f"{project_dir(project.code)}index.html"
        root = root_of(path)
        view = sheet_view(project, ctx.today, ctx.deliveries, zone,
                          notice_link=lambda notice_id, r=root: f"{r}{notice_dir(notice_id)}")
        yield page("web/project.html", path, f"项目明细表：{project.name}", p=view)
    yield page("web/projects.html", "projects/index.html", "项目明细表",
               rows=project_rows(listed, ctx.today))

    tables = statistics.all_tables(statistics.compute(projects))
    yield page("web/stats.html", "stats/index.html", "统计",
               tables=[_html_table(t) for t in tables],
               downloads=[(f"{name}.csv", tables[i].title) for name, i in DOWNLOADS],
               today=ctx.today)
    for name, index in DOWNLOADS:
        yield Artifact(renderer, f"stats/{name}.csv", to_csv(tables[index]), CSV)
    yield Artifact(renderer, "stats/statistics.xlsx", to_xlsx(tables), XLSX)


def _html_table(table: Table) -> dict[str, Any]:
    rows = []
    for index, row in enumerate(table.rows):
        level = table.levels[index] if table.levels else 0
        cells = [Markup.escape(table.text(v)) for v in row]
        rows.append({"cells": cells, "level": level, "total": row[0] == "合计"})
    numeric = [i for i, h in enumerate(table.headers) if i > 0 and (
        h in table.money or h in (*statistics.COUNTS, *statistics.PEOPLE))]
    return {"title": table.title, "headers": table.headers, "rows": rows, "numeric": numeric}
