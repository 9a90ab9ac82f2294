"""noticecast.yaml -> Config, validated with the same located errors as notices.

Secrets never live in the file: a setting such as ``token_env: NOTICECAST_TELEGRAM_TOKEN`` names
the environment variable that holds the secret, and ``Config.secret`` reads it when a channel
needs it. A channel whose secret is not set delivers to its local sink under
``out/channels/<name>/`` instead, so the demo runs on a machine with nothing configured.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline import yamlsrc
from pipeline.errors import ConfigError, InputError, Problem
from pipeline.model import DEFAULT_TIMEZONE, Kind, Level
from pipeline.yamlsrc import FieldProblem

CONFIG_NAME = "noticecast.yaml"
MAX_TIMEOUT_S = 600.0
Port = Annotated[int, Field(ge=1, le=65535)]
Timeout = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)]


def _http_url(value: str | None) -> str | None:
    """An http(s) URL with a host and, if given, a port in 1..65535."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has a port outside 1 to 65535; fix the port") from None
    if port == 0:
        raise ValueError(f"{value!r} has a port outside 1 to 65535; fix the port")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Office(Section):
    name: str = "脱贫攻坚公告公示平台"
    phone: str | None = None
    supervision_phone: str | None = None


class Site(Section):
    base_url: str = "http://localhost:8000"
    title: str = "扶贫资金项目公告公示"
    page_size: int = Field(default=20, ge=1, le=500)
    web_root: str | None = None  # where the site channel publishes; None: out/channels/site
    keep_previous: bool = True
    # An urgent notice without its own ``expires:`` is in force this many days after publication.
    urgent_days: int = Field(default=7, ge=1, le=3650)
    # The footer identity a government site carries; empty values are left out.
    sponsor: str | None = None  # 主办单位 (default: office.name)
    site_code: str | None = None  # 网站标识码
    icp: str | None = None  # ICP备案号
    description: str | None = None  # the home page's meta description
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url {value!r} must start with http:// or https://")
        _http_url(value)
        return value.rstrip("/")


class Rules(Section):
    min_publicity_days: int = Field(default=10, ge=1, le=3650)
    min_publicity_levels: tuple[Level, ...] = (Level.town, Level.village)
    max_file_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)


class Card(Section):
    print_dpi: int = Field(default=300, ge=150, le=1200)
    title_min_px: int = Field(default=56, ge=24, le=1024)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Newspaper(Section):
    """The page grid of the paper (default: a 四开 page, 6 columns)."""

    page_width_mm: float = Field(default=390.0, gt=0, le=2000)
    page_height_mm: float = Field(default=543.0, gt=0, le=2000)
    margin_top_mm: float = Field(default=25.0, ge=0, le=500)
    margin_bottom_mm: float = Field(default=25.0, ge=0, le=500)
    margin_inner_mm: float = Field(default=20.0, ge=0, le=500)
    margin_outer_mm: float = Field(default=20.0, ge=0, le=500)
    columns: int = Field(default=6, ge=1, le=12)
    gutter_mm: float = Field(default=4.0, ge=0, le=100)
    block_columns: int = Field(default=2, ge=1, le=12)  # the default width of a block
    block_height_mm: float | None = Field(default=None, gt=0, le=2000)  # None: auto height
    body_pt: float = Field(default=9.0, ge=5, le=24)
    min_body_pt: float = Field(default=8.0, ge=5, le=24)  # --shrink goes no lower
    proof_dpi: int = Field(default=150, ge=72, le=600)
    # The days the paper comes out: a block mailed to the editors proposes the first of them
    # on or after the day it is sent (拟于…刊登). Default: a daily paper.
    issue_days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1)


class Board(Section):
    """The notice board sheet (公示栏): A4 by default, A3 for boards read from further away."""

    paper: Literal["A4", "A3"] = "A4"
    body_pt: float | None = Field(default=None, ge=14, le=48)  # None: 16 pt on A4, 22 on A3
    min_body_pt: float = Field(default=14.0, ge=14, le=48)  # a board is read standing
    proof_dpi: int = Field(default=100, ge=72, le=600)


