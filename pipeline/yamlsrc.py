"""Read YAML safely and remember where every value came from.

PyYAML builds a node tree that keeps marks (line, column); we construct plain Python data from
it ourselves so that each value's place survives, and so that the dangerous or confusing parts of
YAML are refused with a clear message: anchors and aliases (the "billion laughs" bomb), duplicate
keys (silently last-wins in PyYAML), tabs in indentation, files that are too big and files that
are not UTF-8 (offices often save GBK).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import InputError, Location, Problem

try:  # libyaml is about ten times faster; fall back when it was not compiled in
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 256 * 1024
MAX_DEPTH = 32  # a notice nests four levels deep; anything near this is a mistake or an attack
LocPath = tuple[str | int, ...]

_LEADING_ZERO = re.compile(r"^0[0-9_]+$")

# Turns YAML scalars into Python values with YAML 1.1's safe rules (dates, ints, bools...).
_scalar_constructor = yaml.SafeLoader("")


class FieldProblem(ValueError):
    """Raised by model validators to point the error at one field of the model.

    ``message`` may contain ``{path}``, replaced by the dotted path of the model in the file,
    e.g. ``"{path}.end is before {path}.start"`` becomes ``"publicity.end is before ..."``.
    """

    def __init__(self, field: str | tuple[str, ...], message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,) if isinstance(self.field, str) else self.field


class CharacterProblem(ValueError):
    """Raised by validators for a character that is not allowed at ``index`` of a text value,
    so that the error points at the character itself where the file holds it literally."""

    def __init__(self, index: int, char: str, message: str) -> None:
        self.index = index
        self.char = char
        self.message = message
        super().__init__(message)


@dataclass
class SourceDoc:
    """Data read from a YAML file, with the place of every key and value in it."""

    path: str
    data: Any
    text: str
    value_marks: dict[LocPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[LocPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: LocPath, *, key: bool = False) -> Location:
        """The place of ``loc``, or of its nearest ancestor that exists in the file."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(loc)
        while probe:
            if probe in marks:
                line, col = marks[probe]
                return Location(self.path, line, col)
            if not key and probe in self.key_marks:
                line, col = self.key_marks[probe]
                return Location(self.path, line, col)
            probe = probe[:-1]
        line, col = self.value_marks.get((), (1, 1))
        return Location(self.path, line, col)

    def problem(self, loc: LocPath, message: str, *, key: bool = False) -> Problem:
        return Problem(self.locate(loc, key=key), message)

    def locate_character(self, loc: LocPath, char: str) -> Location:
        """Where ``char`` is written in the value at ``loc``: its own column when it appears
        literally on the value's first line, else the start of the value."""
        start = self.locate(loc)
        lines = self.text.splitlines()
        if 1 <= start.line <= len(lines):
            column = lines[start.line - 1].find(char, max(start.column - 1, 0))
            if column >= 0:
                return Location(self.path, start.line, column + 1)
        return start

    def source_lines(self, line: int, context: int = 1) -> list[tuple[int, str]]:
        """The numbered lines around ``line``, for showing where an error is."""
        lines = self.text.splitlines()
        lo, hi = max(1, line - context), min(len(lines), line + context)
        return [(n, lines[n - 1]) for n in range(lo, hi + 1)]


