"""What every renderer is: a pure function from notices to artifacts.

A renderer never writes files, never touches the network and never changes the source. The
build decides which notices need rendering (see ``pipeline.build``) and writes what comes back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pipeline.schedule import instant, is_in_force, is_public

if TYPE_CHECKING:
    from jinja2 import Environment

    from pipeline.config import Config
    from pipeline.model import Notice
    from pipeline.oversight.deliveries import DeliverySummary


@dataclass(frozen=True)
class Artifact:
    """One finished output: bytes plus what a channel needs to know about them.

    ``path`` is relative to the renderer's output folder (``out/<renderer>/``) and uses ``/``.
    ``notice_id`` is None for collection artifacts (listings, feeds, playlists, digests).
    """

    renderer: str
    path: str
    data: bytes
    media_type: str
    notice_id: str | None = None
    revision: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class RenderOptions:
    """Switches from the command line that change what renderers produce."""

    print_sizes: bool = False  # card: also A6 at 300 dpi
    shrink: bool = False  # newspaper: lower the body size step by step to fit


@dataclass(frozen=True)
class RenderContext:
    """Everything besides the notices that a renderer may read.

    ``templates`` is a Jinja2 environment whose loader looks in the site project's own
    ``templates/`` first and in the packaged defaults second.
    """

    config: Config
    today: date
    templates: Environment
    options: RenderOptions = field(default_factory=RenderOptions)
    # The instant the build is made as of (``pipeline.schedule``): what is public then is what
    # the outputs show. None means the end of ``today``, as ``build --today D`` asks.
    now: datetime | None = None
    # What the ledger says reached people (``pipeline.oversight.deliveries``), for the pages
    # that show it; read by the build, never by a renderer. None: no ledger facts given.
    deliveries: DeliverySummary | None = None

    def __post_init__(self) -> None:
        if self.now is None:
            object.__setattr__(self, "now", instant(self.today, self.config.zone))

    @property
    def moment(self) -> datetime:
        assert self.now is not None
        return self.now

    @property
    def base_url(self) -> str:
        return self.config.site.base_url

    def notice_url(self, notice_id: str) -> str:
        """The canonical, stable URL of a notice's web page; every output points here."""
        return f"{self.base_url}/notices/{notice_id}/"

    def short_url(self, notice_id: str) -> str:
        """The short link for SMS; the site redirects it to ``notice_url``."""
        return f"{self.base_url}/n/{notice_id}"


@runtime_checkable
class Renderer(Protocol):
    """Turns notices into artifacts.

    ``render`` yields the per-notice artifacts of a batch; the build caches them per notice.
    ``render_collection`` yields artifacts that depend on many notices at once (listings,
    feeds, the ticker playlist, SMS digests); it receives every valid notice and is re-run when
    any of them changes. Renderers without such outputs yield nothing there.

    ``version`` is part of every cache key: bump it when the output of the code changes.
    ``templates`` names the templates (relative to ``templates/``) the per-notice output uses;
    ``collection_templates`` those of the collection. Templates they include or extend are
    followed automatically. ``config_sections`` names the parts of the config that change the
    output, so that editing, say, the SMS signature does not re-render every card.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    templates: ClassVar[tuple[str, ...]]
    collection_templates: ClassVar[tuple[str, ...]]
    config_sections: ClassVar[tuple[str, ...]]

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]: ...

    def render_collection(
        self, notices: Sequence[Notice], ctx: RenderContext
    ) -> Iterator[Artifact]: ...

    def cache_token(self, notice: Notice, ctx: RenderContext) -> str:
        """What else, besides the notice, its templates and config, changes its output."""
        ...

    def templates_for(self, notice: Notice) -> Sequence[str]:
        """The templates this notice's output uses (default: ``templates``)."""
        ...

    def collection_token(self, notice: Notice, ctx: RenderContext) -> str:
        """What of a notice the collection outputs depend on."""
        ...


class BaseRenderer:
    """Sensible defaults for the optional parts of the Renderer protocol."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    templates: ClassVar[tuple[str, ...]] = ()
    collection_templates: ClassVar[tuple[str, ...]] = ()
    config_sections: ClassVar[tuple[str, ...]] = ("office", "site")

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        raise NotImplementedError

    def render_collection(
        self, notices: Sequence[Notice], ctx: RenderContext
    ) -> Iterator[Artifact]:
        return iter(())

    def cache_token(self, notice: Notice, ctx: RenderContext) -> str:
        # The publicity state is shown by most outputs, so a page re-renders when it flips; and
        # collections list what is in force at the build's instant (public yet, an urgent
        # notice not yet expired), so they re-render at the moment that changes.
        zone = ctx.config.zone
        shown = ("in-force" if is_in_force(notice, ctx.moment, zone, ctx.config.site.urgent_days)
                 else "public" if is_public(notice, ctx.moment, zone) else "not-public")
        return f"{notice.publicity_state(ctx.today).value}|{shown}"

    def templates_for(self, notice: Notice) -> Sequence[str]:
        """The templates this notice's output uses; override when it depends on the notice."""
        return self.templates

    def collection_token(self, notice: Notice, ctx: RenderContext) -> str:
        """What of a notice the collection outputs show; they re-render when it changes.

        Narrow it (a playlist only shows running notices' lines) to keep edits cheap.
        """
        return f"{notice.content_hash}:{self.cache_token(notice, ctx)}"
