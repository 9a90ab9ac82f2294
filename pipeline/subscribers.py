"""The SMS subscriber list: a CSV of phone, area and an optional name.

Every problem is reported with its line, all at once, like the notices: a bad phone, an area
that is not in ``noticecast.yaml``'s regions, a missing column. A phone listed twice is merged
into one subscriber (one person gets one text per run) with a warning saying so.

Phones are personal data: in memory they are E.164 (``+8613800000001``); anywhere a person
might read them (logs, errors, targets, the ledger) they are masked (``138****0001``) or
replaced by ``Subscriber.key``, a hash.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import Location, Problem, SubscriberError
from pipeline.yamlsrc import special_file_kind

# Header names accepted for each column (the office may well export the sheet in Chinese).
COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码", "电话", "号码"),
    "area": ("area", "地区", "区域", "村", "所在地"),
    "name": ("name", "姓名", "名称", "备注"),
}
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
AREA_SLOTS = 1 << 20  # distinct areas a list may name (a county has a few hundred villages)
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

    Returns the subscribers (in file order, duplicates merged) and the warnings. For a list
    where one bad row must not stop the others, use ``scan_subscribers``.
    """
    scan = SubscriberScan(max_reported=sys.maxsize)
    subscribers = list(scan.read(path, config, display))
    if scan.errors:
        raise SubscriberError(scan.errors)
    subscribers = [replace(s, name=scan.later_names[s.phone])
                   if s.name is None and s.phone in scan.later_names else s
                   for s in subscribers]
    return subscribers, scan.warnings


@dataclass
class SubscriberScan:
    """A lenient, streaming read of the subscriber list: bad rows are skipped and reported.

    ``read`` yields the good subscribers one at a time (file order, a phone listed again is
    merged into its first row), so that a list of a million rows is never held as text or as
    rows; only the phones seen so far are kept, as integers, to merge duplicates.
    """

    errors: list[Problem] = field(default_factory=list)  # rows skipped, and why
    warnings: list[Problem] = field(default_factory=list)
    count: int = 0  # rows read (not counting the header)
    skipped: int = 0  # rows with an error
    max_reported: int = 100  # beyond this many, bad rows are counted, not listed
    # A name given only on a later row of a phone that was merged (for the strict reader).
    later_names: dict[str, str] = field(default_factory=dict)

    def read(self, path: Path, config: Config, display: str) -> Iterator[Subscriber]:
        try:
            kind = special_file_kind(path.stat().st_mode)
            if kind:  # never opened: opening a FIFO blocks
                raise SubscriberError.at(display, 0, 0, f"the subscriber list is {kind}, not "
                                         "a file; set sms.subscribers to a CSV file")
            encoding = _encoding_of(path, display)
            with path.open(encoding=encoding, newline="") as handle:
                yield from self._rows(handle, config, display)
        except OSError as exc:
            raise SubscriberError.at(display, 0, 0, f"cannot read the subscriber list: "
                                                    f"{exc.strerror or exc}") from None
        if self.skipped > len(self.errors):
            self.errors.append(Problem(Location(display), (
                f"{self.skipped - len(self.errors)} more bad row(s) not listed; run "
                "`noticecast sms subscribers` for all of them")))

    def _error(self, problem: Problem) -> None:
        if len(self.errors) < self.max_reported:
            self.errors.append(problem)

    def _warn(self, problem: Problem) -> None:
        if len(self.warnings) < self.max_reported:
            self.warnings.append(problem)

    @property
    def problems(self) -> list[Problem]:
        return [*self.errors, *self.warnings]

    def _rows(self, handle: io.TextIOBase, config: Config, display: str
              ) -> Iterator[Subscriber]:
        numbered = ((number, line.rstrip("\r\n")) for number, line in enumerate(handle, 1))
        rows = ((number, line) for number, line in numbered
                if line.strip() and not line.lstrip().startswith("#"))
        first = next(rows, None)
        if first is None:
            raise SubscriberError.at(display, 1, 1, "the subscriber list is empty; it needs a "
                                     "header line 'phone,area,name' and one subscriber a line")
        header_line, header_text = first
        yield from _parse_rows(self, header_line, header_text, rows, config, display)