def decode(raw: bytes, path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Bytes -> text, refusing what is too big or not UTF-8 (a BOM is fine)."""
    if len(raw) > max_bytes:
        raise InputError.at(
            path, 1, 1,
            f"file is {len(raw):,} bytes, over the limit of {max_bytes:,}; split it, or raise "
            "rules.max_file_bytes in noticecast.yaml if it really must be this big",
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        # Everything before the bad byte decoded fine, so its length in characters is the
        # column an editor shows.
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start:exc.start].decode("utf-8")) + 1
        guess = ""
        try:
            raw.decode("gb18030")
            guess = " (it looks like GBK/GB18030)"
        except UnicodeDecodeError:
            pass
        raise InputError.at(
            path, line, column,
            f"file is not UTF-8{guess}; re-save it as UTF-8, e.g. "
            f"`iconv -f GB18030 -t UTF-8 {Path(path).name} > fixed.yaml`",
        ) from None


def _tab_error(text: str, path: str, line_number: int) -> InputError | None:
    """The tab error for a line YAML could not read, if a tab in its indentation is why."""
    lines = text.splitlines()
    if not 1 <= line_number <= len(lines):
        return None
    line = lines[line_number - 1]
    indent = len(line) - len(line.lstrip(" \t"))
    tab = line.find("\t", 0, indent)
    if tab < 0:
        return None
    return InputError.at(
        path, line_number, tab + 1,
        "tab character in indentation; YAML needs spaces, replace the tab with spaces",
    )


def parse(text: str, path: str) -> SourceDoc:
    """Text -> SourceDoc; raises InputError for anything YAML or we refuse."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        # Tabs are only wrong where they indent; inside a block of text they are content.
        # So ask YAML first, and explain its error as a tab problem when that is the cause.
        mark = exc.problem_mark
        tab = _tab_error(text, path, mark.line + 1) if mark is not None else None
        raise (tab or _syntax_error(exc, path)) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, path) from None
    except yaml.YAMLError as exc:
        raise InputError.at(path, 1, 1, f"YAML syntax error: {exc}") from None
    doc = SourceDoc(path=path, data=None, text=text)
    if root is None:
        raise InputError.at(path, 1, 1, "file is empty; it should hold one YAML mapping")
    doc.data = _Builder(doc).build(root, ())
    return doc


def _reader_error(exc: yaml.reader.ReaderError, text: str, path: str) -> InputError:
    """A character YAML refuses to read at all (a control character written into the file)."""
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    # libyaml counts the position in bytes, PyYAML in characters; the first occurrence of the
    # character is the place either way, since the reader stops at the first one it refuses.
    position = max(text.find(chr(code)), 0)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return InputError.at(path, line, column,
                         f"control character U+{code:04X} is not allowed in a YAML file; "
                         "delete it (it is invisible in most editors)")


# Hints for the YAML errors that office staff meet most, keyed by the start of the problem.
_SYNTAX_HINTS = {
    "mapping values are not allowed": "check the indentation of this line and the one above, "
                                      "and put quotes around a value that contains ': '",
    "found unexpected end of stream": "a quote or bracket opened here is never closed",
    "could not find expected ':'": "a line here is neither `field: value` nor a list item; "
                                   "check the indentation",
    "found character that cannot start any token": "put quotes around this value",
}


def _syntax_error(exc: yaml.MarkedYAMLError, path: str) -> InputError:
    problem = exc.problem or str(exc)
    mark = exc.problem_mark or exc.context_mark
    # At the end of the file the problem mark says nothing; where the scan began says more.
    if exc.context_mark is not None and "end of stream" in problem:
        mark = exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    hint = next((h for start, h in _SYNTAX_HINTS.items() if problem.startswith(start)), "")
    context = f" {exc.context}" if exc.context and "end of stream" in problem else ""
    message = f"YAML syntax error{context}: {problem}" + (f"; {hint}" if hint else "")
    return InputError.at(path, line, col, message)


def read(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, display: str | None = None
         ) -> SourceDoc:
    """Read and parse a YAML file; ``display`` is the path shown in errors."""
    shown = display or str(path)
    try:
        not_regular = special_file_kind(Path(path).stat().st_mode)
        if not_regular:
            # Never opened: opening a FIFO blocks until someone writes to it.
            raise InputError.at(shown, 0, 0, f"is {not_regular}, not a regular file; only "
                                "files may be read here, remove it or replace it by a file")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError.at(shown, 0, 0, f"cannot read file: {exc.strerror}") from None
    return parse(decode(raw, shown, max_bytes=max_bytes), shown)


def special_file_kind(mode: int) -> str | None:
    """What a file that is not a regular file is ('a FIFO (named pipe)'), or None."""
    import stat

    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


