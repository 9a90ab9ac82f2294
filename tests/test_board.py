"""The board sheet (公示栏): real WeasyPrint output of every demo notice, checked with poppler
(pdfinfo, pdffonts, pdftotext -bbox, pdftoppm) and zxing-cpp."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.load import load_notices
from pipeline.model import Notice, PublicityState
from pipeline.project import Project
from pipeline.renderers.base import Artifact, RenderContext
from pipeline.renderers.board import BoardRenderer
from pipeline.renderers.board_layout import fit_headline
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2018, 7, 8)
A4_PT = (595.0, 842.0)
A3_PT = (842.0, 1191.0)


def poppler(tool: str, *args: str | Path) -> str:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian package poppler-utils; "
                    ".ci/system-deps --test installs it)")
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True,
                          check=True).stdout


def demo_notices() -> list[Notice]:
    project = Project.open(REPO)
    return load_notices((project.content_dir,), project.config, project.root).notices


def context(config: Config | None = None) -> RenderContext:
    return RenderContext(config=config or Project.open(REPO).config, today=TODAY,
                         templates=make_environment(template_dirs(REPO)))


def sheets(artifacts: list[Artifact]) -> dict[str, dict[str, Artifact]]:
    found: dict[str, dict[str, Artifact]] = {}
    for artifact in artifacts:
        assert artifact.notice_id is not None
        found.setdefault(artifact.notice_id, {})[artifact.path.split("/")[-1]] = artifact
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Notice, Path, dict]]:
    """Every demo notice's sheet at A4 (one batch): notice, PDF file and sheet.json."""
    notices = demo_notices()
    folder = tmp_path_factory.mktemp("sheets")
    out: dict[str, tuple[Notice, Path, dict]] = {}
    by_id = sheets(list(BoardRenderer().render(notices, context())))
    for notice in notices:
        files = by_id[notice.id]
        pdf = folder / f"{notice.id}.pdf"
        pdf.write_bytes(files["sheet.pdf"].data)
        out[notice.id] = (notice, pdf, json.loads(files["sheet.json"].data))
    return out


def pdfinfo(pdf: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in poppler("pdfinfo", pdf).splitlines()
                if ":" in line)


@cache
def line_height_per_pt() -> float:
    """pdftotext's word boxes are the font's ascent plus descent high: the largest ratio of
    the sheet's three faces turns a box height into a lower bound of the font size."""
    from fontTools.ttLib import TTCollection

    from pipeline.fonts import SANS, SERIF, find_font

    ratios = []
    for family, style in ((SANS, "Regular"), (SANS, "Bold"), (SERIF, "Regular")):
        font = find_font(family, style)
        face = TTCollection(str(font.path)).fonts[font.index]
        hhea = face["hhea"]
        ratios.append((hhea.ascent - hhea.descent) / face["head"].unitsPerEm)
    return max(ratios)


def placed_words(pdf: Path, page: int = 1) -> list[tuple[str, float, float]]:
    """(text, font size in pt at least, top) of every word on ``page``, in reading order."""
    xml = poppler("pdftotext", "-bbox", "-f", page, "-l", page, pdf, "-")
    ratio = line_height_per_pt()
    return [(text, (float(y1) - float(y0)) / ratio, float(y0))
            for y0, y1, text in re.findall(
                r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>',
                xml)]


def words(pdf: Path, page: int = 1) -> list[tuple[str, float]]:
    return [(text, size) for text, size, _ in placed_words(pdf, page)]


def headline_words(pdf: Path, headline: str) -> list[tuple[str, float]]:
    """The words at the top of the sheet (under the 编号) that spell the headline."""
    found: list[tuple[str, float]] = []
    for text, size, _ in sorted(placed_words(pdf), key=lambda w: w[2]):
        if text.startswith("编号"):
            continue
        if text not in headline or "".join(t for t, _ in found) + text not in headline:
            break
        found.append((text, size))
    assert "".join(t for t, _ in found) == headline, (headline, found)
    return found


def text_of(pdf: Path) -> str:
    return re.sub(r"\s+", "", poppler("pdftotext", pdf, "-"))


# -- every demo notice, at A4 ------------------------------------------------------------------

