"""The SMS subscriber list: a CSV of phone, area and an optional name.

Every problem is reported with its line, all at once, like the notices: a bad phone, an area
that is not in ``noticecast.yaml``'s regions, a missing column. A phone listed twice is merged
into one subscriber (one person gets one text per run) with a warning saying so.

Phones are personal data: in memory they are E.164 (``+8613800000001``); anywhere a person
might read them (logs, errors, targets, the ledger) they are masked (``138****0001``) or
replaced by ``Subscriber.key``, a hash.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import Location, Problem, SubscriberError

# Header names accepted for each column (the office may well export the sheet in Chinese).
COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码", "电话", "号码"),
    "area": ("area", "地区", "区域", "村", "所在地"),
    "name": ("name", "姓名", "名称", "备注"),
}
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class Subscriber:
    phone: str  # E.164, "+8613800000001"
    area: str  # an area path, "什邡市/师古镇/马祖村"
    name: str | None = None

    @property
    def key(self) -> str:
        """A stable key for the ledger that does not show the phone."""
        digest = hashlib.sha256(f"noticecast-sms:{self.phone}".encode()).hexdigest()
        return f"sub-{digest[:16]}"

    @property
    def masked(self) -> str:
        return mask_phone(self.phone)


def mask_phone(phone: str) -> str:
    """'+8613812341234' or '13812341234' -> '138****1234', for logs and error messages."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def normalise_phone(raw: str) -> str | None:
    """A Chinese mobile number in E.164 ('+8613800000001'), or None if it is not one."""
    compact = _SEPARATORS.sub("", raw.strip())
    for prefix in ("+86", "0086", "86"):
        if compact.startswith(prefix) and len(compact) == len(prefix) + 11:
            compact = compact[len(prefix):]
            break
    return f"+86{compact}" if _MOBILE.match(compact) else None


def load_subscribers(path: Path, config: Config, display: str
                     ) -> tuple[list[Subscriber], list[Problem]]:
    """Read and validate the subscriber CSV; raises SubscriberError with every error found.

    Returns the subscribers (in file order, duplicates merged) and the warnings.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubscriberError.at(display, 0, 0, f"cannot read the subscriber list: "
                                                f"{exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # a sheet saved as "CSV" by a Chinese Excel is GB18030
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise SubscriberError.at(display, 0, 0, "the subscriber list is neither UTF-8 nor "
                                     "GB18030 text; save it as CSV (UTF-8)") from None
    return _parse(text, config, display)


def _parse(text: str, config: Config, display: str
           ) -> tuple[list[Subscriber], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    lines = text.splitlines()
    rows = [(number, line) for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise SubscriberError.at(display, 1, 1, "the subscriber list is empty; it needs a header "
                                 "line 'phone,area,name' and one subscriber a line")
    header_line, header_text = rows[0]
    header = [cell.strip().lower() for cell in next(csv.reader([header_text]))]
    columns: dict[str, int] = {}
    for column, names in COLUMNS.items():
        for index, cell in enumerate(header):
            if cell in names:
                columns[column] = index
                break
    missing = [c for c in ("phone", "area") if c not in columns]
    if missing:
        raise SubscriberError.at(display, header_line, 1,
                                 f"the header needs the column(s) {', '.join(missing)}; found "
                                 f"{', '.join(header) or 'nothing'} (write: phone,area,name)")

    merged: dict[str, tuple[int, Subscriber]] = {}
    for number, line in rows[1:]:
        cells = next(csv.reader(io.StringIO(line)), [])

        def cell(column: str, cells: list[str] = cells) -> str:
            index = columns.get(column)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        def where(column: str, line: str = line, number: int = number) -> Location:
            return Location(display, number, _column_of(line, columns.get(column, 0)))

        raw_phone, area, name = cell("phone"), _area_path(cell("area")), cell("name") or None
        phone = normalise_phone(raw_phone)
        row_ok = True
        if not raw_phone:
            errors.append(Problem(where("phone"), "the phone is missing"))
            row_ok = False
        elif phone is None:
            errors.append(Problem(where("phone"), f"{mask_phone(raw_phone)!s} is not a Chinese "
                                  "mobile number; write 11 digits starting with 13-19, "
                                  "optionally with +86"))
            row_ok = False
        if not area:
            errors.append(Problem(where("area"), "the area is missing; write a path such as "
                                  "什邡市/师古镇/马祖村"))
            row_ok = False
        else:
            known, wrong = config.area_known(area)
            if not known:
                errors.append(Problem(where("area"), _unknown_area(area, wrong, config)))
                row_ok = False
        if not row_ok or phone is None:
            continue
        subscriber = Subscriber(phone=phone, area=area, name=name)
        if phone in merged:
            first_line, first = merged[phone]
            note = (f"same area {first.area}" if first.area == area
                    else f"kept its area {first.area}, not {area}")
            warnings.append(Problem(where("phone"), f"{subscriber.masked} is already listed on "
                                    f"line {first_line}; merged ({note})", severity="warning"))
            if first.name is None and name:
                merged[phone] = (first_line, Subscriber(first.phone, first.area, name))
            continue
        merged[phone] = (number, subscriber)
    if errors:
        raise SubscriberError(errors)
    return [subscriber for _, subscriber in merged.values()], warnings


def _area_path(value: str) -> str:
    return "/".join(part.strip() for part in value.split("/") if part.strip())


def _column_of(line: str, index: int) -> int:
    """The 1-based column where the ``index``-th comma-separated field of ``line`` starts."""
    position = 0
    for _ in range(index):
        comma = line.find(",", position)
        if comma < 0:
            return len(line) + 1
        position = comma + 1
    return position + 1


def _unknown_area(area: str, wrong: str, config: Config) -> str:
    message = f"unknown area {area!r}: {wrong!r} is not in the regions of noticecast.yaml"
    close = difflib.get_close_matches(area, config.known_areas(), n=1, cutoff=0.6)
    return f"{message}; did you mean {close[0]!r}?" if close else message
