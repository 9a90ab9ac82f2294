"""The web renderer: the canonical, long-term public record of every notice.

Per notice (``render``): ``notices/<id>/index.html`` and the short-link page ``n/<id>/index.html``
that SMS texts point at. For the whole site (``render_collection``): the home page, listings by
department, area (county -> town -> village), year and kind, Atom feeds, ``sitemap.xml``, the
offline search index and page, and the CSS/JS assets.

What is on the site is decided in ``web_listings`` (drafts never; withdrawn notices keep their
page but leave the listings). Helpers: ``web_links`` (paths and relative links), ``web_feeds``,
``web_search``, ``web_qr`` and ``markdown`` (bodies, sanitised).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from jinja2 import Template
from markupsafe import Markup

from pipeline.model import Kind, Notice, format_date
from pipeline.renderers import markdown
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.web_feeds import feed_context, updated_at
from pipeline.renderers.web_links import (
    department_dir,
    kind_dir,
    notice_dir,
    root_of,
    short_dir,
    year_dir,
)
from pipeline.renderers.web_listings import (
    all_nodes,
    area_tree,
    crumbs,
    group_by,
    home_order,
    is_listed,
    listing_item,
    newest_first,
    on_site,
    paginate,
    published_at,
)
from pipeline.renderers.web_projects import TEMPLATES as OVERSIGHT_TEMPLATES
from pipeline.renderers.web_projects import oversight_pages
from pipeline.renderers.web_qr import qr_svg
from pipeline.renderers.web_search import search_index
from pipeline.templating import read_template_file

HTML = "text/html; charset=utf-8"
# Placeholders in pre-rendered listing items; autoescaping turns any '<' in notice text into
# '&lt;', so notice text can never contain them.
_ROOT_MARK = Markup("<<root>>")
_LEVEL_MARK = Markup("<<level>>")
ATOM = "application/atom+xml"


class WebRenderer(BaseRenderer):
    name: ClassVar[str] = "web"
    version: ClassVar[str] = "1"
    templates: ClassVar[tuple[str, ...]] = ("web/notice.html", "web/redirect.html")
    collection_templates: ClassVar[tuple[str, ...]] = (
        "web/listing.html", "web/item.html", "web/index.html", "web/search.html", "web/feed.xml",
        "web/sitemap.xml", "web/site.css", "web/search.js", *OVERSIGHT_TEMPLATES,
    )
    config_sections: ClassVar[tuple[str, ...]] = ("office", "site", "regions", "timezone")
    batch_size: ClassVar[int] = 200
    # Listings order by publicity state and drop notices as their day comes: they change daily.
    collection_uses_today: ClassVar[bool] = True
    # Project pages (projects/, stats/) show which channels carried each notice: the ledger's
    # facts are an input of the collection.
    collection_uses_deliveries: ClassVar[bool] = True

    def cache_token(self, notice: Notice, ctx: RenderContext) -> str:
        shown = "on-site" if on_site(notice, ctx.moment, ctx.config.zone) else "off-site"
        return f"{notice.publicity_state(ctx.today).value}|{shown}"

    # -- one page per notice ---------------------------------------------------------------

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        page = ctx.templates.get_template("web/notice.html")
        redirect = ctx.templates.get_template("web/redirect.html")
        common = _common(ctx)
        for notice in notices:
            if not on_site(notice, ctx.moment, ctx.config.zone):
                continue  # drafts and embargoed notices are not published to the site
            path = f"{notice_dir(notice.id)}index.html"
            canonical = ctx.notice_url(notice.id)
            html = page.render(common, root=root_of(path), canonical=canonical,
                               page_title=notice.title, feed=None, n=notice,
                               v=_notice_view(notice, ctx, canonical))
            yield Artifact(self.name, path, html.encode(), HTML, notice.id, notice.revision,
                           meta={"url": canonical})
            short = f"{short_dir(notice.id)}index.html"
            html = redirect.render(target=f"{root_of(short)}{notice_dir(notice.id)}",
                                   canonical=canonical, title=notice.title)
            yield Artifact(self.name, short, html.encode(), HTML, notice.id, notice.revision,
                           meta={"url": ctx.short_url(notice.id)})

    # -- the whole site ----------------------------------------------------------------------

    def render_collection(self, notices: Sequence[Notice], ctx: RenderContext
                          ) -> Iterator[Artifact]:
        yield from _SiteBuilder(self.name, notices, ctx).artifacts()
        yield from oversight_pages(self.name, notices, ctx)  # projects/ and stats/


def _common(ctx: RenderContext) -> dict[str, Any]:
    return {"site": ctx.config.site, "office": ctx.config.office}


def _notice_view(notice: Notice, ctx: RenderContext, canonical: str) -> dict[str, Any]:
    withdrawn_on = notice.withdrawal.on if notice.withdrawal else None
    return {
        "crumbs": crumbs(notice.area),
        "department_dir": department_dir(notice.issuer),
        "published": f"{format_date(notice.published_date)} {notice.published:%H:%M}",
        "published_iso": published_at(notice, ctx.config.zone).isoformat(),
        "state": notice.publicity_state(ctx.today),
        "withdrawn_on": format_date(withdrawn_on) if withdrawn_on else None,
        "body_html": Markup(markdown.to_html(notice.body)),
        "interpretation_html": (Markup(markdown.to_html(notice.interpretation))
                                if notice.interpretation else None),
        "attachments": [(a.title, markdown.safe_link(a.url)) for a in notice.attachments],
        "qr_svg": Markup(qr_svg(canonical)),
    }


class _SiteBuilder:
    """Renders the collection outputs; one instance per build, templates fetched once."""

    def __init__(self, renderer: str, notices: Sequence[Notice], ctx: RenderContext) -> None:
        self.renderer, self.ctx = renderer, ctx
        self.size = ctx.config.site.page_size
        zone = ctx.config.zone
        self.visible = newest_first(
            (n for n in notices if on_site(n, ctx.moment, zone)), zone)
        self.listed = [n for n in self.visible if is_listed(n, ctx.moment, zone)]
        self.items = {n.id: listing_item(n, ctx.today, zone) for n in self.listed}
        self.item_template: Template = ctx.templates.get_template("web/item.html")
        self.item_html: dict[str, str] = {}
        env = ctx.templates
        self.listing: Template = env.get_template("web/listing.html")
        self.index: Template = env.get_template("web/index.html")
        self.feed: Template = env.get_template("web/feed.xml")
        self.common = _common(ctx)
        self.sitemap: list[tuple[str, str | None]] = []

    def artifacts(self) -> Iterator[Artifact]:
        yield from self._home()
        yield from self._departments()
        yield from self._areas()
        yield from self._years()
        yield from self._kinds()
        yield self._feed("all", "全部公告", "", "feed.xml", self.visible)
        yield from self._search()
        yield from self._assets()
        yield self._sitemap()

    # -- helpers -----------------------------------------------------------------------------

    def _artifact(self, path: str, text: str, media_type: str = HTML) -> Artifact:
        return Artifact(self.renderer, path, text.encode(), media_type)

    def _page(self, template: Template, path: str, title: str, **values: Any) -> Artifact:
        for name in ("feed", "crumbs", "intro", "children"):
            values.setdefault(name, None)
        folder = path.removesuffix("index.html")
        html = template.render(self.common, root=root_of(path), page_title=title,
                               canonical=f"{self.ctx.base_url}/{folder}", **values)
        return self._artifact(path, html)

    def _items_html(self, ids: Sequence[str], root: str, level: int) -> Markup:
        """The <li> of each notice, rendered once per build and reused on every listing.

        A notice appears on about seven listings (home, department, county, town, village,
        year, kind); rendering its item once, with placeholders for the parts that differ
        per page, keeps 10,000 notices' listings cheap.
        """
        parts = []
        for notice_id in ids:
            html = self.item_html.get(notice_id)
            if html is None:
                html = self.item_template.render(it=self.items[notice_id], root=_ROOT_MARK,
                                                 level=_LEVEL_MARK)
                self.item_html[notice_id] = html
            parts.append(html)
        joined = "".join(parts)
        return Markup(joined.replace(_ROOT_MARK, root).replace(_LEVEL_MARK, str(level)))

    def _section(self, heading: str | None, key: str, ids: Sequence[str], path: str,
                 ) -> dict[str, Any]:
        level = 3 if heading else 2
        return {"heading": heading, "key": key,
                "html": self._items_html(ids, root_of(path), level)}

    def _listing(self, folder: str, title: str, notices: Sequence[Notice],
                 **values: Any) -> Iterator[Artifact]:
        ids = [n.id for n in notices if n.id in self.items]
        for path, pages, chunk in paginate(folder, ids, self.size):
            sections = [self._section(None, "items", chunk, path)] if chunk else []
            yield self._page(self.listing, path, title, heading=title, pages=pages,
                             sections=sections, **values)
        self.sitemap.append((f"{self.ctx.base_url}/{folder}", None))

    def _feed(self, scope: str, title: str, html_dir: str, path: str,
              notices: Sequence[Notice]) -> Artifact:
        context = feed_context(scope, title, html_dir, path, notices, self.ctx)
        return self._artifact(path, self.feed.render(context), ATOM)

    @staticmethod
    def _feed_link(folder: str, title: str) -> dict[str, str]:
        return {"path": f"{folder}feed.xml", "title": f"{title}（Atom）"}

    def _index(self, path: str, heading: str, intro: str,
               nodes: Sequence[Mapping[str, Any]]) -> Artifact:
        self.sitemap.append((f"{self.ctx.base_url}/{path.removesuffix('index.html')}", None))
        return self._page(self.index, path, heading, heading=heading, intro=intro, nodes=nodes)

    # -- the pages ---------------------------------------------------------------------------

    def _home(self) -> Iterator[Artifact]:
        ordered = home_order(self.listed, self.ctx.today, self.ctx.config.zone)
        title = self.ctx.config.site.title
        for path, pages, chunk in paginate("", [n.id for n in ordered], self.size):
            running = [i for i in chunk if self.items[i]["state"] == "running"]
            others = [i for i in chunk if self.items[i]["state"] != "running"]
            sections = [self._section(heading, key, ids, path) for heading, key, ids in (
                ("公示中", "running", running), ("最新公告", "latest", others)) if ids]
            yield self._page(self.listing, path, title, heading=title, pages=pages,
                             sections=sections, intro=self.ctx.config.office.name,
                             feed=self._feed_link("", "全部公告"))
        self.sitemap.append((f"{self.ctx.base_url}/", None))

    def _departments(self) -> Iterator[Artifact]:
        listed = group_by(self.listed, lambda n: n.issuer)
        visible = group_by(self.visible, lambda n: n.issuer)
        nodes = []
        for issuer in sorted(visible):
            folder = department_dir(issuer)
            feed = self._feed_link(folder, issuer)
            yield from self._listing(folder, issuer, listed.get(issuer, []), feed=feed)
            yield self._feed(f"department/{issuer}", issuer, folder, feed["path"],
                             visible[issuer])
            nodes.append({"name": issuer, "dir": folder, "count": len(listed.get(issuer, [])),
                          "children": []})
        yield self._index("departments/index.html", "按部门浏览",
                          "谁分配、谁公开，谁使用、谁公开：各发布单位的公告。", nodes)

    def _areas(self) -> Iterator[Artifact]:
        counties = area_tree(self.listed, self.ctx.config)
        visible_by_area: dict[str, list[Notice]] = {}
        for notice in self.visible:
            for area in notice.area_chain:
                visible_by_area.setdefault(area, []).append(notice)
        for node in all_nodes(counties):
            feed = self._feed_link(node.dir, node.name)
            children = [{"name": c.name, "dir": c.dir, "count": len(c.notices)}
                        for c in node.children.values()]
            yield from self._listing(node.dir, node.path.replace("/", ""), node.notices, feed=feed,
                                     crumbs=crumbs(node.path)[:-1], children=children)
            yield self._feed(f"area/{node.path}", node.path.replace("/", ""), node.dir,
                             feed["path"], visible_by_area.get(node.path, []))
        yield self._index("areas/index.html", "按地区浏览",
                          "分配到哪里、公开到哪里：县、乡镇、村三级公告。",
                          [c.as_tree() for c in counties.values()])

    def _years(self) -> Iterator[Artifact]:
        groups = group_by(self.listed, lambda n: n.published.year)
        nodes = []
        for year in sorted(groups, reverse=True):
            folder = year_dir(year)
            yield from self._listing(folder, f"{year}年公告", groups[year])
            nodes.append({"name": f"{year}年", "dir": folder, "count": len(groups[year]),
                          "children": []})
        yield self._index("years/index.html", "按年份浏览", "", nodes)

    def _kinds(self) -> Iterator[Artifact]:
        groups = group_by(self.listed, lambda n: n.kind)
        nodes = []
        for kind in Kind:
            folder = kind_dir(kind)
            yield from self._listing(folder, kind.label, groups.get(kind, []))
            nodes.append({"name": kind.label, "dir": folder, "count": len(groups.get(kind, [])),
                          "children": []})
        yield self._index("kinds/index.html", "按类别浏览", "", nodes)

    def _search(self) -> Iterator[Artifact]:
        yield self._page(self.ctx.templates.get_template("web/search.html"),
                         "search/index.html", "搜索")
        yield Artifact(self.renderer, "search/index.json", search_index(self.listed),
                       "application/json")

    def _assets(self) -> Iterator[Artifact]:
        env = self.ctx.templates
        yield self._artifact("assets/site.css", read_template_file(env, "web/site.css"),
                             "text/css; charset=utf-8")
        yield self._artifact("assets/search.js", read_template_file(env, "web/search.js"),
                             "text/javascript; charset=utf-8")

    def _sitemap(self) -> Artifact:
        urls = list(self.sitemap)
        urls += [(self.ctx.notice_url(n.id), updated_at(n, self.ctx).date().isoformat())
                 for n in self.visible]
        template = self.ctx.templates.get_template("web/sitemap.xml")
        return self._artifact("sitemap.xml", template.render(urls=urls),
                              "application/xml")
