"""The citizen's portal: urgent first and expiring, history kept, attachments hosted, readable
addresses, site files, data for other systems (JSON against our schema, CAP against OASIS's)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_web_support import (
    announcement,
    build_web,
    html_problems,
    make_project,
    notice,
    site_of,
    write_notice,
)

from pipeline.config import Config
from pipeline.model import Notice
from pipeline.renderers.ticker import on_air
from pipeline.renderers.web_links import area_dir, area_hash_dir, department_dir
from pipeline.renderers.web_text import page_text
from pipeline.schedule import expires_at, is_in_force

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "docs" / "schema"
CAP_XSD = REPO / "tests" / "fixtures" / "CAP-v1.2.xsd"
ZONE = ZoneInfo("Asia/Shanghai")
# Words the page adds around a notice's own text (badges and banners), not searched for.
BADGE_WORDS = ("公示中", "已结束", "未开始", "长期公开", "紧急", "已撤回", "更正", "已失效",
               "请及时关注。", "有效期至", "附件暂缺")


def urgent(notice_id: str = "sf-2018-0500", **changes: object) -> dict[str, object]:
    data = announcement(notice_id, kind="urgent", title="关于谨防冒充扶贫干部诈骗的紧急提醒",
                        summary="近期有人冒充扶贫干部收取“手续费”，请勿转账。",
                        published="2018-07-05 10:00:00")
    data.update(changes)
    return data


def text_of(path: Path) -> str:
    return path.read_text("utf-8")


# -- the home page: urgent pinned while in force, every running notice, ending soon -------------

def test_urgent_notice_is_pinned_until_it_expires(tmp_path: Path) -> None:
    running = [notice(id=f"sf-2018-{i:04d}", published=f"2018-07-0{i % 5 + 1} 09:00:00")
               for i in range(1, 8)]
    root = make_project(tmp_path / "p", [*running, urgent()], page_size=3)
    build_web(root, date(2018, 7, 8))
    home = text_of(site_of(root) / "index.html")
    assert home.index("紧急通知") < home.index("sf-2018-0500") < home.index('id="h-running"')
    # Seven days after publication (site.urgent_days) it is no longer pinned, marked 已失效.
    build_web(root, date(2018, 7, 13))
    home = text_of(site_of(root) / "index.html")
    assert "紧急通知" not in home and "sf-2018-0500" not in home.split("最新公告")[0]
    page = text_of(site_of(root) / "notices" / "sf-2018-0500" / "index.html")
    assert "已失效" in page and "2018年7月12日 10:00" in page


def test_expiry_is_the_schedule_rule_and_the_ticker_obeys_it(tmp_path: Path) -> None:
    config = Config(regions={"什邡市": {}}, timezone="Asia/Shanghai")
    item = Notice.model_validate({**urgent(), "channels": ["ticker", "site"]},
                                 context={"timezone": "Asia/Shanghai"})
    assert expires_at(item, ZONE, 7) == datetime(2018, 7, 12, 10, 0, tzinfo=ZONE)
    assert is_in_force(item, datetime(2018, 7, 12, 9, 59, tzinfo=ZONE), ZONE, 7)
    assert not is_in_force(item, datetime(2018, 7, 12, 10, 0, tzinfo=ZONE), ZONE, 7)
    assert on_air(item, date(2018, 7, 11), config)
    assert not on_air(item, date(2018, 7, 12), config)  # 2018's 暴雨暂停施工 leaves the screens
    own = Notice.model_validate({**urgent(), "expires": "2018-07-06"},
                                context={"timezone": "Asia/Shanghai"})
    assert expires_at(own, ZONE, 7) == datetime(2018, 7, 6, 23, 59, 59, tzinfo=ZONE)
    plain = Notice.model_validate(notice(), context={"timezone": "Asia/Shanghai"})
    assert expires_at(plain, ZONE, 7) is None
    # A notice without `expires` hashes as before the field existed (sent notices stay unchanged).
    assert "expires" not in plain.model_dump()


def test_running_listing_has_every_running_notice_paged_and_ending_soon_marked(
        tmp_path: Path) -> None:
    items = [notice(id=f"sf-2018-{i:04d}", publicity={"start": "2018-07-01",
                                                      "end": f"2018-07-{10 + i:02d}"})
             for i in range(7)]
    root = make_project(tmp_path / "p", items, page_size=3)
    build_web(root, date(2018, 7, 8))
    site = site_of(root)
    pages = [site / "running" / "index.html", site / "running" / "page" / "2" / "index.html",
             site / "running" / "page" / "3" / "index.html"]
    found = [m for p in pages for m in re.findall(r"notices/(sf-2018-\d{4})/", text_of(p))]
    assert sorted(set(found)) == [f"sf-2018-{i:04d}" for i in range(7)]
    assert found[0] == "sf-2018-0000"  # the one ending soonest first
    first = text_of(pages[0])
    assert "还剩2天" in first and "还剩3天" in first
    assert "还剩4天" not in "".join(text_of(p) for p in pages)
    home = text_of(site / "index.html")
    assert 'href="./running/">查看全部公示中公告（7条）' in home


# -- history: withdrawn stays findable, revisions keep their text --------------------------------

def test_each_revision_keeps_its_text_and_the_page_says_what_changed(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    changed = notice(revision=2, published="2018-07-06 09:00:00",
                     correction={"note": "更正资金数额", "changes": ["市级配套资金改为9.5万元"]})
    changed["project"]["funds"][2]["amount"] = 95000
    changed["project"]["total"] = 695000
    changed["body"] = "更正后的正文。"
    write_notice(root, changed)
    build_web(root)
    site = site_of(root)
    current = text_of(site / "notices" / "sf-2018-0012" / "index.html")
    assert "本公告于2018年7月6日 09:00更正" in current
    assert 'href="r1/"' in current and "查看原公告（第1版）" in current
    assert "资金合计：68.5万元 → 69.5万元" in current and "正文有修改" in current
    old = text_of(site / "notices" / "sf-2018-0012" / "r1" / "index.html")
    assert "现将马祖村产业道路硬化工程有关情况予以公示" in old and "68.5万元" in old
    assert "第1版（原公告）" in old and html_problems(old) == []
    # A third build (nothing changed) keeps revision 1; so does a third revision.
    build_web(root)
    assert (site / "notices" / "sf-2018-0012" / "r1" / "index.html").is_file()
    third = {**changed, "revision": 3, "correction": {"note": "再次更正"}}
    write_notice(root, third)
    build_web(root)
    assert (site / "notices" / "sf-2018-0012" / "r1" / "index.html").is_file()
    assert "更正后的正文" in text_of(site / "notices" / "sf-2018-0012" / "r2" / "index.html")
    document = json.loads(text_of(site / "notices" / "sf-2018-0012" / "index.json"))
    assert [r["revision"] for r in document["revisions"]] == [1, 2, 3]


# -- attachments -----------------------------------------------------------------------------

def test_attachments_are_hosted_with_type_and_size(tmp_path: Path) -> None:
    item = notice(attachments=[
        {"title": "项目明细表", "url": "https://gongshi.example.gov.cn/files/sf-2018-0012/a.pdf"},
        {"title": "照片", "url": "files/sf-2018-0012/photo.png"},
        {"title": "缺失的附件", "url": "files/sf-2018-0012/missing.pdf"},
        {"title": "外部链接", "url": "https://www.example.org/x.pdf"},
    ])
    root = make_project(tmp_path / "p", [item])
    files = root / "content" / "files" / "sf-2018-0012"
    files.mkdir(parents=True)
    (files / "a.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 2048)
    (files / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    build_web(root)
    site = site_of(root)
    assert (site / "files" / "sf-2018-0012" / "a.pdf").read_bytes().startswith(b"%PDF")
    page = text_of(site / "notices" / "sf-2018-0012" / "index.html")
    assert 'href="../../files/sf-2018-0012/a.pdf"' in page and "（PDF，2.0 KB）" in page
    assert "（PNG 图片，108 B）" in page
    assert "缺失的附件（附件暂缺）" in page
    assert 'href="https://www.example.org/x.pdf"' in page


# -- addresses, site files -------------------------------------------------------------------

def test_readable_addresses_with_redirects_from_the_hashed_ones(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    build_web(root)
    site = site_of(root)
    assert area_dir("什邡市/师古镇/马祖村") == "areas/什邡市/师古镇/马祖村/"
    assert "sf-2018-0012" in text_of(site / "areas" / "什邡市" / "师古镇" / "马祖村" / "index.html")
    assert "sf-2018-0012" in text_of(site / "departments" / "什邡市师古镇人民政府" / "index.html")
    old = text_of(site / area_hash_dir("什邡市/师古镇/马祖村") / "index.html")
    assert 'url=../../areas/什邡市/师古镇/马祖村/"' in old
    canonical = "https://gongshi.example.gov.cn/areas/%E4%BB%80%E9%82%A1%E5%B8%82/"
    assert f'<link rel="canonical" href="{canonical}">' in text_of(site / area_dir("什邡市")
                                                                  / "index.html")
    assert canonical in text_of(site / "sitemap.xml")
    assert department_dir("a/b") == "departments/a／b/"


def test_site_files_titles_descriptions_and_footer(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice()])
    config = root / "noticecast.yaml"
    config.write_text(text_of(config) + "  sponsor: 什邡市乡村振兴局\n  site_code: \"5106820001\"\n"
                      "  icp: 蜀ICP备00000000号\n", "utf-8")
    build_web(root)
    site = site_of(root)
    assert "Sitemap: https://gongshi.example.gov.cn/sitemap.xml" in text_of(site / "robots.txt")
    assert (site / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (site / "assets" / "favicon.svg").is_file()
    missing = text_of(site / "404.html")
    assert "页面不存在" in missing and '<base href="https://gongshi.example.gov.cn/">' in missing
    home = text_of(site / "index.html")
    assert "<title>扶贫资金项目公告公示</title>" in home
    assert "主办单位：什邡市乡村振兴局" in home and "网站标识码：5106820001" in home
    assert "蜀ICP备00000000号" in home and 'id="text-size"' in home
    for path in site.rglob("index.html"):
        text = text_of(path)
        if 'http-equiv="refresh"' in text or path.relative_to(site).parts[0] in ("projects",
                                                                                  "stats"):
            continue  # redirects; the oversight pages have their own templates
        assert re.search(r'<meta name="description" content="[^"]+">', text), path
        assert text.count("扶贫资金项目公告公示 - 扶贫资金项目公告公示") == 0, path
        assert html_problems(text) == [], path


def test_soft_line_wraps_do_not_become_line_breaks(demo_project: Path, demo_today: date) -> None:
    build_web(demo_project, demo_today)
    for path in (site_of(demo_project) / "notices").glob("*/index.html"):
        body = text_of(path).split('<div class="body">', 1)[-1].split("</div>", 1)[0]
        assert "<br" not in body, path
    page = text_of(site_of(demo_project) / "notices" / "sf-2018-0012" / "index.html")
    assert "产业道路硬化工程有关情况予以公示" in page  # the wrapped line joins without a space


# -- search text covers what the page shows ----------------------------------------------------

class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self.depth += 1
        if tag in ("svg", "h2", "figcaption", "dt", "th") or (
                tag == "p" and (dict(attrs).get("class") or "").split(" ")[0] in (
                    "note", "data-links", "banner")):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.depth -= 1
        if tag in ("svg", "h2", "figcaption", "dt", "th", "p") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip and data.strip():
            self.parts.append(data.strip())


def test_search_text_holds_every_word_of_the_notice_page(demo_project: Path,
                                                         demo_today: date) -> None:
    from pipeline.load import load_notices
    from pipeline.project import Project

    build_web(demo_project, demo_today)
    project = Project.open(demo_project)
    notices = load_notices([project.content_dir], project.config, project.root).notices
    checked = 0
    for item in notices:
        path = site_of(demo_project) / "notices" / item.id / "index.html"
        if not path.is_file():
            continue
        parser = _Text()
        # An attachment's type and size, the days left: the site's words, not the notice's.
        html = re.sub(r'<span class="(file-info|tag tag-ending)">.*?</span>', "", text_of(path))
        parser.feed(html.replace("<p>本公告已撤回，仅作存档，内容不再有效。</p>", ""))
        full = re.sub(r"\s+", "", page_text(item).full)
        for part in parser.parts:
            for piece in re.split(r"[（）：:，、·\s]+", part):
                if piece and piece not in BADGE_WORDS and not re.fullmatch(r"第\d+版", piece):
                    assert piece in full, (item.id, piece)
                    checked += 1
    assert checked > 500


def test_search_index_size_at_1000_notices_and_growth(tmp_path: Path) -> None:
    """First search = meta.json + the shards of the query's pairs, gzip; ≤ 150 KB at 1,000."""
    from bench.generate import generate
    from pipeline.load import load_notices
    from pipeline.project import Project
    from pipeline.renderers.web_search import SearchDoc, build_index, grams, shard_of

    sizes = {}
    for n in (250, 1000):
        project = Project.open(generate(tmp_path / f"b{n}", n))
        notices = load_notices([project.content_dir], project.config, project.root).notices
        docs = []
        for item in notices:
            text = page_text(item)
            docs.append(SearchDoc([item.id, item.title, item.kind.value, "2018-07-01", item.area,
                                   item.issuer, "running", item.summary], text.heading,
                                  text.body))
        index = build_index(docs, {})
        shards = [len(gzip.compress(s)) for s in index.shards]
        query = grams("马祖村道路 中央财政专项扶贫资金")
        touched = {shard_of(g, len(shards)) for g in query}
        sizes[n] = (len(gzip.compress(index.meta)), max(shards), sum(shards[k] for k in touched))
    meta, _, first = sizes[1000]
    assert meta + first <= 150 * 1024, sizes
    # Linear or better: meta grows with the notices, a shard stays about the same size.
    assert sizes[1000][0] <= 4 * sizes[250][0] * 1.1, sizes
    assert sizes[1000][1] <= 2 * sizes[250][1], sizes