class Ticker(Section):
    # A LED controller drives at most a few dozen modules in a row; 8192 pixels is far beyond
    # any real panel and keeps the strip images well inside what Pillow will open.
    panel_width: int = Field(default=192, ge=32, le=8192)
    panel_height: Literal[16, 32] = 16
    color: str = "#ff2000"
    speed_px_per_s: float = Field(default=32.0, ge=1, le=2000)
    max_chars: int = Field(default=80, ge=20, le=1000)
    tv_speed_px_per_s: float = Field(default=120.0, ge=1, le=5000)
    preview_scale: int = Field(default=4, ge=1, le=8)
    # The GIF preview shows one loop, but at most this long: a long playlist would make a
    # GIF of tens of megabytes that nobody watches to the end.
    preview_max_s: float = Field(default=60.0, gt=0, le=600)


class Sms(Section):
    signature: str = "【扶贫公示】"
    opt_out: str = "回T退订"
    max_parts: int = Field(default=3, ge=1, le=10)
    county_to_everyone: bool = True
    subscribers: str | None = "subscribers.csv"
    # A configured subscriber list that is missing or empty is an error in `publish` (no SMS
    # would go out, and nobody would notice); false makes it a warning there too.
    require_subscribers: bool = True
    notify_withdrawal: bool = True
    # Links in a digest: none, one to the subscriber's area listing, or one per notice; a short
    # domain that serves the same site (https://gs.example.cn) saves every text 20 units or so.
    links: Literal["none", "area", "notice"] = "area"
    link_base: str | None = None  # None: site.base_url
    # A reply (MO) that is one of these words, whatever its case or width, opts the phone out.
    opt_out_words: list[str] = Field(default_factory=lambda: ["T", "TD", "退订"])

    @field_validator("link_base")
    @classmethod
    def _link_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"link_base {value!r} must start with http:// or https://")
        return value.rstrip("/") if value else value


class TelegramChannel(Section):
    chat: str = "@noticecast_demo"
    token_env: str = "NOTICECAST_TELEGRAM_TOKEN"
    api_base_url: HttpUrl | None = None  # for a self-hosted or test Bot API server
    timeout_s: Timeout = 30.0  # per HTTP call (connect, upload, answer)
    flood_retries: int = Field(default=1, ge=0, le=5)  # 429s that PTB's limiter waits out

    @field_validator("api_base_url")
    @classmethod
    def _bot_api_base(cls, value: str | None) -> str | None:
        # The token is appended to it (or put where {token} stands): anything else makes
        # every call go to a wrong URL, found out only at the first delivery.
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{value!r} must have no query, fragment or user:password; the "
                             "token comes from token_env")
        if "{token}" not in value and not parts.path.endswith("/bot"):
            raise ValueError(f"{value!r} must end with /bot (the token is appended to it), "
                             "e.g. https://api.telegram.org/bot or http://127.0.0.1:8081/bot")
        return value


class NewspaperChannel(Section):
    to: str | None = None  # the editor's address; None: the inbox folder only
    sender: str = "noticecast@localhost"
    smtp_host: str = "localhost"
    smtp_port: Port = 25
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    starttls: bool = False


TickerAsset = Literal["strip.png", "tv.html", "preview.gif"]
# What a sign needs besides playlist.json: the LED strip. tv.html is for playout, the GIF is
# a preview for people (megabytes that no screen shows).
DEFAULT_TICKER_ASSETS: tuple[TickerAsset, ...] = ("strip.png",)


class TickerEndpoint(Section):
    """One push endpoint and the assets it wants with the playlist."""

    url: HttpUrl
    assets: tuple[TickerAsset, ...] = DEFAULT_TICKER_ASSETS
    token_env: str | None = None  # None: the ticker section's token_env


class TickerChannel(Section):
    endpoint: HttpUrl | None = None  # signage/playout HTTP endpoint; None: the playlist folder
    assets: tuple[TickerAsset, ...] = DEFAULT_TICKER_ASSETS  # what ``endpoint`` is sent
    endpoints: tuple[TickerEndpoint, ...] = ()  # more endpoints, each with its own assets
    token_env: str = "NOTICECAST_TICKER_TOKEN"
    timeout_s: Timeout = 10.0


