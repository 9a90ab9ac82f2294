"""Helpers shared by the newspaper tests (no tests here): notices built in code, a render
context, poppler."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import Config
from pipeline.model import Notice
from pipeline.renderers.base import RenderContext, RenderOptions
from pipeline.templating import make_environment, template_dirs

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "content" / "2018" / "sf-2018-0012.yaml"
TODAY = date(2018, 7, 8)

LONG_PARAGRAPH = ("根据《什邡市财政专项扶贫资金项目公示公告实施办法》，"
                  "现将师古镇马祖村产业道路硬化工程有关情况予以公示，"
                  "公示期10天，接受社会各界和广大群众监督。")


def notice(**changes: Any) -> Notice:
    """The bundled example notice, with ``changes`` applied to its YAML mapping."""
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data.update(changes)
    return Notice.model_validate(data)


def context(tmp_path: Path | None = None, *, shrink: bool = False,
            **newspaper: Any) -> RenderContext:
    config = Config(site={"base_url": "https://gongshi.example.gov.cn"},
                    newspaper=newspaper)
    root = tmp_path or REPO
    return RenderContext(config=config, today=TODAY,
                         templates=make_environment(template_dirs(root)),
                         options=RenderOptions(shrink=shrink))


def poppler(tool: str, *args: str | Path) -> str:
    """Run a poppler-utils tool; skip the test when poppler is not installed."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian package poppler-utils)")
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True,
                          check=True).stdout
