"""The web renderer: the canonical, long-term public record of every notice.

Per notice (``render``): ``notices/<id>/index.html``, its JSON document ``index.json``, the
short-link page ``n/<id>/index.html`` that SMS texts point at, the pages of its earlier
revisions (``notices/<id>/r<N>/``), its attachments (``files/…``) and, for an urgent notice,
its CAP 1.2 message (``cap.xml``). For the whole site (``render_collection``): the home page
(urgent notices pinned while in force, 公示中 first), the full 公示中 listing, listings by
department, area (county -> town -> village), year and kind, redirects from the hashed folder
names of earlier versions, Atom feeds, ``sitemap.xml``, ``robots.txt``, the 404 page, the JSON
index, the search index and page, and the assets.

What is on the site is decided in ``web_listings`` with ``pipeline.schedule`` (drafts never;
withdrawn notices stay listed, marked). Helpers: ``web_links`` (paths), ``web_feeds``,
``web_search`` and ``web_text`` (search), ``web_data`` and ``web_cap`` (data for other
systems), ``web_history`` (earlier revisions), ``web_files`` (attachments and site files),
``web_qr`` and ``markdown`` (bodies, sanitised).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from jinja2 import Template
from markupsafe import Markup

from pipeline import schedule
from pipeline.model import Kind, Notice, PublicityState, format_date
from pipeline.renderers import markdown
from pipeline.renderers.base import Artifact, BaseRenderer, RenderContext
from pipeline.renderers.web_cap import cap_message
from pipeline.renderers.web_data import dumps, index_document, index_entry, notice_document
from pipeline.renderers.web_feeds import feed_context, updated_at
from pipeline.renderers.web_files import (
    Attachment,
    attachment_stamp,
    favicon_ico,
    resolve_attachments,
    robots_txt,
)
from pipeline.renderers.web_history import (
    SOURCE,
    Revision,
    earlier_revisions,
    source_document,
    what_changed,
)
from pipeline.renderers.web_links import (
    area_hash_dir,
    department_dir,
    department_hash_dir,
    host_of,
    kind_dir,
    notice_dir,
    root_of,
    short_dir,
    url_path,
    year_dir,
)
from pipeline.renderers.web_listings import (
    ENDING_SOON_DAYS,
    all_nodes,
    area_tree,
    crumbs,
    days_left,
    group_by,
    home_order,
    listing_item,
    newest_first,
    on_site,
    paginate,
    published_at,
)
from pipeline.renderers.web_projects import TEMPLATES as OVERSIGHT_TEMPLATES
from pipeline.renderers.web_projects import oversight_pages
from pipeline.renderers.web_qr import qr_svg
from pipeline.renderers.web_search import SearchDoc, build_index, values_in_order
from pipeline.renderers.web_text import page_text
from pipeline.templating import read_template_file

HTML = "text/html; charset=utf-8"
JSON = "application/json"
# Placeholders in pre-rendered listing items; autoescaping turns any '<' in notice text into
# '&lt;', so notice text can never contain them.
_ROOT_MARK = Markup("<<root>>")
_LEVEL_MARK = Markup("<<level>>")
ATOM = "application/atom+xml"
STATUS_FILTERS = (("running", "公示中"), ("ended", "公示期满"), ("none", "长期公开"),
                  ("urgent", "紧急（有效）"), ("withdrawn", "已撤回"))


class WebRenderer(BaseRenderer):
    name: ClassVar[str] = "web"
    version: ClassVar[str] = "2"
    templates: ClassVar[tuple[str, ...]] = ("web/notice.html", "web/redirect.html")
    collection_templates: ClassVar[tuple[str, ...]] = (
        "web/listing.html", "web/item.html", "web/index.html", "web/search.html", "web/feed.xml",
        "web/sitemap.xml", "web/site.css", "web/search.js", "web/site.js", "web/404.html",
        "web/favicon.svg", *OVERSIGHT_TEMPLATES,
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
        force = "in-force" if _in_force(notice, ctx) else "not-in-force"
        # A hosted attachment added, replaced or removed changes the page without the YAML.
        files = attachment_stamp(notice, ctx.config)
        return f"{notice.publicity_state(ctx.today).value}|{shown}|{force}|{files}"

    # -- one page per notice ---------------------------------------------------------------

    def render(self, notices: Sequence[Notice], ctx: RenderContext) -> Iterator[Artifact]:
        page = ctx.templates.get_template("web/notice.html")
        redirect = ctx.templates.get_template("web/redirect.html")
        common = _common(ctx)
        for notice in notices:
            if not on_site(notice, ctx.moment, ctx.config.zone):
                continue  # drafts and embargoed notices are not published to the site

            def artifact(path: str, data: bytes, media_type: str, url: str | None = None,
                         notice: Notice = notice) -> Artifact:
                meta = {"url": url} if url else {}
                return Artifact(self.name, path, data, media_type, notice.id, notice.revision,
                                meta=meta)

            canonical = ctx.notice_url(notice.id)
            attachments = resolve_attachments(notice, ctx.config)
            history = earlier_revisions(notice, ctx.config)
            for old in history:
                yield from _revision_artifacts(old, notice, ctx, page, common, artifact)
            expires = schedule.expires_at(notice, ctx.config.zone, ctx.config.site.urgent_days)
            cap_url = f"{canonical}cap.xml" if notice.is_urgent else None
            path = f"{notice_dir(notice.id)}index.html"
            view = _notice_view(notice, ctx, canonical, attachments, history, expires)
            html = page.render(common, root=root_of(path), canonical=canonical,
                               page_title=notice.title, description=notice.summary, feed=None,
                               n=notice, v=view)
            yield artifact(path, html.encode(), HTML, canonical)
            document = _document(notice, ctx, canonical, attachments, history, expires, cap_url)
            yield artifact(f"{notice_dir(notice.id)}index.json", dumps(document), JSON)
            yield artifact(f"{notice_dir(notice.id)}{SOURCE}", dumps(source_document(notice)),
                           JSON)
            if cap_url is not None:
                sent = published_at(notice, ctx.config.zone) + timedelta(
                    seconds=notice.revision - 1)
                earlier = {old.revision: old.sent for old in history}
                data = cap_message(notice, host=host_of(ctx.base_url), url=canonical,
                                   zone=ctx.config.zone, sent=sent, expires=expires,
                                   earlier_sent=earlier)
                yield artifact(f"{notice_dir(notice.id)}cap.xml", data, "application/xml")
            for item in attachments:
                if item.data is not None:
                    yield artifact(item.path, item.data, item.media_type)
            short = f"{short_dir(notice.id)}index.html"
            html = redirect.render(target=f"{root_of(short)}{notice_dir(notice.id)}",
                                   canonical=canonical, title=notice.title)
            yield artifact(short, html.encode(), HTML, ctx.short_url(notice.id))

    # -- the whole site ----------------------------------------------------------------------

    def render_collection(self, notices: Sequence[Notice], ctx: RenderContext
                          ) -> Iterator[Artifact]:
        yield from _SiteBuilder(self.name, notices, ctx).artifacts()
        yield from oversight_pages(self.name, notices, ctx)  # projects/ and stats/


def _in_force(notice: Notice, ctx: RenderContext) -> bool:
    return schedule.is_in_force(notice, ctx.moment, ctx.config.zone, ctx.config.site.urgent_days)


def _common(ctx: RenderContext) -> dict[str, Any]:
    return {"site": ctx.config.site, "office": ctx.config.office}


def _document(notice: Notice, ctx: RenderContext, canonical: str,
              attachments: Sequence[Attachment], history: Sequence[Revision],
              expires: datetime | None, cap_url: str | None) -> dict[str, Any]:
    revisions = [{"revision": old.revision, "url": f"{canonical}r{old.revision}/"}
                 for old in history]
    revisions.append({"revision": notice.revision, "url": canonical})
    return notice_document(
        notice, url=canonical, state=notice.publicity_state(ctx.today),
        published=published_at(notice, ctx.config.zone), expires=expires,
        in_force=_in_force(notice, ctx), attachments=[a.as_json() for a in attachments],
        revisions=revisions, cap_url=cap_url)


def _notice_view(notice: Notice, ctx: RenderContext, canonical: str,
                 attachments: Sequence[Attachment], history: Sequence[Revision],
                 expires: datetime | None, *, archived_of: Notice | None = None
                 ) -> dict[str, Any]:
    withdrawn_on = notice.withdrawal.on if notice.withdrawal else None
    left = days_left(notice, ctx.today)
    previous = history[-1] if history else None
    return {
        "crumbs": crumbs(notice.area),
        "department_dir": department_dir(notice.issuer),
        "published": f"{format_date(notice.published_date)} {notice.published:%H:%M}",
        "published_iso": published_at(notice, ctx.config.zone).isoformat(),
        "state": notice.publicity_state(ctx.today),
        "ending_soon": left is not None and left <= ENDING_SOON_DAYS,
        "days_left": left,
        "withdrawn_on": format_date(withdrawn_on) if withdrawn_on else None,
        "body_html": Markup(markdown.to_html(notice.body)),
        "interpretation_html": (Markup(markdown.to_html(notice.interpretation))
                                if notice.interpretation else None),
        "attachments": attachments,
        "qr_svg": Markup(qr_svg(canonical)),
        "expires": (f"{format_date(expires.date())} {expires:%H:%M}" if expires else None),
        "expired": notice.is_urgent and not notice.is_withdrawn and not _in_force(notice, ctx),
        "history": [{"revision": old.revision, "dir": f"r{old.revision}/",
                     "published": format_date(old.published.date())} for old in history],
        "previous": previous,
        "changes": what_changed(previous.notice, notice) if previous else [],
        "archived_of": archived_of,
        "cap": notice.is_urgent,
    }


def _revision_artifacts(old: Revision, current: Notice, ctx: RenderContext, page: Template,
                        common: Mapping[str, Any], artifact: Callable[..., Artifact]
                        ) -> Iterator[Artifact]:
    """The page and JSON of an earlier revision, kept at ``notices/<id>/r<N>/``."""
    folder = f"{notice_dir(current.id)}r{old.revision}/"
    canonical = f"{ctx.notice_url(current.id)}r{old.revision}/"
    path = f"{folder}index.html"
    view = _notice_view(old.notice, ctx, canonical, resolve_attachments(old.notice, ctx.config),
                        [], None, archived_of=current)
    view["state"] = PublicityState.none
    html = page.render(common, root=root_of(path), canonical=canonical,
                       page_title=f"{old.notice.title}（第{old.revision}版，已更正）",
                       description=old.notice.summary, feed=None, n=old.notice, v=view)
    yield artifact(path, html.encode(), HTML, canonical)
    yield artifact(f"{folder}{SOURCE}", dumps(old.document), JSON)
    document = notice_document(
        old.notice, url=canonical, state=PublicityState.none,
        published=published_at(old.notice, ctx.config.zone), expires=None, in_force=False,
        attachments=[], revisions=[], cap_url=None)
    yield artifact(f"{folder}index.json", dumps(document), JSON)


class _SiteBuilder:
    """Renders the collection outputs; one instance per build, templates fetched once."""

    def __init__(self, renderer: str, notices: Sequence[Notice], ctx: RenderContext) -> None:
        self.renderer, self.ctx = renderer, ctx
        self.size = ctx.config.site.page_size
        zone = ctx.config.zone
        self.visible = newest_first(
            (n for n in notices if on_site(n, ctx.moment, zone)), zone)
        # Everything public is listed, withdrawn notices too (marked): nothing published ever
        # disappears from the record.
        self.listed = self.visible
        self.in_force = {n.id for n in self.visible if _in_force(n, ctx)}
        self.items = {n.id: listing_item(n, ctx.today, zone, in_force=n.id in self.in_force)
                      for n in self.listed}
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
        yield from self._running()
        yield from self._departments()
        yield from self._areas()
        yield from self._years()
        yield from self._kinds()
        yield self._feed("all", "全部公告", "", "feed.xml", self.visible)
        yield from self._search()
        yield from self._data()
        yield from self._assets()
        yield from self._site_files()
        yield self._sitemap()

    # -- helpers -----------------------------------------------------------------------------

    def _artifact(self, path: str, text: str | bytes, media_type: str = HTML) -> Artifact:
        data = text.encode() if isinstance(text, str) else text
        return Artifact(self.renderer, path, data, media_type)

    def _page(self, template: Template, path: str, title: str, **values: Any) -> Artifact:
        for name in ("feed", "crumbs", "intro", "children", "description", "more"):
            values.setdefault(name, None)
        folder = path.removesuffix("index.html")
        html = template.render(self.common, root=root_of(path), page_title=title,
                               canonical=f"{self.ctx.base_url}/{url_path(folder)}", **values)
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
                 more: dict[str, Any] | None = None) -> dict[str, Any]:
        level = 3 if heading else 2
        return {"heading": heading, "key": key, "more": more,
                "html": self._items_html(ids, root_of(path), level)}

    def _listing(self, folder: str, title: str, notices: Sequence[Notice],
                 **values: Any) -> Iterator[Artifact]:
        ids = [n.id for n in notices if n.id in self.items]
        values.setdefault("description", f"{title}：共{len(ids)}条公告公示。")
        for path, pages, chunk in paginate(folder, ids, self.size):
            sections = [self._section(None, "items", chunk, path)] if chunk else []
            yield self._page(self.listing, path, title, heading=title, pages=pages,
                             sections=sections, **values)
        self.sitemap.append((f"{self.ctx.base_url}/{url_path(folder)}", None))

    def _redirect(self, old_folder: str, new_folder: str, title: str) -> Artifact:
        path = f"{old_folder}index.html"
        html = self.ctx.templates.get_template("web/redirect.html").render(
            target=f"{root_of(path)}{new_folder}",
            canonical=f"{self.ctx.base_url}/{url_path(new_folder)}", title=title)
        return self._artifact(path, html)

    def _feed(self, scope: str, title: str, html_dir: str, path: str,
              notices: Sequence[Notice]) -> Artifact:
        context = feed_context(scope, title, url_path(html_dir), url_path(path), notices,
                               self.ctx)
        return self._artifact(path, self.feed.render(context), ATOM)

    @staticmethod
    def _feed_link(folder: str, title: str) -> dict[str, str]:
        return {"path": f"{folder}feed.xml", "title": f"{title}（Atom）"}

    def _index(self, path: str, heading: str, intro: str,
               nodes: Sequence[Mapping[str, Any]]) -> Artifact:
        self.sitemap.append((f"{self.ctx.base_url}/{path.removesuffix('index.html')}", None))
        return self._page(self.index, path, heading, heading=heading, intro=intro, nodes=nodes,
                          description=f"{heading}：{intro}" if intro else heading)

    # -- the pages ---------------------------------------------------------------------------

    def _running_ids(self) -> list[str]:
        """Every notice in its publicity period and in force, the one ending soonest first."""
        running = [n for n in self.listed if n.id in self.in_force
                   and self.items[n.id]["state"] == "running"]
        running.sort(key=lambda n: (n.publicity.end if n.publicity else n.published_date))
        return [n.id for n in running]

    def _home(self) -> Iterator[Artifact]:
        zone = self.ctx.config.zone
        pinned = [n.id for n in self.listed if n.is_urgent and n.id in self.in_force]
        rest = [n for n in home_order(self.listed, self.ctx.today, zone) if n.id not in pinned]
        running_count = len(self._running_ids())
        site = self.ctx.config.site
        description = site.description or f"{self.ctx.config.office.name}：扶贫资金项目公告公示，" \
            f"公示中{running_count}条。"
        for path, pages, chunk in paginate("", [n.id for n in rest], self.size):
            running = [i for i in chunk if self.items[i]["state"] == "running"
                       and i in self.in_force]
            others = [i for i in chunk if i not in running]
            more = {"dir": "running/", "text": f"查看全部公示中公告（{running_count}条）"}
            sections = []
            if pages.number == 1 and pinned:
                sections.append(self._section("紧急通知", "urgent", pinned, path))
            if running:
                sections.append(self._section("公示中", "running", running, path, more))
            if others:
                sections.append(self._section("最新公告", "latest", others, path))
            yield self._page(self.listing, path, site.title, heading=site.title, pages=pages,
                             sections=sections, intro=self.ctx.config.office.name,
                             feed=self._feed_link("", "全部公告"), description=description,
                             home=True)
        self.sitemap.append((f"{self.ctx.base_url}/", None))

    def _running(self) -> Iterator[Artifact]:
        ids = self._running_ids()
        by_id = {n.id: n for n in self.listed}
        yield from self._listing("running/", "公示中", [by_id[i] for i in ids],
                                 intro="正在公示期内的全部公告，按截止日期排列；"
                                       "三天内截止的标有“还剩N天”。")

    def _departments(self) -> Iterator[Artifact]:
        listed = group_by(self.listed, lambda n: n.issuer)
        nodes = []
        for issuer in sorted(listed):
            folder = department_dir(issuer)
            feed = self._feed_link(folder, issuer)
            yield from self._listing(folder, issuer, listed[issuer], feed=feed)
            yield self._feed(f"department/{issuer}", issuer, folder, feed["path"],
                             listed[issuer])
            yield self._redirect(department_hash_dir(issuer), folder, issuer)
            nodes.append({"name": issuer, "dir": folder, "count": len(listed[issuer]),
                          "children": []})
        yield self._index("departments/index.html", "按部门浏览",
                          "谁分配、谁公开，谁使用、谁公开：各发布单位的公告。", nodes)

    def _areas(self) -> Iterator[Artifact]:
        counties = area_tree(self.listed, self.ctx.config)
        for node in all_nodes(counties):
            feed = self._feed_link(node.dir, node.name)
            children = [{"name": c.name, "dir": c.dir, "count": len(c.notices)}
                        for c in node.children.values()]
            title = node.path.replace("/", "")
            yield from self._listing(node.dir, title, node.notices, feed=feed,
                                     crumbs=crumbs(node.path)[:-1], children=children)
            yield self._feed(f"area/{node.path}", title, node.dir, feed["path"], node.notices)
            yield self._redirect(area_hash_dir(node.path), node.dir, title)
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
        docs = []
        for n in self.listed:
            item = self.items[n.id]
            status = "withdrawn" if n.is_withdrawn else (
                "urgent" if n.is_urgent and n.id in self.in_force else item["state"])
            text = page_text(n)
            row = [n.id, n.title, n.kind.value, published_at(n, self.ctx.config.zone)
                   .date().isoformat(), n.area, n.issuer, status, n.summary]
            docs.append(SearchDoc(row, text.heading, text.body))
        areas = values_in_order(a for n in self.listed for a in n.area_chain[:2])
        filters = {
            "areas": sorted(areas),
            "years": sorted({n.published.year for n in self.listed}, reverse=True),
            "kinds": [[k.value, k.label] for k in Kind],
            "status": [list(pair) for pair in STATUS_FILTERS],
        }
        index = build_index(docs, filters)
        yield self._page(self.ctx.templates.get_template("web/search.html"),
                         "search/index.html", "搜索", filters=filters,
                         description="搜索本站全部公告：标题、地区、正文、项目信息、资金来源、"
                                     "责任人和电话。")
        for path, data in index.files:
            yield Artifact(self.renderer, path, data, JSON)

    def _data(self) -> Iterator[Artifact]:
        entries = []
        for n in self.listed:
            canonical = self.ctx.notice_url(n.id)
            expires = schedule.expires_at(n, self.ctx.config.zone,
                                          self.ctx.config.site.urgent_days)
            document = {"id": n.id, "revision": n.revision, "url": canonical,
                        "kind": n.kind.value, "title": n.title, "issuer": n.issuer,
                        "area": n.area, "published": published_at(n, self.ctx.config.zone)
                        .isoformat(), "status": n.status.value,
                        "expires": expires.isoformat() if expires else None,
                        "in_force": n.id in self.in_force,
                        "publicity": ({"state": n.publicity_state(self.ctx.today).value}
                                      if n.publicity else None),
                        "cap": f"{canonical}cap.xml" if n.is_urgent else None}
            entries.append(index_entry(document, f"{canonical}index.json"))
        yield self._artifact("data/notices.json", dumps(index_document(
            entries, site=self.ctx.base_url, generated=self.ctx.moment)), JSON)

    def _assets(self) -> Iterator[Artifact]:
        env = self.ctx.templates
        yield self._artifact("assets/site.css", read_template_file(env, "web/site.css"),
                             "text/css; charset=utf-8")
        for script in ("search.js", "site.js"):
            yield self._artifact(f"assets/{script}", read_template_file(env, f"web/{script}"),
                                 "text/javascript; charset=utf-8")
        yield self._artifact("assets/favicon.svg", read_template_file(env, "web/favicon.svg"),
                             "image/svg+xml")

    def _site_files(self) -> Iterator[Artifact]:
        yield self._artifact("favicon.ico", favicon_ico(), "image/vnd.microsoft.icon")
        yield self._artifact("robots.txt", robots_txt(self.ctx.base_url),
                             "text/plain; charset=utf-8")
        template = self.ctx.templates.get_template("web/404.html")
        # Served at any depth, so its links are relative to <base href>, the site's root.
        html = template.render(self.common, root="", page_title="页面不存在",
                               canonical=None, feed=None, description="页面不存在。",
                               base=f"{self.ctx.base_url}/")
        yield self._artifact("404.html", html)

    def _sitemap(self) -> Artifact:
        urls = list(self.sitemap)
        urls += [(self.ctx.notice_url(n.id), updated_at(n, self.ctx).date().isoformat())
                 for n in self.visible]
        template = self.ctx.templates.get_template("web/sitemap.xml")
        return self._artifact("sitemap.xml", template.render(urls=urls),
                              "application/xml")
