"""Safe YAML reading: marks for every value, and clear refusals of what YAML gets wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline import yamlsrc
from pipeline.errors import InputError, Location

SAMPLE = """\
id: sf-2018-0012
publicity:
  start: 2018-07-04
  end: 2018-07-14
funds:
  - source: 中央财政专项扶贫资金
    amount: 400000
  - source: 省级
    amount: 285000
"""


def problem_of(call) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        call()
    (problem,) = caught.value.problems
    return problem.location.line, problem.location.column, problem.message


def test_values_and_their_marks() -> None:
    doc = yamlsrc.parse(SAMPLE, "a.yaml")
    assert doc.data["publicity"]["start"] == date(2018, 7, 4)
    assert doc.locate(("publicity", "end")) == Location("a.yaml", 4, 8)
    assert doc.locate(("publicity", "end"), key=True) == Location("a.yaml", 4, 3)
    assert doc.locate(("funds", 1, "amount")) == Location("a.yaml", 9, 13)
    assert doc.locate(("funds", 1)) == Location("a.yaml", 8, 5)


def test_locate_falls_back_to_the_nearest_ancestor() -> None:
    doc = yamlsrc.parse(SAMPLE, "a.yaml")
    # A field that is missing is reported where its parent mapping starts.
    assert doc.locate(("publicity", "nothing", "deeper")) == Location("a.yaml", 3, 3)
    assert doc.locate(("funds", 7, "amount")) == Location("a.yaml", 6, 3)
    assert doc.locate(("title",)) == Location("a.yaml", 1, 1)
    assert doc.problem(("id",), "bad").location == Location("a.yaml", 1, 5)


def test_source_lines_for_context() -> None:
    doc = yamlsrc.parse(SAMPLE, "a.yaml")
    assert doc.source_lines(3) == [(2, "publicity:"), (3, "  start: 2018-07-04"),
                                   (4, "  end: 2018-07-14")]


def test_keys_are_names_as_written() -> None:
    # YAML 1.1 reads `on:` as True and `2018:` as a number; a key is a field name.
    doc = yamlsrc.parse("on: 2018-07-03\n2018: x\nno: 1\n", "a.yaml")
    assert set(doc.data) == {"on", "2018", "no"}


def test_leading_zero_numbers_stay_text() -> None:
    # Unquoted, YAML 1.1 reads 02365123456 as an octal number: a phone number would change.
    doc = yamlsrc.parse('a: 02365123456\nb: "0123"\nc: 12317\nd: 0\n', "a.yaml")
    assert doc.data == {"a": "02365123456", "b": "0123", "c": 12317, "d": 0}


def test_duplicate_keys_are_refused() -> None:
    text = "title: 一\nbody: x\ntitle: 二\n"
    line, column, message = problem_of(lambda: yamlsrc.parse(text, "a.yaml"))
    assert (line, column) == (3, 1)
    assert "duplicate key 'title' (first at line 1)" in message


def test_nested_duplicate_keys_are_refused() -> None:
    text = "project:\n  name: a\n  name: b\n"
    assert problem_of(lambda: yamlsrc.parse(text, "a.yaml"))[:2] == (3, 3)


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [哈, 哈, 哈, 哈, 哈, 哈, 哈, 哈, 哈]"]
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    # Expanded, this would be 9**9 (387 million) strings.
    line, _, message = problem_of(lambda: yamlsrc.parse("\n".join(lines) + "\n", "a.yaml"))
    assert "anchors and aliases" in message
    assert line == 1


def test_recursive_alias_is_refused() -> None:
    assert "aliases" in problem_of(lambda: yamlsrc.parse("a: &a [*a]\n", "a.yaml"))[2]


def test_merge_keys_are_refused() -> None:
    text = "base: &b {x: 1}\nother:\n  <<: *b\n"
    assert "not allowed" in problem_of(lambda: yamlsrc.parse(text, "a.yaml"))[2]


def test_tab_indentation_is_refused_with_its_place() -> None:
    text = "project:\n\tname: x\n"
    line, column, message = problem_of(lambda: yamlsrc.parse(text, "a.yaml"))
    assert (line, column) == (2, 1)
    assert "tab character in indentation" in message


def test_tab_inside_a_value_is_fine() -> None:
    assert yamlsrc.parse('a: "x\ty"\n', "a.yaml").data == {"a": "x\ty"}


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * 100 + "]" * 100 + "\n"
    assert "nested more than" in problem_of(lambda: yamlsrc.parse(text, "a.yaml"))[2]


def test_gbk_is_refused_with_how_to_fix() -> None:
    raw = "id: x\ntitle: 马祖村道路\n".encode("gbk")
    line, column, message = problem_of(lambda: yamlsrc.decode(raw, "content/x.yaml"))
    assert line == 2
    assert column >= 8  # somewhere in the Chinese text after `title: `
    assert "not UTF-8 (it looks like GBK/GB18030)" in message
    assert "iconv -f GB18030 -t UTF-8 x.yaml" in message


def test_utf8_bom_is_accepted() -> None:
    raw = b"\xef\xbb\xbf" + "title: 马祖村\n".encode()
    text = yamlsrc.decode(raw, "a.yaml")
    assert yamlsrc.parse(text, "a.yaml").data == {"title": "马祖村"}


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"body: |\n" + b"  " + b"x" * 2000 + b"\n")
    assert yamlsrc.read(path, max_bytes=4096).data["body"].startswith("xx")
    line, _, message = problem_of(lambda: yamlsrc.read(path, max_bytes=1024))
    assert line == 1
    assert "over the limit of 1,024" in message


def test_syntax_errors_are_located_with_a_hint() -> None:
    text = 'a: 1\nb:\n  c: "open\nd: 2\n'
    line, column, message = problem_of(lambda: yamlsrc.parse(text, "a.yaml"))
    assert (line, column) == (3, 6)  # where the quote opens, not the end of the file
    assert "never closed" in message
    text = "a: 1\nb: x\n   c: y\n"
    line, _, message = problem_of(lambda: yamlsrc.parse(text, "a.yaml"))
    assert line == 3 and "indentation" in message


def test_empty_and_bad_values() -> None:
    assert "empty" in problem_of(lambda: yamlsrc.parse("# nothing\n", "a.yaml"))[2]
    line, column, message = problem_of(lambda: yamlsrc.parse("when: 2018-02-30\n", "a.yaml"))
    assert (line, column) == (1, 7)
    assert "when: '2018-02-30' is not a valid date" in message


def test_unreadable_file(tmp_path: Path) -> None:
    message = problem_of(lambda: yamlsrc.read(tmp_path / "missing.yaml"))[2]
    assert "cannot read file" in message


# -- pydantic errors -> located problems -----------------------------------------------------

class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    amount: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    inner: Inner
    items: tuple[Inner, ...] = ()


def problems_for(text: str) -> list[str]:
    doc = yamlsrc.parse(text, "a.yaml")
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(doc.data)
    return [str(p) for p in yamlsrc.validation_problems(doc, caught.value, Outer)]


def test_typo_of_a_required_field_is_one_problem_with_a_suggestion() -> None:
    assert problems_for("titel: x\ninner: {name: a, amount: 1}\n") == [
        "a.yaml:1:1: titel: unknown field 'titel'; did you mean 'title'?"]


def test_nested_typo_and_missing_field() -> None:
    found = problems_for("title: x\ninner:\n  nmae: a\n  amount: 1\n")
    assert found == ["a.yaml:3:3: inner.nmae: unknown field 'nmae'; did you mean 'name'?"]
    found = problems_for("title: x\ninner:\n  amount: 1\n")
    assert found == ["a.yaml:3:3: inner.name: required field is missing; add `name:`"]


def test_unknown_field_without_a_close_match_lists_the_allowed_ones() -> None:
    found = problems_for("title: x\ninner: {name: a, amount: 1}\nzzz: 1\n")
    assert found == ["a.yaml:3:1: zzz: unknown field 'zzz'; allowed: title, inner, items"]


def test_wrong_types_are_said_in_yaml_terms() -> None:
    found = problems_for("title: x\ninner: {name: a, amount: 一百}\nitems: 5\n")
    assert "a.yaml:2:26: inner.amount: Input should be a valid integer" in found[0]
    assert found[0].endswith("(got '一百')")
    assert found[1] == "a.yaml:3:8: items: Input should be a list (got 5)"


def test_list_items_are_located() -> None:
    found = problems_for("title: x\ninner: {name: a, amount: 1}\nitems:\n  - {name: b}\n")
    assert found == ["a.yaml:4:5: items[0].amount: required field is missing; add `amount:`"]


def test_tab_deeper_in_a_block_is_refused_at_its_line() -> None:
    text = "a: 1\nproject:\n  name: x\n\tplace: y\n"
    line, column, message = problem_of(lambda: yamlsrc.parse(text, "a.yaml"))
    assert (line, column) == (4, 1)
    assert "tab character in indentation" in message


def test_tab_inside_block_text_is_content() -> None:
    doc = yamlsrc.parse("body: |\n  代码：\n  \t缩进的一行\n", "a.yaml")
    assert doc.data == {"body": "代码：\n\t缩进的一行\n"}