def test_every_demo_notice_is_one_a4_page(demo: dict[str, tuple[Notice, Path, dict]]) -> None:
    assert len(demo) >= 30
    for notice_id, (_, pdf, meta) in demo.items():
        info = pdfinfo(pdf)
        assert info["Pages"].strip() == "1", notice_id
        width, height = map(float, re.findall(r"[\d.]+", info["Page size"])[:2])
        assert (round(width), round(height)) == A4_PT, notice_id
        assert meta["pages"] == 1 and meta["paper"] == "A4" and meta["fit"] == "one page"
        assert 14.0 <= meta["body_pt"] <= 16.0, notice_id


def test_fonts_are_embedded_hei_and_song(demo: dict[str, tuple[Notice, Path, dict]]) -> None:
    for notice_id, (_, pdf, _) in demo.items():
        rows = poppler("pdffonts", pdf).splitlines()[2:]
        assert rows, notice_id
        for row in rows:
            assert row.split()[-5] == "yes", (notice_id, row)  # the "emb" column
        names = " ".join(row.split()[0] for row in rows)
        assert "Noto-Sans-CJK-SC-Bold" in names and "Noto-Serif-CJK-SC" in names, notice_id


def test_nothing_on_a_sheet_is_smaller_than_14_pt_and_the_headline_is_22_or_more(
        demo: dict[str, tuple[Notice, Path, dict]]) -> None:
    for notice_id, (_, pdf, meta) in demo.items():
        found = words(pdf)
        assert found, notice_id
        # A lower bound (the tallest face's ratio): 14 pt Song measures 13.89, 13.5 pt any
        # face at most 13.5.
        smallest = min(size for _, size in found)
        assert smallest >= 13.85, (notice_id, min(found, key=lambda w: w[1]))
        head = headline_words(pdf, meta["headline"])
        assert min(size for _, size in head) >= 21.9, (notice_id, head)
    # The body is set at the size the metadata says (the serif words of the office's text).
    _, pdf, meta = demo["sf-2018-0012"]
    body = [size for text, size in words(pdf) if text.startswith("根据《什邡市")]
    assert body and abs(body[0] - meta["body_pt"]) < 0.5


def test_chinese_text_is_extractable_with_the_regulated_parts(
        demo: dict[str, tuple[Notice, Path, dict]]) -> None:
    _, pdf, _ = demo["sf-2018-0012"]
    text = text_of(pdf)
    for part in ("师古镇马祖村产业道路硬化工程项目公示", "编号：sf-2018-0012", "项目名称",
                 "实施地点", "建设内容", "实施期限", "实施单位", "及责任人", "资金来源", "及规模",
                 "绩效目标", "带贫减贫", "受益户数", "合计68.5万元",
                 "公示期：2018年7月4日至7月14日", "监督电话0838-8202012",
                 "扶贫监督举报电话12317", "什邡市师古镇人民政府", "2018年7月4日", "盖章处",
                 "公示期满前请勿撕毁"):
        assert part in text, part
    # No publicity-state badge (公示中, 已结束 …): paper cannot update itself. A badge is a word
    # of its own; the office's sentences may well say "公示中" inside them.
    badges = {state.label for state in PublicityState}
    for notice_id, (_, sheet, _) in demo.items():
        shown = {text.strip("【】") for text, _ in words(sheet)}
        assert not shown & badges, notice_id


def test_the_qr_code_opens_the_notice_page(demo: dict[str, tuple[Notice, Path, dict]],
                                           tmp_path: Path) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    for notice_id in ("sf-2018-0012", "sf-2018-0013", "sf-2018-0020", "ck-2018-0003"):
        _, pdf, _ = demo[notice_id]
        prefix = tmp_path / notice_id
        poppler("pdftoppm", "-r", "150", "-gray", "-png", "-singlefile", pdf, prefix)
        codes = zxingcpp.read_barcodes(Image.open(f"{prefix}.png"))
        assert [c.text for c in codes] == [
            f"https://gongshi.example.gov.cn/notices/{notice_id}/"], notice_id


def test_a_correction_is_headed_and_names_what_changed(
        demo: dict[str, tuple[Notice, Path, dict]]) -> None:
    notice, pdf, meta = demo["sf-2018-0013"]
    assert notice.revision == 2 and meta["sheet"] == "correction"
    text = text_of(pdf)
    assert "更正公示" in text
    assert "编号：sf-2018-0013（第2版）" in text
    assert "市级财政专项扶贫资金由8万元更正为10万元" in text
    assert "项目总投资由45.8万元更正为47.8万元" in text
    assert "本更正公示替换原公示，请将原公示揭下" in text