def configured_subscribers(config: Config, scan: SubscriberScan, *, publishing: bool
                           ) -> Iterator[Subscriber]:
    """The subscribers of ``sms.subscribers``, streamed; never raises for the list itself.

    Bad rows are skipped, with their located errors in ``scan.errors``. A configured list
    that is missing or holds nobody is an error when publishing (``sms.require_subscribers``,
    the default: no text would go out and nobody would notice) and a warning otherwise.
    """
    setting = config.sms.subscribers
    if not setting:
        return
    path = config.path(setting)
    severity = "error" if publishing and config.sms.require_subscribers else "warning"
    if not path.exists():
        (scan.errors if severity == "error" else scan.warnings).append(Problem(
            Location(setting), "the subscriber list configured in sms.subscribers does not "
            "exist, so no SMS can be sent; create it (phone,area,name) or set "
            "sms.subscribers: null", severity=severity))
        return
    try:
        yield from scan.read(path, config, setting)
    except SubscriberError as exc:  # unreadable, or no usable header
        scan.errors.extend(exc.problems)
        return
    if scan.count == scan.skipped and not scan.errors:
        (scan.errors if severity == "error" else scan.warnings).append(Problem(
            Location(setting), "the subscriber list has no subscribers, so no SMS can be "
            "sent; add one a line (phone,area,name) or set sms.subscribers: null",
            severity=severity))


def _encoding_of(path: Path, display: str) -> str:
    """utf-8-sig, or gb18030 (what a Chinese Excel saves as "CSV"), read in chunks."""
    for encoding in ("utf-8-sig", "gb18030"):
        incremental = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    incremental.decode(chunk)
                incremental.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise SubscriberError.at(display, 0, 0, "the subscriber list is neither UTF-8 nor "
                             "GB18030 text; save it as CSV (UTF-8)")


def _parse_rows(scan: SubscriberScan, header_line: int, header_text: str,
                rows: Iterator[tuple[int, str]], config: Config, display: str
                ) -> Iterator[Subscriber]:
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

    # phone (as an integer) -> first line * AREA_SLOTS + the index of its area: one small
    # integer a subscriber, so that merging duplicates costs little even for a million rows.
    seen: dict[int, int] = {}
    areas: dict[str, int] = {}
    area_names: list[str] = []
    known_areas: dict[str, str | None] = {}  # area -> why it is unknown (None: known)
    current: list[tuple[int, str]] = []  # the row the one csv reader below is reading

    def texts() -> Iterator[str]:
        for row in rows:
            current[:] = [row]
            yield row[1]

    for cells in csv.reader(texts()):
        number, line = current[0]
        scan.count += 1

        def cell(column: str, cells: list[str] = cells) -> str:
            index = columns.get(column)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        def where(column: str, line: str = line, number: int = number) -> Location:
            return Location(display, number, _column_of(line, columns.get(column, 0)))

        raw_phone, area, name = cell("phone"), _area_path(cell("area")), cell("name") or None
        phone = normalise_phone(raw_phone)
        problems: list[Problem] = []
        if not raw_phone:
            problems.append(Problem(where("phone"), "the phone is missing"))
        elif phone is None:
            problems.append(Problem(where("phone"), f"{mask_phone(raw_phone)!s} is not a "
                                    "Chinese mobile number; write 11 digits starting with "
                                    "13-19, optionally with +86"))
        if not area:
            problems.append(Problem(where("area"), "the area is missing; write a path such as "
                                    "什邡市/师古镇/马祖村"))
        else:
            if area not in known_areas:
                known, wrong = config.area_known(area)
                known_areas[area] = None if known else _unknown_area(area, wrong, config)
            unknown = known_areas[area]
            if unknown is not None:
                problems.append(Problem(where("area"), unknown))
        if problems or phone is None:
            scan.skipped += 1
            for problem in problems:
                scan._error(problem)
            continue
        area_index = areas.get(area)
        if area_index is None:
            area_index = areas[area] = len(area_names)
            area_names.append(sys.intern(area))
        number_key = int(phone[1:])
        earlier = seen.get(number_key)
        if earlier is not None:
            first_line, first_area = divmod(earlier, AREA_SLOTS)
            first_area_name = area_names[first_area]
            note = (f"same area {first_area_name}" if first_area_name == area
                    else f"kept its area {first_area_name}, not {area}")
            scan._warn(Problem(where("phone"), f"{mask_phone(phone)} is already "
                                         f"listed on line {first_line}; merged ({note})",
                                         severity="warning"))
            if name:
                scan.later_names.setdefault(phone, name)
            continue
        seen[number_key] = number * AREA_SLOTS + area_index
        yield Subscriber(phone=phone, area=area_names[area_index], name=name)


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
