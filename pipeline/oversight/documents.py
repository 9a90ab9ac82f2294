"""The report and the project sheet as files: HTML, XLSX and A4 PDF (WeasyPrint).

Pure: a report (or a sheet's values) and the templates in, bytes out; the command writes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment

from pipeline.config import Config
from pipeline.model import format_date
from pipeline.oversight import compliance
from pipeline.oversight.deliveries import channel_label
from pipeline.oversight.tables import to_xlsx


def compliance_html(report: compliance.ComplianceReport, env: Environment, config: Config,
                    made_at: datetime) -> str:
    zone = config.zone
    tables = compliance.all_tables(report, zone)
    items = []
    for item in report.notices:
        items.append({
            "n": item.notice, "town": item.town, "department": item.department,
            "publicity": item.notice.publicity.display if item.notice.publicity else "—",
            "site_when": compliance._when(item.site_arrived, zone), "site_days": item.site_days,
            "on_time": item.on_time, "boards": item.boards, "verdict": item.verdict,
            "verdict_label": compliance.VERDICT_LABELS[item.verdict],
            "channels": [(label, compliance._when(at, zone)) for label, at in item.channels],
            "problems": [f"{channel_label(c.channel)} {c.target_label or c.target}："
                         f"{'存疑' if c.state == 'in-doubt' else '失败'}"
                         + (f"（{c.reason}）" if c.reason else "") for c in item.problems],
            "bad": item.late or item.short or bool(item.missing_boards) or bool(item.problems),
        })
    notices = report.notices
    return env.get_template("oversight/compliance.html").render(
        title=f"{report.period.label}扶贫资金项目公告公示情况通报",
        office=config.office, r=report, page_size="A4 landscape",
        as_of=compliance._when(report.as_of, zone), made_on=format_date(
            made_at.astimezone(zone).date()),
        on_time=sum(i.on_time for i in notices), late=sum(i.late for i in notices),
        short=sum(i.short for i in notices),
        never_posted=sum(bool(i.missing_boards) for i in notices),
        open=sum(len(i.problems) for i in notices),
        tallies=tables[:2], items=items, overdue=tables[3])


def compliance_xlsx(report: compliance.ComplianceReport, config: Config) -> bytes:
    return to_xlsx(compliance.all_tables(report, config.zone))


def project_sheet_html(view: dict[str, Any], env: Environment, config: Config) -> str:
    return env.get_template("oversight/project_sheet.html").render(
        p=view, office=config.office, page_size="A4")


def html_to_pdf(html: str) -> bytes:
    from pipeline.renderers.weasy import block_html, weasyprint

    module = weasyprint()
    _, fonts = block_html()  # the process's one font configuration
    return module.HTML(string=html).write_pdf(font_config=fonts)