# -- data for other systems --------------------------------------------------------------------

def _validator(name: str) -> object:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(text_of(SCHEMAS / name))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_json_documents_and_index_match_the_schema(demo_project: Path,
                                                   demo_today: date) -> None:
    build_web(demo_project, demo_today)
    site = site_of(demo_project)
    notice_schema, index_schema = _validator("notice-1.schema.json"), \
        _validator("index-1.schema.json")
    documents = list((site / "notices").glob("*/index.json"))
    assert len(documents) > 20
    for path in documents:
        errors = list(notice_schema.iter_errors(json.loads(text_of(path))))  # type: ignore[attr-defined]
        assert errors == [], (path, errors[:1])
    index = json.loads(text_of(site / "data" / "notices.json"))
    assert list(index_schema.iter_errors(index)) == []  # type: ignore[attr-defined]
    assert {e["id"] for e in index["notices"]} == {p.parent.name for p in documents}
    # The schema is strict enough to fail: a wrong kind, a float amount.
    bad = json.loads(text_of(site / "notices" / "sf-2018-0012" / "index.json"))
    bad["project"]["funds"][0]["amount_yuan"] = 400000.5
    assert list(notice_schema.iter_errors(bad))  # type: ignore[attr-defined]


def _cap(path: Path) -> object:
    etree = pytest.importorskip("lxml.etree")
    schema = etree.XMLSchema(etree.parse(str(CAP_XSD)))
    document = etree.parse(str(path))
    schema.assertValid(document)
    return document


