"""The ticker renderer: per-notice lines, the playlist, the strip, the GIF, playlist.json."""

from __future__ import annotations

import hashlib
import io
import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pipeline.config import Config, Ticker
from pipeline.model import Notice
from pipeline.renderers.base import Artifact, RenderContext
from pipeline.renderers.led import PREVIEW_TARGET_FPS
from pipeline.renderers.ticker import TickerRenderer, current_playlist
from pipeline.templating import default_templates_dir, make_environment

TODAY = date(2018, 7, 8)


def make_notice(**changes: Any) -> Notice:
    """A running village project notice (sf-2018-0012); ``None`` removes a field."""
    data: dict[str, Any] = {
        "id": "sf-2018-0012",
        "kind": "project_notice",
        "title": "师古镇马祖村产业道路硬化工程项目公示",
        "issuer": "什邡市师古镇人民政府",
        "level": "village",
        "area": "什邡市/师古镇/马祖村",
        "published": datetime(2018, 7, 4, 9, 0),
        "publicity": {"start": date(2018, 7, 4), "end": date(2018, 7, 14)},
        "project": {
            "name": "马祖村产业道路硬化工程",
            "location": "什邡市师古镇马祖村3组至5组",
            "content": "新建C25混凝土产业道路2.3公里",
            "implementer": "什邡市师古镇人民政府",
            "responsible": {"name": "李明华", "phone": "13908101234"},
            "funds": [{"source": "中央财政专项扶贫资金", "amount": 400000},
                      {"source": "省级财政专项扶贫资金", "amount": 285000}],
        },
        "contact": {"supervision_phone": "0838-8202012"},
        "summary": "马祖村产业道路硬化工程总投资68.5万元，7月4日至7月14日公示，欢迎监督。",
        "body": "现将有关情况予以公示。",
        "status": "approved",
    }
    data.update(changes)
    return Notice.model_validate({k: v for k, v in data.items() if v is not None})


def urgent(**changes: Any) -> Notice:
    fields: dict[str, Any] = {
        "id": "sf-2018-0018", "kind": "urgent", "level": "town", "area": "什邡市/蓥华镇",
        "project": None, "publicity": None, "title": "仁和村扶贫道路暂停施工",
        "summary": "受强降雨影响，仁和村扶贫道路即日起暂停施工，请群众远离施工路段。"}
    return make_notice(**{**fields, **changes})


def context(today: date = TODAY, **ticker: Any) -> RenderContext:
    ticker.setdefault("preview_max_s", 3.0)  # a short GIF, unless a test is about the GIF
    config = Config(ticker=Ticker(**ticker))
    return RenderContext(config=config, today=today,
                         templates=make_environment((default_templates_dir().resolve(),)))


def collection(notices: list[Notice], ctx: RenderContext) -> dict[str, Artifact]:
    return {a.path: a for a in TickerRenderer().render_collection(notices, ctx)}


def playlist_of(artifacts: dict[str, Artifact]) -> dict[str, Any]:
    return json.loads(artifacts["playlist.json"].data)


# -- the per-notice line ----------------------------------------------------------------------

def test_each_notice_gets_its_line_file() -> None:
    notices = [make_notice(), urgent()]
    artifacts = list(TickerRenderer().render(notices, context()))
    assert [(a.path, a.notice_id) for a in artifacts] == [
        ("sf-2018-0012/line.txt", "sf-2018-0012"), ("sf-2018-0018/line.txt", "sf-2018-0018")]
    assert artifacts[0].data.decode() == (
        "【公示】马祖村产业道路硬化工程，总投资68.5万元，公示期7月4日至7月14日，"
        "监督电话0838-8202012\n")


# -- what is on air ---------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "on_air"), [
    ({}, True),
    ({"status": "draft"}, False),
    ({"status": "withdrawn", "withdrawal": {"reason": "项目取消"}}, False),
    ({"publicity": {"start": date(2018, 6, 20), "end": date(2018, 7, 7)}}, False),  # ended
    ({"publicity": {"start": date(2018, 7, 9), "end": date(2018, 7, 19)}}, False),  # not yet
    ({"publicity": {"start": date(2018, 7, 8), "end": date(2018, 7, 8)}}, True),  # its one day
    ({"published": datetime(2018, 7, 9, 9, 0)}, False),  # published tomorrow
    ({"kind": "policy", "project": None}, False),  # policies do not go to the ticker
    ({"kind": "policy", "project": None, "channels": ["ticker"]}, True),  # unless they say so
])
def test_the_playlist_holds_running_approved_notices(changes: dict[str, Any],
                                                     on_air: bool) -> None:
    notice = make_notice(**changes)
    assert (current_playlist([notice], TODAY, Config()) == [notice]) is on_air


