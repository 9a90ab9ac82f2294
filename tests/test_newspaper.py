"""The newspaper block renderer: real WeasyPrint output, checked with poppler and zxing-cpp."""

from __future__ import annotations

import io
import json
import re
import warnings
from pathlib import Path

import pytest
from PIL import Image
from test_newspaper_support import LONG_PARAGRAPH, context, notice, poppler

from pipeline.errors import FitError
from pipeline.renderers import newspaper_subsetting
from pipeline.renderers.base import Artifact
from pipeline.renderers.newspaper import NewspaperRenderer, render_unbatched
from pipeline.renderers.newspaper_grid import Grid, mm_to_pt, text_columns

WITHDRAWN = {"status": "withdrawn", "withdrawal": {"reason": "项目选址调整，重新公示"}}
CORRECTED = {"revision": 2, "correction": {"note": "更正市级配套资金金额",
                                           "changes": ["市级财政配套资金由8万元更正为8.5万元"]}}


def by_name(artifacts: list[Artifact]) -> dict[str, dict[str, Artifact]]:
    grouped: dict[str, dict[str, Artifact]] = {}
    for artifact in artifacts:
        assert artifact.notice_id is not None
        grouped.setdefault(artifact.notice_id, {})[artifact.path.split("/")[-1]] = artifact
    return grouped


@pytest.fixture(scope="module")
def batch() -> dict[str, dict[str, Artifact]]:
    """One batch of three blocks: a plain notice, a correction and a withdrawal."""
    notices = [notice(), notice(id="sf-2018-0901", **CORRECTED),
               notice(id="sf-2018-0902", **WITHDRAWN)]
    return by_name(list(NewspaperRenderer().render(notices, context())))


def write(tmp_path: Path, artifact: Artifact) -> Path:
    path = tmp_path / artifact.path.replace("/", "_")
    path.write_bytes(artifact.data)
    return path