def test_cap_alert_update_and_cancel_validate_against_the_oasis_schema(tmp_path: Path) -> None:
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    root = make_project(tmp_path / "p", [urgent()])
    build_web(root)
    cap = site_of(root) / "notices" / "sf-2018-0500" / "cap.xml"
    alert = _cap(cap)
    assert alert.findtext("cap:msgType", namespaces=ns) == "Alert"  # type: ignore[attr-defined]
    info = alert.find("cap:info", ns)  # type: ignore[attr-defined]
    assert info.findtext("cap:expires", namespaces=ns) == "2018-07-12T10:00:00+08:00"
    assert info.findtext("cap:area/cap:areaDesc", namespaces=ns) == "什邡市"
    assert info.findtext("cap:web", namespaces=ns) == \
        "https://gongshi.example.gov.cn/notices/sf-2018-0500/"
    assert "0838-8512345" in info.findtext("cap:contact", namespaces=ns)
    first_id = alert.findtext("cap:identifier", namespaces=ns)  # type: ignore[attr-defined]

    write_notice(root, urgent(revision=2, correction={"note": "补充举报电话"}))
    build_web(root)
    update = _cap(cap)
    assert update.findtext("cap:msgType", namespaces=ns) == "Update"  # type: ignore[attr-defined]
    refs = update.findtext("cap:references", namespaces=ns)  # type: ignore[attr-defined]
    assert refs == f"gongshi.example.gov.cn,{first_id},2018-07-05T10:00:00+08:00"

    write_notice(root, urgent(revision=2, correction={"note": "补充举报电话"},
                              status="withdrawn",
                              withdrawal={"reason": "误发", "on": "2018-07-07"}))
    build_web(root)
    cancel = _cap(cap)
    assert cancel.findtext("cap:msgType", namespaces=ns) == "Cancel"  # type: ignore[attr-defined]
    refs = cancel.findtext("cap:references", namespaces=ns)  # type: ignore[attr-defined]
    assert first_id in refs and ".sf-2018-0500.r2," in refs


