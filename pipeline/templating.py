"""Templates: the site project's own ``templates/`` first, the packaged defaults second.

Overriding works file by file: a project that only wants another card colour ships only
``templates/card/layout.yaml``. Renderers that do not use Jinja (the card's layout settings,
the LED font choice) read their files through the same loader, so the same override rule holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    meta,
    select_autoescape,
)

from pipeline.model import format_date, format_short_date, format_wan


def default_templates_dir() -> Path:
    """The templates shipped with noticecast.

    An installed wheel carries them as ``pipeline/_templates``; a source checkout (and an
    editable install) uses the repository's top-level ``templates/``.
    """
    package = Path(__file__).resolve().parent
    installed = package / "_templates"
    return installed if installed.is_dir() else package.parent / "templates"


def template_dirs(project_root: Path) -> tuple[Path, ...]:
    own = (project_root / "templates").resolve()
    default = default_templates_dir().resolve()
    if own.is_dir() and own != default:
        return (own, default)
    return (default,)


@cache
def make_environment(dirs: tuple[Path, ...]) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
        autoescape=select_autoescape(["html", "htm", "xml", "svg", "j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["wan"] = format_wan
    env.filters["cndate"] = format_date
    env.filters["shortdate"] = format_short_date
    return env


def read_template_file(env: Environment, name: str) -> str:
    """The text of any file under templates/, with the project's override taking precedence."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


def _references(env: Environment, name: str, source: str) -> Iterable[str]:
    if not name.endswith((".html", ".xml", ".j2", ".txt", ".svg", ".css", ".js")):
        return ()
    try:
        return [r for r in meta.find_referenced_templates(env.parse(source)) if r]
    except Exception:  # a template with a syntax error fails loudly when it is rendered
        return ()


def templates_digest(env: Environment, names: Sequence[str]) -> str:
    """A hash of the named templates and of every template they extend, include or import."""
    digest = hashlib.sha256()
    seen: set[str] = set()
    pending = sorted(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            source = read_template_file(env, name)
        except TemplateNotFound:
            digest.update(f"missing:{name}".encode())
            continue
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
        pending.extend(r for r in _references(env, name, source) if r not in seen)
    return digest.hexdigest()[:16]