def test_urgent_notices_play_without_a_period_but_leave_when_it_ends() -> None:
    assert current_playlist([urgent()], TODAY, Config()) == [urgent()]
    ended = urgent(publicity={"start": date(2018, 6, 1), "end": date(2018, 6, 10)})
    assert current_playlist([ended], TODAY, Config()) == []


def test_order_is_urgent_then_level_then_newest() -> None:
    county = make_notice(id="county", level="county", area="什邡市",
                         published=datetime(2018, 7, 1, 9, 0))
    town_old = make_notice(id="town-old", level="town", area="什邡市/师古镇",
                           published=datetime(2018, 7, 2, 9, 0))
    town_new = make_notice(id="town-new", level="town", area="什邡市/师古镇",
                           published=datetime(2018, 7, 5, 9, 0))
    village = make_notice(id="village", published=datetime(2018, 7, 6, 9, 0))
    alarm = urgent(id="alarm", level="village", area="什邡市/师古镇/马祖村")
    playing = current_playlist([village, town_old, alarm, county, town_new], TODAY, Config())
    assert [n.id for n in playing] == ["alarm", "county", "town-new", "town-old", "village"]


def test_a_correction_replaces_its_line() -> None:
    corrected = make_notice(revision=2, correction={"note": "更正总投资"},
                            project={**make_notice().model_dump(mode="json")["project"],
                                     "funds": [{"source": "中央财政专项扶贫资金",
                                                "amount": 700000}]})
    items = playlist_of(collection([corrected], context()))["items"]
    assert [(i["id"], i["revision"]) for i in items] == [("sf-2018-0012", 2)]
    assert items[0]["line"].startswith("【公示】更正：马祖村产业道路硬化工程，总投资70万元")


# -- the collection artifacts -----------------------------------------------------------------

def test_playlist_json_describes_lines_geometry_speed_and_assets() -> None:
    artifacts = collection([make_notice(), urgent()], context())
    assert list(artifacts) == ["strip.png", "preview.gif", "tv.html", "playlist.json"]
    playlist = playlist_of(artifacts)
    assert [i["id"] for i in playlist["items"]] == ["sf-2018-0018", "sf-2018-0012"]
    assert playlist["date"] == "2018-07-08"
    assert playlist["speed_px_per_s"] == 32
    strip = Image.open(io.BytesIO(artifacts["strip.png"].data))
    assert (playlist["strip"]["width"], playlist["strip"]["height"]) == strip.size
    assert playlist["loop_px"] == strip.width
    assert playlist["loop_seconds"] == pytest.approx(strip.width / 32, abs=1e-3)
    for path in ("strip.png", "preview.gif", "tv.html"):
        assert playlist["assets"][path]["sha256"] == hashlib.sha256(
            artifacts[path].data).hexdigest()
    # The lines sit where playlist.json says, in order, after a blank lead of one panel.
    spans = [(i["x"], i["width"]) for i in playlist["items"]]
    assert spans[0][0] == playlist["strip"]["lead_px"] == 192
    assert spans[1][0] == spans[0][0] + spans[0][1] + playlist["strip"]["gap_px"]
    assert spans[1][0] + spans[1][1] == strip.width


@pytest.mark.parametrize("height", [16, 32])
def test_strip_is_one_bit_at_panel_height_in_the_led_colour(height: int) -> None:
    artifacts = collection([make_notice()], context(panel_height=height, color="#00ff00"))
    strip = Image.open(io.BytesIO(artifacts["strip.png"].data))
    assert strip.height == height
    assert strip.mode in ("P", "1") and strip.info.get("transparency") is None
    assert {color for _, color in strip.convert("RGB").getcolors()} == {(0, 0, 0), (0, 255, 0)}
    assert artifacts["strip.png"].data[24] == 1  # the PNG's bit depth


def gif_frames(data: bytes) -> list[tuple[Image.Image, int]]:
    gif = Image.open(io.BytesIO(data))
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append((gif.convert("RGB"), gif.info["duration"]))
    return frames