def test_a_withdrawal_says_which_sheet_to_take_down(
        demo: dict[str, tuple[Notice, Path, dict]]) -> None:
    _, pdf, meta = demo["sf-2018-0020"]
    assert meta["sheet"] == "withdrawal"
    text = text_of(pdf)
    assert "撤回公告" in text
    assert "《湔氐镇高槐村农田水利设施建设项目公示》（编号：sf-2018-0020" in text
    assert "请将原公示从公示栏揭下" in text
    assert "项目名称" not in text  # a short sheet, not the withdrawn notice again
    assert "2018年7月3日" in text  # the day of the withdrawal
    assert "本公告张贴期间请勿撕毁" in text


# -- A3, and a notice too long for one page -------------------------------------------------------

def test_a3_by_config(tmp_path: Path) -> None:
    [notice] = [n for n in demo_notices() if n.id == "sf-2018-0012"]
    config = Project.open(REPO).config.model_copy(
        update={"board": Config(board={"paper": "A3"}).board})
    files = sheets(list(BoardRenderer().render([notice], context(config))))[notice.id]
    pdf = tmp_path / "a3.pdf"
    pdf.write_bytes(files["sheet.pdf"].data)
    width, height = map(float, re.findall(r"[\d.]+", pdfinfo(pdf)["Page size"])[:2])
    assert (round(width), round(height)) == A3_PT
    assert json.loads(files["sheet.json"].data)["body_pt"] >= 20


def test_a_long_notice_shrinks_to_14_pt_then_flows_onto_a_second_page(tmp_path: Path) -> None:
    [notice] = [n for n in demo_notices() if n.id == "sf-2018-0012"]
    paragraph = "公示期间，请广大群众对项目的实施地点、建设内容、资金来源及规模进行监督。" * 4
    long_notice = notice.model_copy(update={"body": "\n\n".join([paragraph] * 8)})
    files = sheets(list(BoardRenderer().render([notice, long_notice.model_copy(
        update={"id": "sf-2018-0999"})], context())))
    meta = json.loads(files["sf-2018-0999"]["sheet.json"].data)
    assert meta["pages"] == 2 and meta["body_pt"] == 14.0 and meta["shrunk"]
    assert "sheet-2.png" in files["sf-2018-0999"]
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(files["sf-2018-0999"]["sheet.pdf"].data)
    assert pdfinfo(pdf)["Pages"].strip() == "2"
    second = re.sub(r"\s+", "", poppler("pdftotext", "-f", "2", "-l", "2", pdf, "-"))
    assert "师古镇马祖村产业道路硬化工程项目公示" in second  # the title, repeated
    assert "编号：sf-2018-0999" in second
    assert "第2页共2页" in second
    first = re.sub(r"\s+", "", poppler("pdftotext", "-f", "1", "-l", "1", pdf, "-"))
    assert "第1页共2页" in first
    assert min(size for _, size in words(pdf, 2)) >= 13.85
    # The short notice of the same batch kept its single page.
    assert json.loads(files["sf-2018-0012"]["sheet.json"].data)["pages"] == 1


def test_a_headline_too_long_for_a_line_breaks_between_words() -> None:
    size, lines = fit_headline("城口县2018年统筹整合使用财政涉农资金项目资金安排公告", 16, 180)
    assert size >= 22 and lines == ("城口县2018年统筹整合使用", "财政涉农资金项目资金安排公告")
    assert fit_headline("师古镇马祖村产业道路硬化工程项目公示", 16, 180)[1] == (
        "师古镇马祖村产业道路硬化工程项目公示",)


def test_the_sheet_does_not_change_with_the_day() -> None:
    [notice] = [n for n in demo_notices() if n.id == "sf-2018-0012"]
    renderer = BoardRenderer()
    ctx = context()
    later = RenderContext(config=ctx.config, today=date(2018, 7, 20), templates=ctx.templates)
    assert renderer.cache_token(notice, ctx) == renderer.cache_token(notice, later) == ""
    first = sheets(list(renderer.render([notice], ctx)))[notice.id]["sheet.pdf"].data
    again = sheets(list(renderer.render([notice], later)))[notice.id]["sheet.pdf"].data
    assert first == again  # same bytes: reproducible, and nothing of the day on paper