def pdf_text(pdf: bytes) -> str:
    """The text in content order (-raw: column by column), whitespace removed."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        return re.sub(r"\s+", "", poppler("pdftotext", "-raw", handle.name, "-"))


def test_every_block_has_pdf_proof_and_metadata(batch: dict[str, dict[str, Artifact]]) -> None:
    assert set(batch) == {"sf-2018-0012", "sf-2018-0901", "sf-2018-0902"}
    for files in batch.values():
        assert set(files) == {"block.pdf", "proof.png", "block.json"}
        assert files["block.pdf"].data.startswith(b"%PDF")
        meta = json.loads(files["block.json"].data)
        assert meta["fit"] == "fits" and meta["overflow_mm"] == 0
        assert meta["body_pt"] == 9.0 and meta["grid_columns"] == 2


def test_fonts_are_embedded_noto_cjk(batch: dict[str, dict[str, Artifact]],
                                     tmp_path: Path) -> None:
    listing = poppler("pdffonts", write(tmp_path, batch["sf-2018-0012"]["block.pdf"]))
    rows = listing.splitlines()[2:]
    assert rows, listing
    for row in rows:
        assert re.search(r"\byes\s+yes\s+yes\b", row), f"font not embedded/subset: {row}"
    names = " ".join(row.split()[0] for row in rows).replace("-", "").lower()
    assert "notosanscjksc" in names and "bold" in names
    assert "notoserifcjksc" in names


def test_text_is_extractable_with_title_and_amounts(
        batch: dict[str, dict[str, Artifact]]) -> None:
    flat = pdf_text(batch["sf-2018-0012"]["block.pdf"].data)
    assert "师古镇马祖村产业道路硬化工程项目公示" in flat
    assert "68.5万元" in flat and "40万元" in flat and "8.5万元" in flat
    assert "12317" in flat  # the supervision hotline


def test_page_size_is_the_block_size(batch: dict[str, dict[str, Artifact]],
                                     tmp_path: Path) -> None:
    files = batch["sf-2018-0012"]
    meta = json.loads(files["block.json"].data)
    info = poppler("pdfinfo", write(tmp_path, files["block.pdf"]))
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    grid = Grid.from_config(context().config.newspaper)
    assert width == pytest.approx(mm_to_pt(grid.span_mm(2)), abs=0.5)
    assert height == pytest.approx(mm_to_pt(meta["height_mm"]), abs=0.5)
    assert re.search(r"Pages:\s+1\n", info)


def test_proof_is_150_dpi(batch: dict[str, dict[str, Artifact]]) -> None:
    files = batch["sf-2018-0012"]
    meta = json.loads(files["block.json"].data)
    image = Image.open(io.BytesIO(files["proof.png"].data))
    assert image.size[0] == pytest.approx(meta["width_mm"] / 25.4 * 150, abs=1)
    assert image.size[1] == pytest.approx(meta["height_mm"] / 25.4 * 150, abs=1)


def test_qr_in_the_proof_opens_the_notice(batch: dict[str, dict[str, Artifact]]) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    image = Image.open(io.BytesIO(batch["sf-2018-0012"]["proof.png"].data))
    codes = zxingcpp.read_barcodes(image)
    assert [c.text for c in codes] == ["https://gongshi.example.gov.cn/notices/sf-2018-0012/"]
    # Printed size: this URL is a 33-module symbol, plus a quiet zone of 4 modules a side.
    corners = codes[0].position
    symbol_mm = (corners.top_right.x - corners.top_left.x) / 150 * 25.4
    assert symbol_mm * (33 + 8) / 33 >= 15


def test_qr_of_a_one_column_block_decodes_too() -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    files = by_name(list(NewspaperRenderer().render([notice()], context(block_columns=1))))
    png = files["sf-2018-0012"]["proof.png"].data
    meta = json.loads(files["sf-2018-0012"]["block.json"].data)
    assert meta["text_columns"] == 1 and meta["width_mm"] == pytest.approx(55.0)
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [c.text for c in codes] == ["https://gongshi.example.gov.cn/notices/sf-2018-0012/"]


def test_correction_and_withdrawal_are_labelled(
        batch: dict[str, dict[str, Artifact]]) -> None:
    corrected = pdf_text(batch["sf-2018-0901"]["block.pdf"].data)
    withdrawn = pdf_text(batch["sf-2018-0902"]["block.pdf"].data)
    assert "【更正】" in corrected and "更正说明" in corrected
    assert "【撤回】" in withdrawn and "撤回原因：项目选址调整" in withdrawn


def test_batch_geometry_equals_single(batch: dict[str, dict[str, Artifact]]) -> None:
    single = by_name(render_unbatched([notice(id="sf-2018-0901", **CORRECTED)], context()))
    keys = ("width_mm", "height_mm", "text_columns", "lines_per_column", "body_pt")
    alone = json.loads(single["sf-2018-0901"]["block.json"].data)
    together = json.loads(batch["sf-2018-0901"]["block.json"].data)
    assert {k: alone[k] for k in keys} == {k: together[k] for k in keys}


def test_text_columns_follow_the_block_width() -> None:
    grid = Grid.from_config(context().config.newspaper)
    assert [text_columns(grid.span_mm(k), 9) for k in (1, 2, 3, 6)] == [1, 2, 3, 7]


# -- fixed heights -------------------------------------------------------------------------

def _natural_height(body_pt: float, long: notice) -> float:  # type: ignore[valid-type]
    ctx = context(body_pt=body_pt, min_body_pt=min(8.0, body_pt))
    files = by_name(list(NewspaperRenderer().render([long], ctx)))[long.id]
    return float(json.loads(files["block.json"].data)["height_mm"])


@pytest.fixture(scope="module")
def long_notice() -> object:
    return notice(id="sf-2018-0903", body="\n\n".join([LONG_PARAGRAPH] * 8))


def test_fixed_height_overflow_is_a_located_fit_error(long_notice: object) -> None:
    ctx = context(block_height_mm=80)
    with pytest.raises(FitError) as caught:
        list(NewspaperRenderer().render([long_notice], ctx))  # type: ignore[list-item]
    message = str(caught.value)
    assert caught.value.notice_id == "sf-2018-0903"
    assert message.startswith("sf-2018-0903: ")
    assert re.search(r"over by \d+ lines / \d+\.\d mm", message), message
    assert "--shrink" in message


def test_shrink_steps_the_body_down_until_it_fits(long_notice: object) -> None:
    at_9 = _natural_height(9.0, long_notice)
    at_8 = _natural_height(8.0, long_notice)
    assert at_8 < at_9 - 5
    fixed = round((at_8 + at_9) / 2, 1)
    with pytest.raises(FitError):
        list(NewspaperRenderer().render([long_notice], context(block_height_mm=fixed)))
    shrunk = by_name(list(NewspaperRenderer().render(
        [long_notice], context(block_height_mm=fixed, shrink=True))))["sf-2018-0903"]
    meta = json.loads(shrunk["block.json"].data)
    assert meta["fit"] == "shrunk" and 8.0 <= meta["body_pt"] < 9.0
    assert meta["height_mm"] == pytest.approx(fixed) and meta["height_mode"] == "fixed"
    # Nothing was cut: the whole text is still there.
    assert pdf_text(shrunk["block.pdf"].data).count("接受社会各界和广大群众监督") == 8


def test_shrink_gives_up_at_the_minimum(long_notice: object) -> None:
    ctx = context(block_height_mm=60, shrink=True)
    with pytest.raises(FitError, match="minimum 8 pt"):
        list(NewspaperRenderer().render([long_notice], ctx))  # type: ignore[list-item]


def test_missing_harfbuzz_subsetting_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(newspaper_subsetting.harfbuzz_subsetting(), bool)
    newspaper_subsetting.warn_if_slow_subsetting.cache_clear()
    monkeypatch.setattr(newspaper_subsetting, "harfbuzz_subsetting", lambda: False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        newspaper_subsetting.warn_if_slow_subsetting()
        newspaper_subsetting.warn_if_slow_subsetting()
    newspaper_subsetting.warn_if_slow_subsetting.cache_clear()
    assert len(caught) == 1
    assert issubclass(caught[0].category, newspaper_subsetting.SlowFontSubsettingWarning)
    assert "libharfbuzz-subset0" in str(caught[0].message)


def test_columns_are_balanced_side_by_side(tmp_path: Path) -> None:
    """Three text columns: lines dealt as evenly as they go, the column tops aligned."""
    long_body = "\n\n".join([LONG_PARAGRAPH] * 3)
    files = by_name(list(NewspaperRenderer().render(
        [notice(body=long_body)], context(block_columns=3))))["sf-2018-0012"]
    meta = json.loads(files["block.json"].data)
    assert meta["text_columns"] == 3
    boxes = poppler("pdftotext", "-bbox", write(tmp_path, files["block.pdf"]), "-")
    words = [(float(x), float(y), text) for x, y, text in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', boxes)]
    top = min(y for _, y, text in words if text.startswith("根据"))
    facts = min(y for _, y, text in words if text == "项目名称")
    third = meta["width_pt"] / 3
    columns: dict[int, list[float]] = {}
    for x, y, _ in words:
        if top - 1 <= y < facts - 1:
            columns.setdefault(int(x // third), []).append(round(y))
    lines = [len(set(columns.get(c, []))) for c in range(3)]
    assert min(lines) >= 1 and max(lines) - min(lines) <= 1, lines
    assert lines[0] == meta["lines_per_column"]
    assert all(min(columns[c]) == pytest.approx(top, abs=1) for c in range(3))


def test_same_notice_same_bytes() -> None:
    first = {a.path: a.sha256 for a in NewspaperRenderer().render([notice()], context())}
    again = {a.path: a.sha256 for a in NewspaperRenderer().render([notice()], context())}
    assert first == again


def test_build_reports_an_overflow_as_one_located_line(tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner
    from test_newspaper_support import EXAMPLE

    from pipeline.cli import cli

    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    (root / "noticecast.yaml").write_text("newspaper:\n  block_height_mm: 80\n", "utf-8")
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data["body"] = "\n\n".join([LONG_PARAGRAPH] * 8)
    (root / "content" / "sf-2018-0012.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = CliRunner().invoke(cli, ["-C", str(root), "build", "--only", "newspaper",
                                      "--today", "2018-07-08"])
    assert result.exit_code == 1
    [line] = [ln for ln in result.output.splitlines() if "does not fit" in ln]
    assert line.startswith("content/sf-2018-0012.yaml: newspaper: sf-2018-0012: ")
    assert re.search(r"over by \d+ lines / [\d.]+ mm", line)
    assert "Traceback" not in result.output
    assert not (root / "out" / "newspaper" / "sf-2018-0012").exists()  # nothing half-made
