"""The notice and its parts: typed, frozen, and the single source of every output.

Field names are English so that code reads well; every enum also accepts its Chinese label
(``kind: 项目公示`` is ``kind: project_notice``), because the people who write the YAML are a
Chinese public affairs office. Values that are derived from the fields (the total of the funds,
the 万元 display, the publicity state on a given day) live here too, so that every renderer
shows the same thing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from pipeline.yamlsrc import CharacterProblem, FieldProblem

DEFAULT_TIMEZONE = "Asia/Shanghai"
SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

# The years a notice may name. Publishing adds days to these dates (the end of a publicity
# period, retries, "recently published"), and Python's calendar stops at the year 9999; a
# year outside this window is a typo, never a real notice.
FIRST_YEAR, LAST_YEAR = 1900, 2200
MAX_REVISION = 10_000
MAX_PEOPLE = 100_000_000  # more households or people than a county has is a typo

# Characters a one-line field (title, summary, names) must not hold: C0 and C1 controls
# (invisible, and they break SMS, tickers and captions) and the bidi embeddings, overrides and
# isolates that make text display in an order other than the one it is stored in.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
# Free text (the body) keeps tabs and line breaks; the rest is escaped, not refused.
_UNSAFE_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


class LabelledEnum(StrEnum):
    """An enum whose members also have a Chinese label, accepted on input."""

    @property
    def label(self) -> str:
        return LABELS[self]

    @classmethod
    def parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            for member in cls:
                if text in (member.value, LABELS[member]):
                    return member
        return value

    @classmethod
    def coerce(cls, value: Any) -> Any:
        """Like ``parse``, but an unknown name is an error that lists both spellings."""
        parsed = cls.parse(value)
        if isinstance(value, str) and not isinstance(parsed, cls):
            options = ", ".join(f"{m.value} ({LABELS[m]})" for m in cls)
            raise ValueError(f"{value.strip()!r} is not a known {cls.__name__.lower()}; "
                             f"use one of: {options}")
        return parsed


class Kind(LabelledEnum):
    fund_allocation = "fund_allocation"
    project_plan = "project_plan"
    project_notice = "project_notice"
    completion_notice = "completion_notice"
    policy = "policy"
    announcement = "announcement"
    urgent = "urgent"

    @property
    def is_fund_notice(self) -> bool:
        """Notices about money and projects, which carry the publicity rules."""
        return self in FUND_KINDS

    @property
    def badge(self) -> str:
        """The short label shown on cards, tickers and SMS: 【公示】."""
        return BADGES[self]


class Level(LabelledEnum):
    county = "county"
    town = "town"
    village = "village"

    @property
    def depth(self) -> int:
        return {Level.county: 1, Level.town: 2, Level.village: 3}[self]


class Status(LabelledEnum):
    draft = "draft"
    approved = "approved"
    withdrawn = "withdrawn"


class PublicityState(LabelledEnum):
    not_started = "not_started"
    running = "running"
    ended = "ended"
    none = "none"  # the notice has no publicity period (policy documents, announcements)


LABELS: dict[StrEnum, str] = {
    Kind.fund_allocation: "资金分配",
    Kind.project_plan: "项目计划",
    Kind.project_notice: "项目公示",
    Kind.completion_notice: "竣工公示",
    Kind.policy: "政策文件",
    Kind.announcement: "通知公告",
    Kind.urgent: "紧急",
    Level.county: "县级",
    Level.town: "乡镇级",
    Level.village: "村级",
    Status.draft: "草稿",
    Status.approved: "已审核",
    Status.withdrawn: "已撤回",
    PublicityState.not_started: "未开始",
    PublicityState.running: "公示中",
    PublicityState.ended: "已结束",
    PublicityState.none: "长期公开",
}
BADGES: dict[Kind, str] = {
    Kind.fund_allocation: "资金",
    Kind.project_plan: "计划",
    Kind.project_notice: "公示",
    Kind.completion_notice: "竣工",
    Kind.policy: "政策",
    Kind.announcement: "公告",
    Kind.urgent: "紧急",
}
FUND_KINDS = frozenset(
    {Kind.fund_allocation, Kind.project_plan, Kind.project_notice, Kind.completion_notice}
)


def format_wan(amount: Decimal) -> str:
    """685000 yuan -> '68.5万元'; exact, never rounded, no trailing zeros."""
    wan = (Decimal(amount) / Decimal(10000)).normalize()
    text = format(wan, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}万元"


def format_date(day: date) -> str:
    """2018-07-04 -> '2018年7月4日'."""
    return f"{day.year}年{day.month}月{day.day}日"


def format_short_date(day: date) -> str:
    """2018-07-04 -> '7月4日', for the ticker and SMS where every character counts."""
    return f"{day.month}月{day.day}日"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _phone_text(value: Any) -> Any:
    # YAML reads an unquoted 12317 as an integer; a phone number (or a numeric id) is text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _strip(value)


# A landline with its area code (0838-1234567, optional extension), a mobile (13812345678,
# optionally +86), or a short public service number such as the 12317 hotline.
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")
_MOBILE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$")
_SERVICE = re.compile(r"^(?:12\d{3}|110|119|120|122|95\d{3})$")


def is_plausible_phone(number: str) -> bool:
    compact = number.replace(" ", "")
    return bool(_LANDLINE.match(compact) or _MOBILE.match(compact) or _SERVICE.match(compact))


def _plausible_phone(value: str) -> str:
    if not is_plausible_phone(value):
        raise ValueError(
            f"{value!r} is not a plausible Chinese phone number; write a landline with its area "
            "code (0838-1234567), an 11-digit mobile (13812345678) or a hotline such as 12317"
        )
    return value


def character_name(char: str) -> str:
    """'\\u202e' -> 'U+202E (RIGHT-TO-LEFT OVERRIDE)', for error messages."""
    import unicodedata

    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    return f"{code} ({name})" if name else f"{code} (a control character)"


def _one_line(value: str) -> str:
    match = _UNSAFE_IN_LINE.search(value)
    if match is not None:
        char = match.group()
        raise CharacterProblem(
            match.start(), char,
            f"{character_name(char)} at character {match.start() + 1} is not allowed in a "
            "one-line field; delete it (it is invisible in most editors)")
    return value


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: U+0007 -> '␇'
    if code == 0x7F:
        return "\u2421"  # '␡'
    return f"[U+{code:04X}]"


def _escape_unsafe(value: str) -> str:
    """Free text may carry control and bidi characters; they are shown, never obeyed."""
    return _UNSAFE_IN_TEXT.sub(lambda m: _visible(m.group()), value)


def _in_calendar(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"{value.isoformat()[:10]} is outside the years {FIRST_YEAR} to "
                         f"{LAST_YEAR}; check the year")
    return value


# One line of text (titles, names, places): control and bidi characters are refused.
Text = Annotated[str, BeforeValidator(_strip), Field(min_length=1), AfterValidator(_one_line)]
# Paragraphs (the body, explanations): control and bidi characters are escaped.
FreeText = Annotated[str, BeforeValidator(_strip), Field(min_length=1),
                     AfterValidator(_escape_unsafe)]
CalendarDate = Annotated[date, AfterValidator(_in_calendar)]
Phone = Annotated[str, BeforeValidator(_phone_text), AfterValidator(_plausible_phone)]
Yuan = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]


def _zone(info: ValidationInfo) -> ZoneInfo:
    return ZoneInfo((info.context or {}).get("timezone", DEFAULT_TIMEZONE))


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class DateRange(Frozen):
    start: CalendarDate
    end: CalendarDate

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise FieldProblem(
                "end",
                f"{{path}}.end {self.end.isoformat()} is before {{path}}.start "
                f"{self.start.isoformat()}; swap them or fix the date",
            )
        return self

    @property
    def days(self) -> int:
        """Calendar days covered, both ends included (7月4日至7月13日 is 10 days)."""
        return (self.end - self.start).days + 1

    @property
    def display(self) -> str:
        return f"{format_date(self.start)}至{format_date(self.end)}"

    @property
    def short_display(self) -> str:
        return f"{format_short_date(self.start)}至{format_short_date(self.end)}"


class Person(Frozen):
    name: Text
    phone: Phone | None = None


class FundSource(Frozen):
    """One source of money, e.g. 中央财政专项扶贫资金, in yuan."""

    source: Text
    amount: Yuan

    @property
    def amount_display(self) -> str:
        return format_wan(self.amount)


class Beneficiaries(Frozen):
    households: int = Field(ge=0, le=MAX_PEOPLE)
    poor_households: int = Field(ge=0, le=MAX_PEOPLE)
    people: int | None = Field(default=None, ge=0, le=MAX_PEOPLE)

    @model_validator(mode="after")
    def _poor_within_all(self) -> Beneficiaries:
        if self.poor_households > self.households:
            raise FieldProblem(
                "poor_households",
                f"poor_households ({self.poor_households}) exceeds households "
                f"({self.households})"
            )
        return self


def _project_code(value: str) -> str:
    if not PROJECT_CODE.match(value):
        raise ValueError(f"project code {value!r} may hold letters, digits, '-', '_' and '.' "
                         "only (it names the project's page), e.g. SF-2018-XM-001")
    return value


PROJECT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


class Project(Frozen):
    """The fixed facts of a project (项目明细表)."""

    # 项目编号: every notice with the same code (plan, 公示, 更正, 竣工公示) is one project.
    code: Annotated[Text, AfterValidator(_project_code)] | None = None
    name: Text
    location: Text
    content: FreeText
    subsidy_standard: Text | None = None
    period: DateRange | None = None
    implementer: Text
    responsible: Person
    funds: tuple[FundSource, ...] = Field(min_length=1)
    total: Yuan | None = None  # a stated total; if given, the sources must add up to it
    performance_goal: FreeText | None = None
    poverty_mechanism: FreeText | None = None
    beneficiaries: Beneficiaries | None = None

    @model_serializer(mode="wrap")
    def _without_empty_code(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A notice without a project code hashes as it did before codes existed, so that
        # adding the field does not make every sent notice look changed since it was sent.
        data: dict[str, Any] = handler(self)
        if data.get("code") is None:
            data.pop("code", None)
        return data

    @model_validator(mode="after")
    def _funds_add_up(self) -> Project:
        if self.total is not None and self.funds_total != self.total:
            raise FieldProblem(
                "total",
                f"fund sources add up to {self.funds_total} yuan "
                f"({format_wan(self.funds_total)}), not the stated total {self.total} yuan; "
                "fix an amount or the total"
            )
        return self

    @property
    def funds_total(self) -> Decimal:
        return sum((f.amount for f in self.funds), Decimal(0))

    @property
    def total_display(self) -> str:
        return format_wan(self.funds_total)


class Contact(Frozen):
    office_phone: Phone | None = None
    supervision_phone: Phone | None = None
    hotline: Phone = "12317"  # the national poverty-alleviation supervision hotline
    address: Text | None = None

    def phones(self) -> list[tuple[str, str]]:
        """(label, number) pairs in display order."""
        pairs = [
            ("咨询电话", self.office_phone),
            ("监督电话", self.supervision_phone),
            ("扶贫监督举报电话", self.hotline),
        ]
        return [(label, number) for label, number in pairs if number]


class Attachment(Frozen):
    title: Text
    url: Text


class Correction(Frozen):
    """What a revision >= 2 changed, said in words for the reader (更正说明)."""

    note: FreeText
    changes: tuple[FreeText, ...] = ()
    # What the SMS says instead of a long note, e.g. 资金更正为47.8万元.
    sms_summary: Annotated[Text, Field(max_length=60)] | None = None


class Withdrawal(Frozen):
    reason: FreeText
    on: CalendarDate | None = None  # the day it was withdrawn; defaults to the build day


def _bare_date_at(value: Any, at: time, info: ValidationInfo) -> Any:
    """A bare date (a YAML date, or text like 2018-07-04) at ``at`` in the office's zone;
    anything else as it is, for the field's own validation."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, at, tzinfo=_zone(info))
    return value


