"""The benchmark harness runs end to end on a small project, so that it cannot rot.

No figures are asserted here: speed is measured by `make bench`, not by the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.generate import generate
from pipeline.load import load_notices
from pipeline.project import Project

REPO = Path(__file__).resolve().parent.parent


def test_generator_is_deterministic_and_valid(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 30, seed=5)
    second = generate(tmp_path / "b", 30, seed=5)
    texts_a = sorted(p.read_text("utf-8") for p in (first / "content").rglob("*.yaml"))
    texts_b = sorted(p.read_text("utf-8") for p in (second / "content").rglob("*.yaml"))
    assert texts_a == texts_b
    project = Project.open(first)
    result = load_notices([project.content_dir], project.config, project.root)
    assert result.problems == []
    assert len(result.notices) == 30
    assert len({n.kind for n in result.notices}) >= 4
    assert len({n.level for n in result.notices}) == 3


def test_harness_runs_and_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--n", "20", "--repeat", "1",
         "--sms-texts", "2000", "--json", str(out), "--work", str(tmp_path / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    results = json.loads(out.read_text("utf-8"))
    for key in ("cold", "incremental", "noop", "template_edit", "peak_rss_mb", "per_renderer",
                "newspaper_batch_ratio", "sms_per_second"):
        assert key in results, key
    assert results["cores"] >= 1
    cold = results["cold"][0]
    assert cold["n"] == 20 and cold["seconds"] > 0
    assert set(results["per_renderer"]["20"]) == {"web", "card", "newspaper", "ticker", "sms"}
    assert results["newspaper_batch_ratio"]["ratio"] > 0
    assert results["sms_per_second"]["per_second"] > 0
