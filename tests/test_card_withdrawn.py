"""A withdrawn notice's card and caption never say 公示中, however its dates fall."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.errors import RenderError
from pipeline.fonts import SANS, find_font
from pipeline.load import load_notices
from pipeline.renderers.base import RenderContext
from pipeline.renderers.caption import notice_caption
from pipeline.renderers.card import CardLayout, card_specs, card_texts
from pipeline.renderers.card_style import load_style
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
NOTICE = REPO / "content" / "2018" / "sf-2018-0012.yaml"  # publicity 2018-07-04..14


@pytest.mark.parametrize("withdrawn", [False, True])
def test_the_state_badge_and_caption_of_a_withdrawn_notice(tmp_path: Path,
                                                           withdrawn: bool) -> None:
    try:
        find_font(SANS)
    except RenderError as missing:
        pytest.skip(str(missing))
    text = NOTICE.read_text("utf-8")
    if withdrawn:
        text = text.replace("status: approved", "status: withdrawn") + (
            "\nwithdrawal:\n  on: 2018-07-09\n  reason: 项目调整，另行公示。\n")
    source = tmp_path / NOTICE.name
    source.write_text(text, "utf-8")
    config = Config(root=REPO)
    [notice] = load_notices([source], config, REPO).notices
    ctx = RenderContext(config=config, today=date(2018, 7, 9),  # inside the publicity period
                        templates=make_environment(template_dirs(REPO)))
    style = load_style(ctx.templates)
    [spec, *_] = card_specs(False, config.card.print_dpi)
    layout = CardLayout(notice, ctx, style, spec, card_texts(notice, ctx, style))
    layout.draw()
    caption = notice_caption(notice, ctx.notice_url(notice.id), ctx.today)
    if withdrawn:
        assert "已撤回" in layout.pills_shown and "公示中" not in layout.pills_shown
        assert "公示中" not in caption and caption.startswith("【已撤回】")
    else:  # the same dates, approved: the badge and the caption do say it
        assert "公示中" in layout.pills_shown and "公示中" in caption
