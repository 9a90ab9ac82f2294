"""WeasyPrint is imported without running ctypes.util.find_library, and the ordinary way when
the fast way fails. Each case runs in a fresh interpreter: an import happens once per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the fast import is for Linux sonames only")

COUNT_LOOKUPS = """
import ctypes.util
lookups = []
original = ctypes.util.find_library
ctypes.util.find_library = lambda name: lookups.append(name) or original(name)
"""


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_weasyprint_loads_its_libraries_by_soname_without_searching() -> None:
    out = python(COUNT_LOOKUPS + """
from pipeline.renderers.weasy import weasyprint
module = weasyprint()
from weasyprint.text.ffi import pango
print(len(lookups), module.__name__, pango.pango_version() > 0)
""")
    assert out == "0 weasyprint True"


def test_when_the_fast_import_fails_weasyprint_is_imported_the_ordinary_way() -> None:
    out = python(COUNT_LOOKUPS + """
import contextlib
from pipeline.renderers import weasy

failed = {}

@contextlib.contextmanager
def failing():
    import weasyprint  # modules left behind, as a failed library load would leave them
    failed["module"], failed["lookups"] = weasyprint, len(lookups)
    raise OSError("cannot load library 'libpango-1.0.so.0'")
    yield

weasy._sonames_only = failing
module = weasy.weasyprint()
print(module is not failed["module"], len(lookups) > failed["lookups"], module.HTML.__name__)
""")
    assert out == "True True HTML"