class _Builder:
    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, loc: LocPath) -> Any:
        if len(loc) > MAX_DEPTH:
            raise self._error(node, f"nested more than {MAX_DEPTH} levels deep; a notice "
                                    "needs only a few levels")
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            raise self._error(node, "anchors and aliases (& and *) are not allowed; write the "
                                    "value out in full")
        self.seen.add(id(node))
        self.doc.value_marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._error(key_node, "a mapping key must be a plain name")
                # A key is a name, taken as written: YAML 1.1 would read `on:` or `no:` as a
                # boolean and `2018:` as a number (Withdrawal has a field called `on`).
                key = str(key_node.value)
                if key == "<<":
                    raise self._error(key_node, "merge keys (<<) are not allowed; write the "
                                                "fields out in full")
                if key in result:
                    first = self.doc.key_marks[(*loc, key)]
                    raise self._error(key_node, f"duplicate key {key!r} (first at line "
                                                f"{first[0]}); keep only one")
                self.doc.key_marks[(*loc, key)] = (
                    key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key] = self.build(value_node, (*loc, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:int" and not node.style \
                and _LEADING_ZERO.match(node.value):
            # YAML 1.1 reads 02365123456 as an octal number; with a leading zero it is a phone
            # number or a code, so keep the text as written.
            return node.value
        try:
            return _scalar_constructor.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            what = "date or time" if "timestamp" in node.tag else "value"
            raise self._error(node, f"{_dotted(loc)}: {node.value!r} is not a valid {what} "
                                    f"({exc}); dates are written YYYY-MM-DD") from None

    def _error(self, node: yaml.Node, message: str) -> InputError:
        mark = node.start_mark
        return InputError.at(self.doc.path, mark.line + 1, mark.column + 1, message)


# -- pydantic errors -> located, actionable one-liners -------------------------------------

def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of ``loc`` (for field suggestions)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _inner_model(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _suggestion(model: type[BaseModel], loc: Sequence[str | int]) -> str | None:
    """The field name closest to the unknown one at ``loc``, if one is close enough."""
    owner = _model_at(model, loc)
    if owner is None:
        return None
    close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1, cutoff=0.6)
    return close[0] if close else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _plain_message(err: Any) -> str:
    """Pydantic's wording, said in the terms of a YAML file (list, text, characters)."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if isinstance(value, str) and kind == "too_short":
        return "Value error, must not be empty"
    if isinstance(value, str) and kind == "too_long":
        return (f"Value error, is {len(value)} characters long, over the limit of "
                f"{ctx.get('max_length')}; shorten it")
    text = str(err["msg"])
    return text.replace("a valid tuple", "a list").replace("Tuple should", "The list should")


def _describe_input(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a " + ("mapping" if isinstance(value, dict) else "list")
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_problems(
    doc: SourceDoc,
    exc: ValidationError,
    model: type[BaseModel],
    base: LocPath = (),
    *,
    hint: Callable[[LocPath], str] | None = None,
) -> list[Problem]:
    """Turn a pydantic ValidationError into one located Problem per error."""
    problems: list[Problem] = []
    errors = exc.errors(include_url=False)
    # A misspelt required field (`titel:`) is both unknown and missing; report it once, as the
    # typo with its suggestion, since that is the line the writer has to fix.
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    misspelt: set[tuple[str | int, ...]] = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            close = _suggestion(model, err["loc"])
            if close and (*err["loc"][:-1], close) in missing:
                misspelt.add((*err["loc"][:-1], close))
    for err in errors:
        if err["type"] == "missing" and tuple(err["loc"]) in misspelt:
            continue
        loc: LocPath = (*base, *err["loc"])
        kind = err["type"]
        original = (err.get("ctx") or {}).get("error")
        if isinstance(original, FieldProblem):
            message = original.message.replace("{path}", _dotted(loc))
            loc = (*loc, *original.fields)
            problems.append(doc.problem(loc, message))
            continue
        if isinstance(original, CharacterProblem):
            problems.append(Problem(doc.locate_character(loc, original.char),
                                    f"{_dotted(loc)}: {original.message}"))
            continue
        where = _dotted(loc)
        if kind == "missing":
            name = loc[-1]
            message = f"{where}: required field is missing; add `{name}:`"
            problems.append(doc.problem(loc[:-1], message))
        elif kind == "extra_forbidden":
            name = str(loc[-1])
            owner = _model_at(model, err["loc"])
            suggestion = ""
            if owner is not None:
                close = _suggestion(model, err["loc"])
                if close:
                    suggestion = f"; did you mean {close!r}?"
                else:
                    suggestion = "; allowed: " + ", ".join(owner.model_fields)
            problems.append(doc.problem(loc, f"{where}: unknown field {name!r}{suggestion}",
                                        key=True))
        else:
            text = _plain_message(err)
            if text.startswith("Value error, "):
                text = text[len("Value error, "):]
            elif text.startswith("Assertion failed, "):
                text = text[len("Assertion failed, "):]
            else:
                text = f"{text} (got {_describe_input(err.get('input'))})"
            extra = hint(loc) if hint else ""
            problems.append(doc.problem(loc, f"{where}: {text}{extra}"))
    return problems
