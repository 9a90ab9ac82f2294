"""Time what an office waits for: cold builds, incremental builds, no-op builds, template edits.

Whole-process figures (incremental, no-op, template edit) run the real `noticecast build`
command in a subprocess, because that is what a person waits for, interpreter start-up included.
Short measurements are repeated and the median reported. Peak RSS is sampled from /proc over the
whole process tree (the main process and its render workers).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.generate import TODAY, generate

SIZES = (100, 1000)
WEB_ONLY_SIZE = 10_000
ALL_RENDERERS = ("web", "card", "newspaper", "ticker", "sms")
NOTICECAST = [sys.executable, "-m", "pipeline"]


@dataclass
class Timed:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in kB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


def timed_command(args: Sequence[str], cwd: Path) -> Timed:
    """Run a command, timing it and sampling the peak RSS of its process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(list(args), cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    return Timed(elapsed, peak / 1024, process.returncode, stderr)


def build_args(only: Sequence[str], *extra: str) -> list[str]:
    return [*NOTICECAST, "build", "--today", TODAY.isoformat(), "--only", ",".join(only), *extra]


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def _check(result: Timed, what: str) -> None:
    if result.returncode not in (0, 1):
        raise SystemExit(f"bench: {what} failed (exit {result.returncode}):\n{result.stderr}")


def cold_build(project: Path, only: Sequence[str], n: int) -> dict[str, Any]:
    """A cold build in-process, with per-renderer times from the build report."""
    import shutil

    from pipeline.build import BuildOptions, build
    from pipeline.project import Project
    shutil.rmtree(project / "out", ignore_errors=True)
    whole = timed_command(build_args(only), project)
    _check(whole, "cold build")
    # The per-renderer split: each renderer alone, cold, in this process.
    per_renderer: dict[str, dict[str, float]] = {}
    for name in only:
        shutil.rmtree(project / "out", ignore_errors=True)
        started = time.perf_counter()
        report = build(Project.open(project), BuildOptions(today=TODAY, only=(name,)))
        seconds = time.perf_counter() - started
        per_renderer[name] = {
            "seconds": round(seconds, 3),
            "ms_per_notice": round(1000 * seconds / max(n, 1), 3),
            "cpu_seconds_in_renderer": round(report.renderers[name].seconds, 3),
        }
    shutil.rmtree(project / "out", ignore_errors=True)
    _check(timed_command(build_args(only), project), "cold build")  # leave a warm cache behind
    return {
        "n": n, "renderers": list(only), "seconds": round(whole.seconds, 3),
        "notices_per_second": round(n / whole.seconds, 1),
        "ms_per_notice": round(1000 * whole.seconds / n, 3),
        "peak_rss_mb": round(whole.peak_rss_mb, 1), "per_renderer": per_renderer,
    }


def incremental_build(project: Path, only: Sequence[str], repeat: int) -> float:
    """Edit one notice's title, rebuild; the median whole-process time."""
    target = sorted((project / "content").rglob("*.yaml"))[len(list(
        (project / "content").rglob("*.yaml"))) // 2]
    original = target.read_text("utf-8")
    counter = iter(range(10_000))

    def once() -> float:
        text = original.replace("title: ", f"title: 第{next(counter)}次修改", 1)
        target.write_text(text, "utf-8")
        result = timed_command(build_args(only), project)
        _check(result, "incremental build")
        return result.seconds

    try:
        return median_of(repeat, once)
    finally:
        target.write_text(original, "utf-8")
        timed_command(build_args(only), project)


def noop_build(project: Path, only: Sequence[str], repeat: int) -> float:
    def once() -> float:
        result = timed_command(build_args(only), project)
        _check(result, "no-op build")
        return result.seconds

    return median_of(repeat, once)


def template_edit(project: Path, only: Sequence[str]) -> dict[str, Any]:
    """Override the web notice template in the project and rebuild what uses it."""
    from pipeline.templating import default_templates_dir

    source = default_templates_dir() / "web" / "notice.html"
    if "web" not in only or not source.is_file():
        return {"skipped": "needs the web renderer's templates/web/notice.html"}
    own = project / "templates" / "web" / "notice.html"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text(source.read_text("utf-8") + "\n{# edited by the benchmark #}\n", "utf-8")
    try:
        result = timed_command(build_args(only), project)
        _check(result, "template edit build")
        return {"template": "web/notice.html", "seconds": round(result.seconds, 3)}
    finally:
        own.unlink()
        timed_command(build_args(only), project)


def _sample(project: Path, k: int) -> tuple[list[Any], Any]:
    """The first ``k`` notices of a generated project and a RenderContext for the demo day."""
    from pipeline.load import load_notices
    from pipeline.project import Project
    from pipeline.renderers.base import RenderContext

    opened = Project.open(project)
    notices = load_notices([opened.content_dir], opened.config, opened.root).notices[:k]
    return notices, RenderContext(config=opened.config, today=TODAY, templates=opened.templates)


def newspaper_ratio(project: Path, k: int = 48) -> dict[str, Any]:
    """Blocks per second batched in one WeasyPrint document against one document per block."""
    try:
        from pipeline.renderers import newspaper
    except ImportError as exc:
        return {"skipped": f"newspaper renderer not available: {exc}"}
    sample, ctx = _sample(project, k)
    renderer = newspaper.NewspaperRenderer()
    list(renderer.render(sample[:2], ctx))  # load fonts and templates once, as a worker would

    def batched() -> float:
        started = time.perf_counter()
        list(renderer.render(sample, ctx))
        return time.perf_counter() - started

    def unbatched() -> float:
        started = time.perf_counter()
        list(newspaper.render_unbatched(sample, ctx))
        return time.perf_counter() - started

    batch_s, single_s = median_of(3, batched), median_of(3, unbatched)
    return {"blocks": len(sample), "batched_ms_per_block": round(1000 * batch_s / len(sample), 1),
            "unbatched_ms_per_block": round(1000 * single_s / len(sample), 1),
            "ratio": round(single_s / batch_s, 2)}


def card_cost(project: Path, k: int = 40) -> dict[str, Any]:
    try:
        from pipeline.renderers.card import CardRenderer
    except ImportError as exc:
        return {"skipped": f"card renderer not available: {exc}"}
    sample, ctx = _sample(project, k)
    renderer = CardRenderer()
    list(renderer.render(sample[:1], ctx))

    def once() -> float:
        started = time.perf_counter()
        list(renderer.render(sample, ctx))
        return time.perf_counter() - started

    seconds = median_of(3, once)
    return {"cards": len(sample), "ms_per_card": round(1000 * seconds / len(sample), 1)}


def sms_throughput(count: int = 100_000) -> dict[str, Any]:
    try:
        from pipeline.renderers import sms_segment
    except ImportError as exc:
        return {"skipped": f"sms segmentation not available: {exc}"}
    import random

    rng = random.Random(7)
    pieces = [
        "【扶贫公示】马祖村产业道路硬化工程总投资68.5万元，",
        "Notice 12 of 2018: road works ",
        "公示期7月4日至7月14日，监督电话0838-8202012。",
        "price {EUR} ~ [x] | ^ \\ € ",
        "回T退订",
        "👨‍👩‍👧 家庭农场 ",
        "https://gongshi.example.gov.cn/n/sf-2018-0012 ",
    ]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(count)]
    segment = sms_segment.segment
    started = time.perf_counter()
    for text in texts:
        segment(text)
    seconds = time.perf_counter() - started
    return {"texts": count, "seconds": round(seconds, 3), "per_second": round(count / seconds)}


def versions() -> dict[str, str]:
    names = ["noticecast", "pydantic", "PyYAML", "Jinja2", "Pillow", "weasyprint", "pypdfium2",
             "qrcode"]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except Exception:
            found[name] = "missing"
    found["python"] = platform.python_version()
    return found


def run(*, n: int | None, only: tuple[str, ...] | None, json_path: Path | None,
        work: Path | None, repeat: int, sms_texts: int = 100_000) -> int:
    renderers = only or ALL_RENDERERS
    scratch = work or Path(tempfile.mkdtemp(prefix="noticecast-bench-"))
    sizes = (n,) if n else SIZES
    results: dict[str, Any] = {
        "date": date.today().isoformat(), "cores": os.cpu_count(), "machine": platform.machine(),
        "versions": versions(), "cold": [], "incremental": {}, "noop": {}, "template_edit": {},
        "per_renderer": {}, "peak_rss_mb": None,
    }
    for size in sizes:
        project = generate(scratch / f"n{size}", size)
        print(f"cold build: {size} notices x {len(renderers)} renderers ...", flush=True)
        cold = cold_build(project, renderers, size)
        results["cold"].append(cold)
        results["per_renderer"][str(size)] = cold["per_renderer"]
        if size == max(sizes):
            results["peak_rss_mb"] = cold["peak_rss_mb"]
        print(f"incremental and no-op builds at {size} ...", flush=True)
        results["incremental"][str(size)] = round(incremental_build(project, renderers, repeat), 3)
        results["noop"][str(size)] = round(noop_build(project, renderers, repeat), 3)
        if size == max(sizes):
            results["template_edit"] = template_edit(project, renderers)
    if not n and "web" in renderers:
        project = generate(scratch / f"n{WEB_ONLY_SIZE}", WEB_ONLY_SIZE)
        print(f"cold web-only build: {WEB_ONLY_SIZE} notices ...", flush=True)
        cold = cold_build(project, ("web",), WEB_ONLY_SIZE)
        results["cold"].append(cold)
        results["noop"][f"{WEB_ONLY_SIZE}-web"] = round(noop_build(project, ("web",), 3), 3)
    sample_project = scratch / f"n{sizes[0]}"
    results["newspaper_batch_ratio"] = newspaper_ratio(sample_project) \
        if "newspaper" in renderers else {"skipped": "not selected"}
    results["card"] = card_cost(sample_project) if "card" in renderers else {}
    results["sms_per_second"] = sms_throughput(sms_texts)
    print_table(results)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, ensure_ascii=False, indent=2), "utf-8")
        print(f"results written to {json_path}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"noticecast benchmark — {results['cores']} cores, {results['date']}",
                  title_justify="left")
    table.add_column("figure")
    table.add_column("result", justify="right")
    for cold in results["cold"]:
        table.add_row(f"cold build, {cold['n']:,} notices × {len(cold['renderers'])}",
                      f"{cold['seconds']:.2f} s ({cold['notices_per_second']:,.0f}/s, "
                      f"{cold['peak_rss_mb']:.0f} MB)")
    for size, seconds in results["incremental"].items():
        table.add_row(f"incremental, 1 edit among {int(size):,}", f"{seconds:.2f} s")
    for size, seconds in results["noop"].items():
        table.add_row(f"no-op rebuild, {size}", f"{seconds:.2f} s")
    if "seconds" in results["template_edit"]:
        table.add_row("template edit (web/notice.html)",
                      f"{results['template_edit']['seconds']:.2f} s")
    ratio = results["newspaper_batch_ratio"]
    if "ratio" in ratio:
        table.add_row("newspaper block, batched", f"{ratio['batched_ms_per_block']} ms/block "
                      f"(×{ratio['ratio']} vs one doc per block)")
    if "ms_per_card" in results.get("card", {}):
        table.add_row("card", f"{results['card']['ms_per_card']} ms/card")
    sms = results["sms_per_second"]
    if "per_second" in sms:
        table.add_row("SMS segmentation", f"{sms['per_second']:,} texts/s")
    for size, renderers in results["per_renderer"].items():
        for name, figures in renderers.items():
            table.add_row(f"  {name} alone, {int(size):,} notices",
                          f"{figures['seconds']:.2f} s ({figures['ms_per_notice']} ms/notice)")
    Console().print(table)
