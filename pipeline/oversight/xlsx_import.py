"""A clerk's spreadsheet of projects -> notice files (什邡 entered all its 2017 projects at once).

One row per project, with the usual Chinese column names (``COLUMNS``; ``import_xlsx.columns``
in the config renames a sheet's own headers to these). Each row becomes a notice of the kind
asked for, validated like any notice file. A bad cell is one located line,
``projects.xlsx:Sheet1!D7: …``, in Chinese and English; the good rows are still written.

A file is written as ``content/<year>/<id>.yaml`` with a first line that records the hash of
what was written. Importing again rewrites a file only while that hash still matches: a file
edited since (or written by hand) is never overwritten.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.config import Config
from pipeline.errors import InputError, Location, Problem
from pipeline.model import Kind, Level, Notice

# Field key -> the usual column names (the first is the one this tool documents).
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("编号", "公告编号"),
    "title": ("标题", "公告标题"),
    "issuer": ("发布单位", "主管部门"),
    "area": ("地区", "所属地区"),
    "published": ("发布时间", "发布日期"),
    "publicity.start": ("公示开始", "公示开始日期"),
    "publicity.end": ("公示结束", "公示结束日期"),
    "project.code": ("项目编号",),
    "project.name": ("项目名称",),
    "project.location": ("实施地点", "建设地点"),
    "project.content": ("建设内容", "建设任务"),
    "project.subsidy_standard": ("补助标准",),
    "project.period.start": ("实施开始", "开工日期", "计划开工时间"),
    "project.period.end": ("实施结束", "完工日期", "计划完工时间"),
    "project.implementer": ("实施单位",),
    "project.responsible.name": ("责任人",),
    "project.responsible.phone": ("责任人电话", "联系电话"),
    "project.performance_goal": ("绩效目标",),
    "project.poverty_mechanism": ("带贫减贫机制", "利益联结机制"),
    "project.beneficiaries.households": ("受益户数",),
    "project.beneficiaries.poor_households": ("贫困户数", "受益贫困户数"),
    "project.beneficiaries.people": ("受益人数",),
    "contact.office_phone": ("咨询电话",),
    "contact.supervision_phone": ("监督电话",),
    "summary": ("摘要",),
    "body": ("正文", "备注"),
    "status": ("状态",),
}
REQUIRED = ("title", "issuer", "area", "published", "project.name", "project.location",
            "project.content", "project.implementer", "project.responsible.name")
# Funds: 资金来源 / 金额（元）, then 资金来源2 / 金额2（元） …; amounts may be in 万元 instead.
_SOURCE = re.compile(r"^资金来源(\d*)$")
_AMOUNT = re.compile(r"^(?:资金)?金额(\d*)[（(](元|万元)[）)]$")
STAMP = "# noticecast import-xlsx"
_STAMP_LINE = re.compile(r"^# noticecast import-xlsx .*sha256=([0-9a-f]{64})\s*$")


@dataclass
class ImportReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    kept: list[tuple[Path, str]] = field(default_factory=list)  # (file, why it was not written)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    index: int  # 1-based
    letter: str
    header: str
    key: str  # a field key, or "fund.source.N" / "fund.amount.N.unit"


def _normal(header: Any) -> str:
    return re.sub(r"\s+", "", str(header or ""))


def _columns(headers: list[Any], mapping: Mapping[str, str]) -> tuple[list[Column], list[str]]:
    from openpyxl.utils import get_column_letter

    known = {name: key for key, names in COLUMNS.items() for name in names}
    renames = {_normal(k): _normal(v) for k, v in mapping.items()}
    columns, unknown = [], []
    for index, raw in enumerate(headers, start=1):
        header = _normal(raw)
        if not header:
            continue
        name = renames.get(header, header)
        letter = get_column_letter(index)
        if name in known:
            columns.append(Column(index, letter, header, known[name]))
        elif match := _SOURCE.match(name):
            columns.append(Column(index, letter, header, f"fund.source.{match[1] or 1}"))
        elif match := _AMOUNT.match(name):
            columns.append(Column(index, letter, header,
                                  f"fund.amount.{match[1] or 1}.{match[2]}"))
        else:
            unknown.append(f"{letter}1 {header}")
    return columns, unknown


def _bilingual(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def _cell_value(key: str, value: Any) -> Any:
    """A cell as the notice wants it; ValueError (Chinese / English) for what cannot be."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    if key in ("published",):
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).replace("/", "-").replace(".", "-")
        for form in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, form).strftime(
                    "%Y-%m-%d %H:%M:%S" if "%H" in form else "%Y-%m-%d")
            except ValueError:
                continue
        raise ValueError(_bilingual(f"“{value}”不是日期，请写成 2018-07-04",
                                    f"{value!r} is not a date; write it as 2018-07-04"))
    if key.endswith((".start", ".end")):
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).replace("/", "-").replace(".", "-")
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(_bilingual(f"“{value}”不是日期，请写成 2018-07-04",
                                        f"{value!r} is not a date; write it as 2018-07-04")
                             ) from None
    if key.startswith("fund.amount"):
        try:
            amount = Decimal(str(value).replace(",", ""))
        except InvalidOperation:
            raise ValueError(_bilingual(f"“{value}”不是金额，请只填阿拉伯数字",
                                        f"{value!r} is not an amount; write digits only")
                             ) from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(_bilingual(f"金额“{value}”不能为负数", f"amount {value!r} is "
                                        "negative"))
        if key.endswith("万元"):
            amount *= 10000
        return amount
    if key.startswith("project.beneficiaries"):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number != number.to_integral() or number < 0:
            raise ValueError(_bilingual(f"“{value}”不是户数（人数），请填整数",
                                        f"{value!r} is not a whole number of households"))
        return int(number)
    if key.endswith("phone") and isinstance(value, int | float):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if not isinstance(value, str) else value


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def row_notice(cells: dict[str, Any], kind: Kind, row: int, sheet: str) -> dict[str, Any]:
    """The notice mapping of one row (already parsed cells)."""
    doc: dict[str, Any] = {"kind": kind.value}
    funds: dict[int, dict[str, Any]] = {}
    for key, value in cells.items():
        if value is None:
            continue
        if key.startswith("fund.source."):
            funds.setdefault(int(key.split(".")[2]), {})["source"] = value
        elif key.startswith("fund.amount."):
            funds.setdefault(int(key.split(".")[2]), {})["amount"] = value
        else:
            _put(doc, key, value)
    project = doc.setdefault("project", {})
    project["funds"] = [funds[n] for n in sorted(funds) if funds[n]]
    area = str(doc.get("area", ""))
    doc.setdefault("level", {1: Level.county, 2: Level.town, 3: Level.village}.get(
        len([p for p in area.split("/") if p]), Level.village).value)
    if "id" not in doc:
        base = _slug(str(project.get("code", ""))) or f"{_slug(sheet) or 'sheet'}-{row}"
        doc["id"] = f"{base}-{kind.value.split('_')[0]}"
    doc["id"] = str(doc["id"]).lower()
    doc.setdefault("summary", f"{project.get('name', doc.get('title', ''))}现予公示，欢迎监督。")
    doc.setdefault("body", f"现将{project.get('name', '')}有关情况公示如下，公示期内如有异议，"
                           "请向发布单位反映。")
    doc.setdefault("status", "draft")  # an imported notice is checked before it is approved
    return doc