class SmppSettings(Section):
    host: str
    port: Port = 2775
    system_id: str
    password_env: str = "NOTICECAST_SMPP_PASSWORD"
    source_addr: str = "106900000000"
    messages_per_second: float = Field(default=10.0, gt=0)  # submit_sm PDUs, one per part
    registered_delivery: bool = True  # ask the SMSC for delivery receipts
    timeout_s: Timeout = 10.0
    # One session per publish run: a transceiver bind sends and receives (receipts, replies);
    # "transmitter+receiver" is two binds for an account that allows no transceiver.
    bind: Literal["transceiver", "transmitter", "transmitter+receiver"] = "transceiver"
    window: int = Field(default=10, ge=1, le=100)  # submit_sm awaiting an answer at once
    throttle_retries: int = Field(default=3, ge=0, le=10)  # resends of a throttled part
    throttle_pause_s: float = Field(default=1.0, ge=0)  # doubled after each throttled resend
    linger_s: float = Field(default=1.0, ge=0)  # stay bound after the last text, for receipts


class HttpSmsSettings(Section):
    url: HttpUrl
    token_env: str = "NOTICECAST_SMS_TOKEN"
    timeout_s: Timeout = 10.0
    # `noticecast serve-callbacks`: the gateway posts receipts and replies with this secret.
    callback_secret_env: str = "NOTICECAST_SMS_CALLBACK_SECRET"


class SmsChannel(Section):
    transport: Literal["outbox", "smpp", "http"] = "outbox"
    smpp: SmppSettings | None = None
    http: HttpSmsSettings | None = None

    @model_validator(mode="after")
    def _transport_settings(self) -> SmsChannel:
        if self.transport == "smpp" and self.smpp is None:
            raise ValueError("transport smpp needs an 'smpp:' block with host and system_id")
        if self.transport == "http" and self.http is None:
            raise ValueError("transport http needs an 'http:' block with the gateway url")
        return self


class SiteChannel(Section):
    web_root: str | None = None  # None: out/channels/site


class WechatChannel(Section):
    """A WeChat Official Account (公众号): its AppID here, its AppSecret in the environment."""

    app_id: str | None = None  # None: the outbox folder only
    secret_env: str = "NOTICECAST_WECHAT_SECRET"
    api_base_url: HttpUrl = "https://api.weixin.qq.com"  # for a test server
    timeout_s: Timeout = 15.0  # per HTTP call
    publish_timeout_s: Timeout = 120.0  # how long to poll a publish job
    poll_interval_s: float = Field(default=3.0, gt=0, le=60)
    token_cache: str = ".noticecast/wechat-token.json"  # the access token, between runs


class BoardTarget(Section):
    """One notice board (政务公开栏 / 村务公开栏) and the clerk who posts its sheets."""

    area: str  # 什邡市/师古镇/马祖村: the board carries the notices of this area
    name: str | None = None  # 马祖村村务公开栏; None: named after the area
    clerk: str  # who posts the sheets (a name, shown in the e-mail and the pack)
    email: str | None = None  # send the sheets to the clerk
    printer: str | None = None  # or print them: ipp://host:631/printers/QUEUE
    folder: str | None = None  # or drop them here; default out/channels/board/<area>/


class BoardChannel(Section):
    """How sheets reach the boards: e-mail, a CUPS printer (IPP) or a folder, per board."""

    boards: tuple[BoardTarget, ...] = ()
    sender: str = "noticecast@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    starttls: bool = False
    ipp_timeout_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("boards")
    @classmethod
    def _one_board_per_area(cls, boards: tuple[BoardTarget, ...]) -> tuple[BoardTarget, ...]:
        seen: set[str] = set()
        for board in boards:
            if board.area in seen:
                raise ValueError(f"two boards for area {board.area!r}; an area has one board")
            seen.add(board.area)
        return boards


class Channels(Section):
    site: SiteChannel = SiteChannel()
    telegram: TelegramChannel = TelegramChannel()
    newspaper: NewspaperChannel = NewspaperChannel()
    ticker: TickerChannel = TickerChannel()
    sms: SmsChannel = SmsChannel()
    wechat: WechatChannel = WechatChannel()
    board: BoardChannel = BoardChannel()


class Publish(Section):
    ledger: str = ".noticecast/ledger.sqlite"
    max_attempts: int = Field(default=5, ge=1, le=1000)
    # Bounded so that a retry time stays a date the calendar can hold.
    backoff_base_s: float = Field(default=30.0, gt=0, le=86400)
    backoff_max_s: float = Field(default=3600.0, gt=0, le=30 * 86400)
    # "full": every ledger write is fsynced, so even a power cut cannot lose the record that an
    # SMS was about to go out. "normal" survives a crash or kill of noticecast itself (the OS
    # still has the write) but not of the machine; it is many times faster on slow disks.
    durability: Literal["full", "normal"] = "full"
    watch_interval_s: float = Field(default=300.0, ge=1, le=86400)  # publish --watch