def test_check_reports_missing_and_oversize_attachments_at_their_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    item = notice(attachments=[
        {"title": "项目明细表", "url": "https://gongshi.example.gov.cn/files/sf-2018-0012/a.pdf"},
        {"title": "照片", "url": "files/sf-2018-0012/big.png"},
        {"title": "外部链接", "url": "https://www.example.org/x.pdf"},
    ])
    root = make_project(tmp_path / "p", [item])
    config = root / "noticecast.yaml"
    config.write_text(text_of(config) + "  max_attachment_bytes: 4096\n", "utf-8")
    files = root / "content" / "files" / "sf-2018-0012"
    files.mkdir(parents=True)
    (files / "big.png").write_bytes(b"0" * 5000)
    result = subprocess.run([sys.executable, "-m", "pipeline", "check"], cwd=root,
                            capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in result.stdout.splitlines() if "attachment" in line]
    source = text_of(root / "content" / "sf-2018-0012.yaml").splitlines()
    assert len(lines) == 2 and result.returncode == 1, result.stdout + result.stderr
    missing, big = lines
    assert re.match(r"content/sf-2018-0012\.yaml:\d+:\d+: attachment '.*a\.pdf' is not in "
                    r"content/files/sf-2018-0012/a\.pdf; put the file there", missing)
    assert "a.pdf" in source[int(missing.split(":")[1]) - 1]
    assert "4.9 KB, more than site.max_attachment_bytes (4.0 KB)" in big
    assert "big.png" in source[int(big.split(":")[1]) - 1]


