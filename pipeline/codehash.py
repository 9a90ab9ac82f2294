"""A fingerprint of the code behind an output, for cache keys.

A cache key made only of the inputs keeps serving old outputs after an upgrade changed the code
that makes them. ``code_digest("pipeline.renderers.web")`` hashes the package version and the
source of that module and of every ``pipeline`` or ``channels`` module it imports, directly or
not, so that a change to the web renderer (or to the model it reads) re-renders the web pages
and nothing else.

Imports are found by reading the source as text (no import is executed), which also sees the
imports inside functions that the code uses lazily.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from pipeline import __version__

OUR_PACKAGES = ("pipeline", "channels")
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<package>[\w.]+)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#]+)"
    r"|import[ \t]+(?P<modules>[^\n#]+))",
    re.MULTILINE)


# Where our packages live (both sit side by side in the source tree and in site-packages);
# module names are mapped to files directly, because importlib's find_spec would import the
# parents of every name it is asked about.
_ROOT = Path(__file__).resolve().parent.parent


@cache
def _source_file(module: str) -> Path | None:
    base = _ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _ours(module: str) -> bool:
    return module.split(".", 1)[0] in OUR_PACKAGES


def _imports(source: str) -> set[str]:
    found: set[str] = set()
    for match in _IMPORT.finditer(source):
        if match["package"]:
            package = match["package"]
            if not _ours(package):
                continue
            found.add(package)
            names = match["names"].strip("()")
            for name in names.replace("\n", " ").split(","):
                word = name.strip().split(" ", 1)[0]
                if word and word != "*":
                    found.add(f"{package}.{word}")  # "from pipeline import registry"
        else:
            for part in match["modules"].split(","):
                module = part.strip().split(" ", 1)[0]
                if _ours(module):
                    found.add(module)
    return found


@cache
def _closure(module: str) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _source_file(name)
        if path is None:
            continue  # a name imported from a module, not a module
        seen[name] = path
        todo.extend(_imports(path.read_text("utf-8")) - seen.keys())
    return tuple(sorted(set(seen.values())))


@cache
def code_digest(*modules: str) -> str:
    """A short hash of the version and the source of ``modules`` and all they import of ours."""
    digest = hashlib.sha256(__version__.encode())
    files = sorted({path for module in modules for path in _closure(module)})
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]
