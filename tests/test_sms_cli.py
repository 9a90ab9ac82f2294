"""`noticecast sms segment|digest|subscribers` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import cli


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_segment_json_has_exactly_the_documented_shape() -> None:
    code, output = run("sms", "segment", "--json", "中" * 71)
    assert code == 0
    data = json.loads(output)
    assert data == {"encoding": "UCS-2", "units": 71, "segments": 2,
                    "parts": ["中" * 67, "中" * 4]}
    assert list(data) == ["encoding", "units", "segments", "parts"]


def test_segment_json_gsm_and_signature() -> None:
    _, output = run("sms", "segment", "--json", "a" * 161)
    assert json.loads(output) == {"encoding": "GSM-7", "units": 161, "segments": 2,
                                  "parts": ["a" * 153, "a" * 8]}
    _, output = run("sms", "segment", "--signature", "【扶贫公示】", "--json", "中" * 64)
    data = json.loads(output)
    assert data["units"] == 70 and data["segments"] == 1
    assert "".join(data["parts"]) == "【扶贫公示】" + "中" * 64


def test_segment_reads_stdin_and_prints_text() -> None:
    code, output = run("sms", "segment", "-", input="😀" * 36 + "\n")
    assert code == 0
    assert "encoding: UCS-2" in output and "units:    72" in output
    assert "segments: 2" in output and "--- part 1: 66 UTF-16 units, 33 characters" in output


def test_digest_by_area_and_by_phone(demo_project: Path) -> None:
    code, output = run("-C", str(demo_project), "sms", "digest", "--area", "什邡市/师古镇/马祖村",
                       "--today", "2018-07-08", "--json")
    assert code == 0
    data = json.loads(output)
    assert set(data["notice_ids"]) == {"sf-2018-0012", "sf-2018-0008"}
    assert data["text"].startswith("【扶贫公示】") and data["text"].endswith("回T退订")
    code, output = run("-C", str(demo_project), "sms", "digest", "--phone", "138 0000 0001",
                       "--today", "2018-07-08")
    assert code == 0 and "encoding: UCS-2" in output and "马祖村 产业道路硬化" in output
    assert "13800000001" not in output


def test_preview_prints_what_publish_would_send_and_nothing_after_it_did(
        demo_project: Path) -> None:
    args = ("-C", str(demo_project), "sms", "preview", "--phone", "13800000004",
            "--today", "2018-07-08")
    code, output = run(*args, "--json")
    assert code == 0
    preview = json.loads(output)
    assert preview["phone"] == "138****0004" and preview["area"] == "什邡市/师古镇"
    assert preview["segments"] == len(preview["parts"]) <= 3
    assert preview["part_units"] == [len(p.encode("utf-16-le")) // 2 for p in preview["parts"]]
    code, output = run(*args)
    assert code == 0 and "segments: " in output and "13800000004" not in output
    assert f"--- part 1: {preview['part_units'][0]} UTF-16 units" in output
    assert all(part in output for part in preview["parts"])
    # publish, then compare with what the outbox received: the very same parts
    code, _ = run("-C", str(demo_project), "publish", "--today", "2018-07-08",
                  "--channel", "sms")
    assert code == 0
    sent = [json.loads(p.read_text("utf-8"))
            for p in (demo_project / "out" / "channels" / "sms").glob("*.json")]
    mine = [s for s in sent if s["phone"] == "+8613800000004"]
    assert [m["parts"] for m in mine] == [preview["parts"]]
    assert mine[0]["digest_id"] == preview["digest_id"]
    code, output = run(*args)
    assert code == 0 and "nothing is due for 138****0004" in output
    code, output = run("-C", str(demo_project), "sms", "preview", "--phone", "13900000000")
    assert code != 0 and "is not in" in output


def test_subscribers_are_counted_by_area(demo_project: Path) -> None:
    code, output = run("-C", str(demo_project), "sms", "subscribers")
    assert code == 0 and "   2  什邡市/师古镇/马祖村" in output
    assert "13800000001" not in output
