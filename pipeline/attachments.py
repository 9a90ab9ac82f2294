"""`check` for attachments the site hosts: each one missing or too large, at its ``url:``.

Kept out of the renderer (``pipeline.renderers.web_files`` decides what a hosted attachment
is), so that the web renderer's code hash does not depend on the YAML reader.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import InputError, Location, Problem
from pipeline.model import Notice
from pipeline.renderers.web_files import attachment_problem
from pipeline.yamlsrc import read as read_yaml


def attachment_problems(notices: Sequence[Notice], paths: Mapping[str, Path],
                        display: Mapping[str, str], config: Config) -> list[Problem]:
    """For `check`: each hosted attachment that is missing or too large, at its ``url:``."""
    problems: list[Problem] = []
    content = (config.root / "content").resolve()
    for notice in notices:
        source = paths.get(notice.id)
        if source is not None and not source.resolve().is_relative_to(content):
            continue  # not this project's content: its files are not in content/files/
        for index, item in enumerate(notice.attachments):
            message, _ = attachment_problem(item.url, config)
            if message is None:
                continue
            path = paths.get(notice.id)
            shown = display.get(notice.id) or (str(path) if path else notice.id)
            where = Location(shown)
            if path is not None:
                with contextlib.suppress(InputError):  # unreadable now: the name will do
                    where = read_yaml(path, display=shown).locate(("attachments", index, "url"))
            problems.append(Problem(where, message))
    return problems