@pytest.mark.parametrize(("speed", "max_s"), [(32.0, 600.0), (48.0, 600.0), (32.0, 5.0)])
def test_gif_frame_count_follows_geometry_and_speed(speed: float, max_s: float) -> None:
    artifacts = collection([make_notice()],
                           context(speed_px_per_s=speed, preview_max_s=max_s))
    playlist = playlist_of(artifacts)
    loop_px = playlist["loop_px"]
    covered = min(loop_px, math.floor(speed * max_s))
    step = max(1, round(speed / PREVIEW_TARGET_FPS))
    frames = gif_frames(artifacts["preview.gif"].data)
    assert len(frames) == math.ceil(covered / step) == playlist["preview"]["frames"]
    assert playlist["preview"]["whole_loop"] is (covered == loop_px)
    assert {f.size for f, _ in frames} == {(192 * 4, 16 * 4)}
    # The delays add up to the time the covered pixels take at the configured speed.
    total_ms = sum(duration for _, duration in frames)
    assert total_ms == pytest.approx(1000 * len(frames) * step / speed, abs=10)


def test_gif_frames_show_the_strip_scrolling() -> None:
    artifacts = collection([make_notice()], context(preview_max_s=600.0))
    strip = Image.open(io.BytesIO(artifacts["strip.png"].data)).convert("RGB")
    frames = gif_frames(artifacts["preview.gif"].data)
    step = playlist_of(artifacts)["preview"]["step_px"]
    cyclic = Image.new("RGB", (strip.width + 192, 16))  # the strip is read cyclically
    cyclic.paste(strip, (0, 0))
    cyclic.paste(strip.crop((0, 0, 192, 16)), (strip.width, 0))
    for index in (0, 40, 150, len(frames) - 1):
        x = index * step
        window = cyclic.crop((x, 0, x + 192, 16))
        expected = window.resize((192 * 4, 64), Image.Resampling.NEAREST)
        assert frames[index][0].tobytes() == expected.tobytes(), f"frame {index}"


def test_an_empty_playlist_still_makes_every_asset() -> None:
    artifacts = collection([make_notice(status="draft")], context())
    playlist = playlist_of(artifacts)
    assert playlist["items"] == []
    assert len(gif_frames(artifacts["preview.gif"].data)) == 1
    assert Image.open(io.BytesIO(artifacts["strip.png"].data)).size == (192, 16)


def test_the_build_writes_the_playlist_for_its_day(demo_project: Path) -> None:
    from pipeline.build import BuildOptions, build
    from pipeline.project import Project

    project = Project.open(demo_project, None)
    report = build(project, BuildOptions(today=TODAY, only=("ticker",), workers=1))
    assert report.ok, report.problems
    out = project.out_dir / "ticker"
    first = json.loads((out / "playlist.json").read_text("utf-8"))
    assert first["items"], "the demo has notices running on 2018-07-08"
    assert all(len(i["line"]) <= project.config.ticker.max_chars for i in first["items"])
    for item in first["items"]:
        assert (out / item["id"] / "line.txt").read_text("utf-8").strip() == item["line"]
    build(project, BuildOptions(today=date(2018, 8, 30), only=("ticker",), workers=1))
    later = json.loads((out / "playlist.json").read_text("utf-8"))
    assert later["date"] == "2018-08-30"
    assert later["items"] != first["items"]  # periods have ended since


def test_the_ticker_command_lists_the_playlist(demo_project: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "ticker", "--today", "2018-07-08", "--format", "json"],
        cwd=demo_project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["date"] == "2018-07-08" and shown["items"]
    assert shown["items"][0]["line"].startswith("【紧急】")  # urgent first


def test_a_broken_font_override_is_a_one_line_build_problem(demo_project: Path) -> None:
    from pipeline.build import BuildOptions, build
    from pipeline.project import Project

    (demo_project / "templates" / "ticker").mkdir(parents=True)
    (demo_project / "templates" / "ticker" / "led.yaml").write_text(
        "fonts:\n  16: {family: Noto Sans CJK SC, size: 40}\n", "utf-8")
    project = Project.open(demo_project, None)
    report = build(project, BuildOptions(today=TODAY, only=("ticker",), workers=1))
    (problem,) = report.problems
    assert "more than the 16-px panel" in str(problem) and "\n" not in str(problem)


def test_notice_text_cannot_break_out_of_the_tv_page() -> None:
    hostile = make_notice(kind="announcement", project=None,
                          summary="请注意</script><script>alert(1)</script>。")
    html = collection([hostile], context())["tv.html"].data.decode()
    assert "</script><script>alert(1)" not in html
    assert html.count("</script>") == 2  # the embedded playlist and the crawl's code