class Notice(Frozen):
    """One public notice (公告公示), as the office wrote it."""

    _content_hash: str | None = PrivateAttr(default=None)

    id: Annotated[str, BeforeValidator(_phone_text), Field(min_length=1, max_length=80)]
    revision: int = Field(default=1, ge=1, le=MAX_REVISION)
    kind: Annotated[Kind, BeforeValidator(Kind.coerce)]
    title: Annotated[Text, Field(max_length=200)]
    issuer: Text
    level: Annotated[Level, BeforeValidator(Level.coerce)]
    area: Text
    published: datetime
    publicity: DateRange | None = None
    project: Project | None = None
    contact: Contact = Contact()
    summary: Annotated[Text, Field(max_length=200)]
    body: FreeText
    interpretation: FreeText | None = None  # 政策解读, for policy documents
    attachments: tuple[Attachment, ...] = ()
    channels: tuple[Text, ...] | None = None  # None: the config's default for the kind
    status: Annotated[Status, BeforeValidator(Status.coerce)] = Status.draft
    correction: Correction | None = None
    withdrawal: Withdrawal | None = None
    tags: tuple[Text, ...] = ()
    # A typo fixed after sending, without a new revision: the record is updated, the people
    # who got the notice are not told again (see pipeline.publish_edits).
    minor_edit: bool = False
    # An urgent notice is in force until then (None: ``site.urgent_days`` after publication);
    # afterwards no channel shows it as current (pipeline.schedule.is_in_force).
    expires: Annotated[datetime, AfterValidator(_in_calendar)] | None = None

    @model_serializer(mode="wrap")
    def _without_unset_expiry(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A notice without ``expires`` hashes as it did before the field existed, so that adding
        # it does not make every sent notice look changed since it was sent.
        data: dict[str, Any] = handler(self)
        if data.get("expires") is None:
            data.pop("expires", None)
        return data

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                f"id {value!r} is not a slug: use lower-case letters, digits, '-' and '_'"
            )
        return value

    @field_validator("area")
    @classmethod
    def _area_path(cls, value: str) -> str:
        parts = [p.strip() for p in value.split("/")]
        if not all(parts) or len(parts) > 3:
            raise ValueError(
                f"area {value!r} must be a path of one to three names, e.g. 什邡市/师古镇/马祖村"
            )
        return "/".join(parts)

    @field_validator("published", mode="before")
    @classmethod
    def _whole_day(cls, value: Any, info: ValidationInfo) -> Any:
        # A bare date (unquoted, or quoted as text) means the start of office hours.
        return _bare_date_at(value, time(9, 0), info)

    @field_validator("expires", mode="before")
    @classmethod
    def _expires_whole_day(cls, value: Any, info: ValidationInfo) -> Any:
        # A bare date means the end of that day, in the office's zone.
        return _bare_date_at(value, time(23, 59, 59), info)

    @field_validator("published", "expires")
    @classmethod
    def _aware(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # Unquoted YAML times arrive as datetimes, quoted ones as text that pydantic parses;
        # either way a time without an offset is local time in the office's zone.
        if value is None:
            return None
        _in_calendar(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=_zone(info))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Notice:
        depth = len(self.area_parts)
        if depth != self.level.depth:
            raise FieldProblem(
                "area",
                f"level {self.level.value} ({self.level.label}) needs an area of "
                f"{self.level.depth} name(s), but area {self.area!r} has {depth}"
            )
        if self.revision >= 2 and self.correction is None:
            raise FieldProblem(
                "revision",
                f"revision {self.revision} needs a 'correction' with a note saying what changed"
            )
        if self.status is Status.withdrawn and self.withdrawal is None:
            raise FieldProblem("status", "status withdrawn needs a 'withdrawal:' with the reason")
        if self.kind.is_fund_notice and self.project is None:
            raise FieldProblem(
                "kind", f"a {self.kind.label} notice needs a 'project:' with its facts"
            )
        return self

    # -- derived values ------------------------------------------------------------------

    @property
    def area_parts(self) -> tuple[str, ...]:
        return tuple(self.area.split("/"))

    @property
    def area_chain(self) -> tuple[str, ...]:
        """The area and every area above it: ('什邡市', '什邡市/师古镇', '什邡市/师古镇/马祖村')."""
        parts = self.area_parts
        return tuple("/".join(parts[: i + 1]) for i in range(len(parts)))

    @property
    def place(self) -> str:
        """The area for people: 什邡市师古镇马祖村."""
        return "".join(self.area_parts)

    @property
    def is_correction(self) -> bool:
        return self.revision >= 2

    @property
    def is_withdrawn(self) -> bool:
        return self.status is Status.withdrawn

    @property
    def is_urgent(self) -> bool:
        return self.kind is Kind.urgent

    @property
    def total_funds(self) -> Decimal | None:
        return self.project.funds_total if self.project else None

    @property
    def total_display(self) -> str | None:
        return self.project.total_display if self.project else None

    @property
    def published_date(self) -> date:
        return self.published.date()

    def publicity_state(self, today: date) -> PublicityState:
        if self.publicity is None:
            return PublicityState.none
        if today < self.publicity.start:
            return PublicityState.not_started
        if today > self.publicity.end:
            return PublicityState.ended
        return PublicityState.running

    def is_due(self, now: datetime) -> bool:
        """Approved (or withdrawn after approval) and its publication time has come."""
        return self.status is not Status.draft and self.published <= now

    @property
    def content_hash(self) -> str:
        """A stable hash of everything the office wrote; the build's cache key starts here.

        Kept in a private attribute (which, unlike a cached_property, survives pickling), so
        that notices read back from the parse cache do not serialise themselves again.
        """
        if self._content_hash is None:
            payload = self.model_dump_json().encode()
            self._content_hash = hashlib.sha256(payload).hexdigest()
        return self._content_hash


def notice_fields(model: type[BaseModel] = Notice) -> Mapping[str, Any]:
    """The field names a YAML mapping for ``model`` may use (for typo suggestions)."""
    return model.model_fields