class FeedImport(Section):
    """`noticecast import-feed`: how long and how much it may read."""

    deadline_s: float = Field(default=60.0, gt=0, le=3600)  # the whole download, not per read
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)


class AlertRecipients(Section):
    """Who in one office is told (`noticecast alerts`): mobiles for SMS, addresses for e-mail."""

    sms: tuple[str, ...] = ()
    email: tuple[str, ...] = ()


class Alerts(Section):
    """`noticecast alerts`: which office hears about what, and how the e-mail goes out.

    ``offices`` maps an issuing office (a notice's ``issuer``) to its recipients; ``"*"`` is
    for every office not named. The texts are templates (``templates/alerts/``)."""

    offices: dict[str, AlertRecipients] = Field(default_factory=dict)
    ending_in_days: int = Field(default=2, ge=0, le=30)  # publicity ending within this many days
    stuck_after_hours: float = Field(default=24.0, gt=0, le=24 * 90)  # failed or in doubt
    unsent_after_hours: float = Field(default=1.0, ge=0, le=24 * 90)  # approved, nothing sent
    sender: str = "noticecast@localhost"
    smtp_host: str = "localhost"  # "outbox": write .eml files under out/channels/alerts/email/
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    starttls: bool = False


class XlsxImport(Section):
    """`noticecast import-xlsx`: a sheet's own column names -> the usual ones (列名映射)."""

    columns: dict[str, str] = Field(default_factory=dict)


ALL_CHANNELS = ("site", "telegram", "wechat", "newspaper", "ticker", "sms", "board")
DEFAULT_KIND_CHANNELS: dict[Kind, tuple[str, ...]] = {
    Kind.fund_allocation: ALL_CHANNELS,
    Kind.project_plan: ALL_CHANNELS,
    Kind.project_notice: ALL_CHANNELS,
    Kind.completion_notice: ALL_CHANNELS,
    Kind.policy: ("site", "telegram", "wechat", "newspaper"),
    Kind.announcement: ("site", "telegram", "wechat", "ticker"),
    Kind.urgent: ALL_CHANNELS,
}

# county -> town -> villages; an empty mapping or list means "any name below here".
Regions = dict[str, dict[str, list[str]]]