def import_xlsx(path: Path, kind: Kind, config: Config, content_dir: Path, *,
                shown: str | None = None, sheet_name: str | None = None) -> ImportReport:
    from openpyxl import load_workbook

    shown = shown or path.name
    report = ImportReport()
    try:
        book = load_workbook(path, data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(Problem(Location(shown), _bilingual(
            f"不是可读取的Excel（.xlsx）文件（{exc}）",
            "not a readable .xlsx workbook; save it as Excel Workbook (.xlsx)"))) from None
    try:
        sheet = book[sheet_name] if sheet_name else book.worksheets[0]
    except KeyError:
        raise InputError(Problem(Location(shown), _bilingual(
            f"没有名为“{sheet_name}”的工作表", f"no sheet named {sheet_name!r}; the sheets are "
            + ", ".join(book.sheetnames)))) from None
    where = f"{shown}:{sheet.title}"
    rows = sheet.iter_rows(values_only=True)
    headers = list(next(rows, ()) or ())
    columns, unknown = _columns(headers, config.import_xlsx.columns)
    for cell in unknown:
        report.problems.append(Problem(Location(f"{where}!{cell.split()[0]}"), _bilingual(
            f"不认识的列名“{cell.split()[1]}”，已忽略；可在 import_xlsx.columns 中改名",
            "unknown column, ignored; rename it in import_xlsx.columns"), severity="warning"))
    present = {c.key for c in columns}
    missing = [COLUMNS[k][0] for k in REQUIRED if k not in present]
    if not any(k.startswith("fund.amount") for k in present):
        missing.append("金额（元）")
    if missing:
        raise InputError(Problem(Location(f"{where}!1"), _bilingual(
            f"缺少列：{'、'.join(missing)}", "missing columns: " + ", ".join(missing))))
    by_key = {c.key: c for c in columns}
    for number, values in enumerate(rows, start=2):
        if not any(v not in (None, "") for v in values):
            continue
        cells: dict[str, Any] = {}
        row_problems: list[Problem] = []
        for column in columns:
            raw = values[column.index - 1] if column.index - 1 < len(values) else None
            try:
                cells[column.key] = _cell_value(column.key, raw)
            except ValueError as exc:
                row_problems.append(Problem(Location(f"{where}!{column.letter}{number}"),
                                            f"{column.header}: {exc}"))
        if row_problems:
            report.problems.extend(row_problems)
            continue
        doc = row_notice(cells, kind, number, sheet.title)
        try:
            notice = Notice.model_validate(doc, context={"timezone": config.timezone})
        except ValidationError as exc:
            for error in exc.errors():
                cell = _cell_of(error["loc"], by_key, number)
                label = ".".join(str(p) for p in error["loc"])
                report.problems.append(Problem(
                    Location(f"{where}!{cell.letter}{number}" if cell else f"{where}!{number}"),
                    f"{cell.header if cell else label}: {_message_zh(error)} / "
                    f"{label}: {error['msg']}"))
            continue
        _write(notice, doc, content_dir, shown, sheet.title, number, report)
    book.close()
    return report


def _cell_of(loc: tuple[Any, ...], by_key: Mapping[str, Column], row: int) -> Column | None:
    parts = [str(p) for p in loc]
    if len(parts) >= 3 and parts[:2] == ["project", "funds"] and parts[2].isdigit():
        n = int(parts[2]) + 1
        kind = "source" if parts[-1] == "source" else "amount"
        for key, column in by_key.items():
            if key.startswith(f"fund.{kind}.{n}"):
                return column
    while parts:
        column = by_key.get(".".join(parts))
        if column is not None:
            return column
        parts.pop()
    return None


def _message_zh(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "此项必填"
    if "greater_than" in kind or "less_than" in kind:
        return "数值超出允许范围"
    if "date" in kind or "datetime" in kind:
        return "日期格式不对"
    return "内容不符合要求"


def _stamped(text: str, source: str, sheet: str, row: int) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{STAMP} {source} {sheet}!{row} sha256={digest}\n{text}"


def _unedited(existing: str) -> bool:
    first, _, rest = existing.partition("\n")
    match = _STAMP_LINE.match(first)
    return bool(match) and hashlib.sha256(rest.encode()).hexdigest() == match[1]


def _write(notice: Notice, doc: dict[str, Any], content_dir: Path, source: str, sheet: str,
           row: int, report: ImportReport) -> None:
    text = yaml.safe_dump(_plain(doc), allow_unicode=True, sort_keys=False, width=100)
    target = content_dir / str(notice.published.year) / f"{notice.id}.yaml"
    if target.exists():
        existing = target.read_text("utf-8", errors="replace")
        if existing.partition("\n")[2] == text:
            report.unchanged.append(target)
            return
        if not _unedited(existing):
            report.kept.append((target, "edited since it was imported (or written by hand); "
                                        "not overwritten"))
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    from pipeline.build import write_atomic

    write_atomic(target, _stamped(text, source, sheet, row).encode())
    report.written.append(target)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral() else str(value)
    return value
