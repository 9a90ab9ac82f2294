"""Tables for people and for spreadsheets: one shape, written as CSV, XLSX or HTML rows.

Money is kept as exact Decimal 万元 up to the writer: CSV shows it without trailing zeros, the
XLSX cell holds the number with a 万元 format. An XLSX file is made byte for byte the same for
the same table (fixed dates inside and in the zip), so the site's fingerprint only changes
when the numbers do.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Cell = str | int | Decimal | None
FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def wan(amount: Decimal) -> Decimal:
    """Yuan -> 万元, exact (685000 -> 68.5)."""
    value = (Decimal(amount) / Decimal(10000)).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral() else value


def wan_text(amount: Decimal) -> str:
    return format(wan(amount), "f")


@dataclass(frozen=True)
class Table:
    """A titled table; ``money`` names the columns that hold 万元 amounts."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    money: frozenset[str] = frozenset()
    levels: tuple[int, ...] = field(default=())  # per row, an indent for tree tables

    def text(self, value: Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(value, "f")
        return str(value)


def to_csv(table: Table) -> bytes:
    """UTF-8 with a byte order mark, which Excel needs to read Chinese CSV right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([table.text(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(tables: Sequence[Table], *, sheet_names: Sequence[str] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for index, table in enumerate(tables):
        name = (sheet_names[index] if sheet_names else table.title)[:31]
        sheet = book.create_sheet(_sheet_name(name))
        sheet.append(list(table.headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        money_columns = [i for i, h in enumerate(table.headers) if h in table.money]
        for row in table.rows:
            sheet.append([_xlsx_value(v) for v in row])
        for column in money_columns:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
                cell.number_format = "0.00####"
        for column, header in enumerate(table.headers, start=1):
            width = max([len(header) * 2 + 2] + [len(table.text(r[column - 1])) + 2
                                                 for r in table.rows[:200]])
            sheet.column_dimensions[sheet.cell(1, column).column_letter].width = min(width, 60)
        sheet.freeze_panes = "A2"
    raw = io.BytesIO()
    book.save(raw)
    return _stable_zip(raw.getvalue())


def _xlsx_value(value: Cell) -> Any:
    return value


def _sheet_name(name: str) -> str:
    return re.sub(r"[\\/*?:\[\]]", "_", name) or "Sheet"


_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _stable_zip(data: bytes) -> bytes:
    """The same workbook bytes every time: zip entries and document dates fixed."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _CORE_DATES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return out.getvalue()