def test_site_channel_keeps_files_uploaded_by_hand_across_swaps(tmp_path: Path) -> None:
    from channels.base import Delivery
    from channels.site import SiteChannel
    from pipeline.project import Project

    root = make_project(tmp_path / "p", [notice(attachments=[
        {"title": "明细表", "url": "files/sf-2018-0012/a.pdf"}])])
    (root / "content" / "files" / "sf-2018-0012").mkdir(parents=True)
    (root / "content" / "files" / "sf-2018-0012" / "a.pdf").write_bytes(b"%PDF-1.4 built")
    build_web(root)
    project = Project.open(root)
    channel = SiteChannel.from_config(project.config, root / "out" / "channels" / "site")
    [target] = channel.targets(project.config)
    delivery = Delivery(notice_id="*", revision=1, target=target, artifacts=())
    channel.deliver(delivery)
    uploaded = channel.web_root / "files" / "2018" / "scan.pdf"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_bytes(b"%PDF-1.4 uploaded by hand")
    (channel.web_root / "files" / "sf-2018-0012" / "a.pdf").write_bytes(b"edited by hand")
    write_notice(root, announcement("sf-2018-0300"))
    build_web(root)
    channel.deliver(delivery)
    assert uploaded.read_bytes() == b"%PDF-1.4 uploaded by hand"
    assert (channel.web_root / "notices" / "sf-2018-0300" / "index.html").is_file()
    # The build's own copy wins over an edit in the web root.
    assert (channel.web_root / "files" / "sf-2018-0012" / "a.pdf").read_bytes() == \
        b"%PDF-1.4 built"


def test_an_attachment_added_later_is_picked_up_without_touching_the_yaml(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", [notice(attachments=[
        {"title": "明细表", "url": "files/sf-2018-0012/a.pdf"}])])
    build_web(root)
    page = site_of(root) / "notices" / "sf-2018-0012" / "index.html"
    assert "明细表（附件暂缺）" in text_of(page)
    (root / "content" / "files" / "sf-2018-0012").mkdir(parents=True)
    (root / "content" / "files" / "sf-2018-0012" / "a.pdf").write_bytes(b"%PDF-1.4 x")
    build_web(root)
    assert "（PDF，10 B）" in text_of(page)
    assert (site_of(root) / "files" / "sf-2018-0012" / "a.pdf").is_file()


def test_earlier_revision_survives_a_deleted_out_folder_through_the_web_root(
        tmp_path: Path) -> None:
    import shutil

    from channels.base import Delivery
    from channels.site import SiteChannel
    from pipeline.project import Project

    root = make_project(tmp_path / "p", [notice()])
    config = root / "noticecast.yaml"
    config.write_text(text_of(config) + f"  web_root: {tmp_path / 'www'}\n", "utf-8")
    build_web(root)
    project = Project.open(root)
    channel = SiteChannel.from_config(project.config, root / "out" / "channels" / "site")
    [target] = channel.targets(project.config)
    channel.deliver(Delivery(notice_id="*", revision=1, target=target, artifacts=()))
    shutil.rmtree(root / "out")
    write_notice(root, notice(revision=2, correction={"note": "更正"}, summary="更正后的摘要。"))
    build_web(root)
    old = text_of(site_of(root) / "notices" / "sf-2018-0012" / "r1" / "index.html")
    assert "马祖村产业道路硬化工程总投资68.5万元" in old