class Config(Section):
    office: Office = Office()
    regions: Regions = Field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE
    site: Site = Site()
    rules: Rules = Rules()
    kind_channels: dict[Kind, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_KIND_CHANNELS)
    )
    card: Card = Card()
    newspaper: Newspaper = Newspaper()
    board: Board = Board()
    ticker: Ticker = Ticker()
    sms: Sms = Sms()
    channels: Channels = Channels()
    publish: Publish = Publish()
    import_feed: FeedImport = FeedImport()
    alerts: Alerts = Alerts()
    import_xlsx: XlsxImport = XlsxImport()

    # Where the file was read from; relative paths in the config are relative to it.
    root: Path = Field(default=Path("."), exclude=True)
    # Channels whose own settings are wrong, with the located problems: out of service, while
    # every other channel publishes (``load_config``).
    broken_channels: dict[str, tuple[Problem, ...]] = Field(default_factory=dict, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                             "Asia/Shanghai") from None
        return value

    @field_validator("kind_channels", mode="before")
    @classmethod
    def _kind_labels(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            merged: dict[Any, Any] = dict(DEFAULT_KIND_CHANNELS)
            merged.update({Kind.parse(k): v for k, v in value.items()})
            return merged
        return value

    @model_validator(mode="after")
    def _usable_paths(self) -> Config:
        """Paths that would pass loading and fail (or do harm) later are refused now."""
        ledger = self.publish.ledger
        if not ledger.strip() or ledger.endswith(("/", os.sep)) or self.path(ledger).is_dir():
            raise FieldProblem(("publish", "ledger"), (
                f"publish.ledger: {ledger!r} is a folder; name the ledger file, e.g. "
                ".noticecast/ledger.sqlite"))
        subscribers = self.sms.subscribers
        if subscribers is not None and (not subscribers.strip()
                                        or self.path(subscribers).is_dir()):
            raise FieldProblem(("sms", "subscribers"), (
                f"sms.subscribers: {subscribers!r} is a folder; name the CSV file, e.g. "
                "subscribers.csv"))
        for where, root in ((("site", "web_root"), self.site.web_root),
                            (("channels", "site", "web_root"), self.channels.site.web_root)):
            if root is None:
                continue
            resolved = self.path(root).resolve()
            if resolved == Path(resolved.anchor) or resolved == self.root.resolve():
                raise FieldProblem(where, (
                    f"{'.'.join(where)}: {root!r} is the file system root or the project "
                    "itself, which the site channel would replace; name a folder of its "
                    "own, e.g. /var/www/gongshi"))
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def path(self, relative: str | Path) -> Path:
        """A path from the config, resolved against the project root."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.root / candidate

    def channels_for(self, kind: Kind) -> tuple[str, ...]:
        return self.kind_channels.get(kind, ALL_CHANNELS)

    def area_known(self, area: str) -> tuple[bool, str]:
        """Whether ``area`` lies in the configured regions; if not, the part that is wrong."""
        if not self.regions:
            return True, ""
        parts = area.split("/")
        county = parts[0]
        if county not in self.regions:
            return False, county
        towns = self.regions[county]
        if len(parts) < 2 or not towns:
            return True, ""
        if parts[1] not in towns:
            return False, parts[1]
        villages = towns[parts[1]]
        if len(parts) < 3 or not villages:
            return True, ""
        return (parts[2] in villages), ("" if parts[2] in villages else parts[2])

    def known_areas(self) -> list[str]:
        """Every configured area path, county first, in file order."""
        areas: list[str] = []
        for county, towns in self.regions.items():
            areas.append(county)
            for town, villages in (towns or {}).items():
                areas.append(f"{county}/{town}")
                areas.extend(f"{county}/{town}/{village}" for village in villages or [])
        return areas

    @staticmethod
    def secret(env_name: str | None) -> str | None:
        """The secret in environment variable ``env_name``, or None when unset or empty."""
        if not env_name:
            return None
        return os.environ.get(env_name) or None

    def fingerprint(self, *sections: str) -> str:
        """A hash of the named sections (all, when none named), for build cache keys."""
        data = self.model_dump(mode="json", include=set(sections) if sections else None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def find_config(start: Path) -> Path | None:
    """noticecast.yaml in ``start`` or the nearest folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None, *, display_root: Path | None = None) -> Config:
    """Read and validate a config file; with ``path`` None, the defaults rooted at the cwd."""
    if path is None:
        return Config(root=Path.cwd())
    shown = _display(path, display_root)
    try:
        doc = yamlsrc.read(path, display=shown)
    except InputError as exc:
        raise ConfigError(exc.problems) from None
    if not isinstance(doc.data, dict):
        raise ConfigError.at(shown, 1, 1, "the config must be a YAML mapping of settings")
    data = {**doc.data, "root": path.parent.resolve()}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = yamlsrc.validation_problems(doc, exc, Config)
        broken = _broken_channels(exc)
        if not broken:
            raise ConfigError(problems) from None
    # Every error lies in the settings of some channels: those channels are out of service
    # (publish reports them and sends nothing there), the rest of the office keeps publishing.
    channels = {k: v for k, v in (data.get("channels") or {}).items() if k not in broken}
    try:
        config = Config.model_validate({**data, "channels": channels})
    except ValidationError:
        raise ConfigError(problems) from None
    for name in sorted(broken):
        model: Any = Channels.model_fields[name].annotation
        try:
            model.model_validate(data["channels"][name])
            found = [p for p in problems if f"channels.{name}" in str(p)]
        except ValidationError as exc:
            found = yamlsrc.validation_problems(doc, exc, model, ("channels", name))
        config.broken_channels[name] = tuple(found or problems)
    return config


def _broken_channels(exc: ValidationError) -> set[str]:
    """The channels whose settings hold every error, or an empty set if any error lies
    elsewhere (then the whole config is refused)."""
    names = set()
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        if len(loc) < 3 or loc[0] != "channels" or not isinstance(loc[1], str):
            return set()
        names.add(loc[1])
    return names


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)
