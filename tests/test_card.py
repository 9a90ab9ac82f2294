"""The mobile card: every demo card scans, at the sizes and module sizes the issue asks for."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from pipeline.build import BuildOptions, build
from pipeline.errors import RenderError
from pipeline.fonts import SANS, find_font
from pipeline.load import load_notices
from pipeline.model import Notice, Status
from pipeline.project import Project
from pipeline.renderers import qr
from pipeline.renderers.base import Artifact, RenderContext, RenderOptions
from pipeline.renderers.caption import utf16_len
from pipeline.renderers.card import CardLayout, CardRenderer, card_specs, card_texts
from pipeline.renderers.card_style import load_style
from pipeline.templating import read_template_file

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (pip: zxing-cpp) decodes the QR")

try:  # the card is drawn with Debian's fonts-noto-cjk; without it there is nothing to test
    find_font(SANS)
except RenderError as missing:
    pytest.skip(str(missing), allow_module_level=True)

TODAY = date(2018, 7, 8)
RARE = "\U0002A6A5"  # 𪚥: in neither Noto Sans CJK SC nor DejaVu Sans
Demo = tuple[Project, list[Notice], list[Artifact]]


def _context(project: Project, *, print_sizes: bool = False) -> RenderContext:
    return RenderContext(config=project.config, today=TODAY, templates=project.templates,
                         options=RenderOptions(print_sizes=print_sizes))


def _notices(project: Project) -> list[Notice]:
    loaded = load_notices([project.content_dir], project.config, project.root)
    assert loaded.notices, loaded.problems
    return loaded.notices


def _render(notices: list[Notice], ctx: RenderContext) -> list[Artifact]:
    return list(CardRenderer().render(notices, ctx))


def _image(artifact: Artifact) -> Image.Image:
    return Image.open(io.BytesIO(artifact.data))


def _pngs(artifacts: list[Artifact], name: str) -> Iterator[Artifact]:
    return (a for a in artifacts if a.path.endswith(name))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    import shutil

    repo = Path(__file__).resolve().parent.parent
    root = tmp_path_factory.mktemp("site")
    shutil.copy(repo / "noticecast.yaml", root / "noticecast.yaml")
    shutil.copytree(repo / "content", root / "content")
    project = Project.open(root)
    notices = _notices(project)
    return project, notices, _render(notices, _context(project, print_sizes=True))


def test_every_demo_card_decodes_to_its_url_even_as_a_forwarded_screenshot(demo: Demo) -> None:
    project, notices, artifacts = demo
    assert len(notices) >= 1
    for notice in notices:
        url = f"{project.config.site.base_url}/notices/{notice.id}/"
        for name in ("card-1080x1920.png", "card-1080x1350.png"):
            card = next(a for a in artifacts if a.path == f"{notice.id}/{name}")
            assert card.meta["url"] == url
            image = _image(card)
            found = zxingcpp.read_barcodes(image)
            assert [b.text for b in found] == [url], (notice.id, name)
            assert found[0].ec_level in ("M", "Q", "H")
            # Forwarded: scaled to 540 px wide and saved as JPEG at quality 60.
            small = image.convert("RGB").resize(
                (540, round(image.height * 540 / image.width)), Image.Resampling.BILINEAR)
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=60)
            again = zxingcpp.read_barcodes(Image.open(io.BytesIO(buffer.getvalue())))
            assert [b.text for b in again] == [url], (notice.id, name, "after JPEG")


def test_sizes_module_sizes_and_print_dpi(demo: Demo) -> None:
    project, notices, artifacts = demo
    dpi = project.config.card.print_dpi
    # The edge cases (withdrawn, corrected, the longest title) and a few ordinary ones.
    chosen = sorted(notices, key=lambda n: (not n.is_withdrawn, not n.is_correction,
                                            -len(n.title)))[:8]
    for notice in chosen:
        ours = [a for a in artifacts if a.notice_id == notice.id]
        names = sorted(a.path.split("/")[1] for a in ours)
        assert names == ["caption.txt", "card-1080x1350.png", "card-1080x1920.png",
                         "card-a6-feed.png", "card-a6-tall.png"]
        url = ours[0].meta["url"]
        inner = qr.modules(url) - 2 * qr.QUIET_ZONE
        for card in (a for a in ours if a.media_type == "image/png"):
            image = _image(card)
            assert list(image.size) == card.meta["size"]
            found = zxingcpp.read_barcodes(image)
            assert [b.text for b in found] == [url], card.path
            position = found[0].position
            side = math.dist((position.top_left.x, position.top_left.y),
                             (position.top_right.x, position.top_right.y))
            module_px = (side + 1) / inner  # zxing reports the centres of the corner pixels
            if "a6" in card.path:
                assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.5)
                width_mm, height_mm = (px / dpi * 25.4 for px in image.size)
                assert width_mm <= 105.5 and height_mm <= 148.5  # on an A6 sheet
                assert max(width_mm / 105, height_mm / 148) > 0.98  # and filling it
                assert module_px / dpi * 25.4 >= 0.5
            else:
                assert image.width == 1080
                assert module_px >= 8
            assert round(module_px) == card.meta["module_px"]


def test_nothing_is_drawn_in_the_side_margins(demo: Demo) -> None:
    """No text runs past the measure: between the header and the bottom panel, the margins
    are bare paper on every card (the withdrawal seal, which overhangs on purpose, aside)."""
    _, notices, artifacts = demo
    margin = 72
    for notice in notices:
        if notice.is_withdrawn:
            continue
        for name in ("card-1080x1920.png", "card-1080x1350.png"):
            card = next(a for a in artifacts if a.path == f"{notice.id}/{name}")
            image = _image(card).convert("RGB")
            top, bottom = 360, image.height - 560
            for left, right in ((0, margin - 4), (image.width - margin + 4, image.width)):
                strip = image.crop((left, top, right, bottom))
                # Each row of a margin is one colour: paper, or a full-width band (banner).
                for y in range(strip.height):
                    row = strip.crop((0, y, strip.width, y + 1))
                    assert len(row.getcolors(4) or [0, 0]) == 1, (notice.id, name, left, y)


def test_caption_is_utf8_within_telegram_limit_and_links_the_page(demo: Demo) -> None:
    _, notices, artifacts = demo
    for notice in notices:
        caption = next(a for a in artifacts if a.path == f"{notice.id}/caption.txt")
        text = caption.data.decode("utf-8")
        assert caption.media_type.startswith("text/plain")
        assert utf16_len(text) <= 1024
        assert text.rstrip().endswith(caption.meta["url"])
        assert notice.title in text
        if notice.is_correction:
            assert text.startswith("【更正】")
        if notice.is_withdrawn:
            assert text.startswith("【已撤回】")


def test_a_character_without_glyph_becomes_a_located_warning(demo: Demo) -> None:
    project, notices, _ = demo
    notice = notices[0].model_copy(update={"title": f"关于{RARE}村道路项目的公示"})
    artifacts = _render([notice], _context(project))
    main = next(_pngs(artifacts, "card-1080x1920.png"))
    warnings = list(main.meta["warnings"])
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{notice.id}: character '{RARE}' (U+2A6A5) has no glyph in "
                                  "Noto Sans CJK SC")
    assert "(title)" in warnings[0]
    assert zxingcpp.read_barcodes(_image(main))  # the card is still whole
    # Once per notice, not once per size.
    assert all("warnings" not in a.meta for a in artifacts if a is not main)


def test_a_character_the_fallback_font_has_gives_no_warning(demo: Demo) -> None:
    project, notices, _ = demo
    notice = notices[0].model_copy(update={"title": "扶贫项目公示☎热线"})
    artifacts = _render([notice], _context(project))
    assert all("warnings" not in a.meta for a in artifacts)


def test_drafts_are_rendered_too(demo: Demo) -> None:
    project, notices, _ = demo
    draft = notices[0].model_copy(update={"status": Status.draft})
    artifacts = _render([draft], _context(project))
    assert {a.path.split("/")[1] for a in artifacts} == {
        "card-1080x1920.png", "card-1080x1350.png", "caption.txt"}


def test_a_project_overrides_the_layout_file(demo: Demo, tmp_path: Path) -> None:
    project, notices, _ = demo
    text = read_template_file(project.templates, "card/layout.yaml")
    assert 'header: "#B3191F"' in text
    site = tmp_path / "site"
    (site / "templates" / "card").mkdir(parents=True)
    (site / "noticecast.yaml").write_text((project.root / "noticecast.yaml").read_text("utf-8"),
                                          "utf-8")
    (site / "templates" / "card" / "layout.yaml").write_text(
        text.replace('header: "#B3191F"', 'header: "#123456"'), "utf-8")
    own = Project.open(site)
    card = next(_pngs(_render(notices[:1], _context(own)), "card-1080x1920.png"))
    assert _image(card).convert("RGB").getpixel((5, 5)) == (0x12, 0x34, 0x56)


def test_cards_build_through_the_pipeline(demo_project: Path) -> None:
    project = Project.open(demo_project)
    report = build(project, BuildOptions(today=TODAY, only=("card",)))
    assert report.ok, report.problems
    ids = [n.id for n in _notices(project)]
    for notice_id in ids:
        folder = project.out_dir / "card" / notice_id
        assert (folder / "card-1080x1920.png").is_file()
        assert (folder / "caption.txt").is_file()
    assert report.renderers["card"].rendered == len(ids)


def test_three_to_six_facts_on_every_card(demo: Demo) -> None:
    project, notices, _ = demo
    ctx = _context(project)
    style = load_style(ctx.templates)
    for notice in notices:
        texts = card_texts(notice, ctx, style)
        for spec in card_specs(False, 300):
            layout = CardLayout(notice, ctx, style, spec, texts)
            layout.draw()
            assert 3 <= len(layout.facts_shown) <= 6, (notice.id, spec.variant)
            if notice.kind.is_fund_notice:
                assert layout.facts_shown[0] == "资金总额"


def _colours(card: Artifact) -> set[tuple[int, int, int]]:
    image = _image(card).convert("RGB")
    return {colour for _, colour in image.getcolors(1 << 16) or []}


def test_badges_banners_and_seal_are_in_their_colours(demo: Demo) -> None:
    project, notices, artifacts = demo
    style = load_style(project.templates)
    urgent_red = style.kind_colour("urgent")
    correction = style.pair("banners", "correction")[0]
    withdrawn = style.pair("banners", "withdrawn")[0]
    for notice in notices:
        card = next(a for a in artifacts if a.path == f"{notice.id}/card-1080x1920.png")
        colours = _colours(card)
        assert style.kind_colour(notice.kind.value) in colours
        assert (urgent_red in colours) == notice.is_urgent, notice.id
        assert (withdrawn in colours) == notice.is_withdrawn, notice.id
        assert (correction in colours) == (notice.is_correction and not notice.is_withdrawn)
