"""A small site project for the publish tests: a config and N plain notices, exactly as asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
timezone: Asia/Shanghai
site:
  base_url: https://gongshi.example.gov.cn
sms:
  subscribers: null
publish:
  max_attempts: {max_attempts}
  backoff_base_s: 60
  backoff_max_s: 3600
  durability: {durability}
"""


def make_project(root: Path, count: int = 0, channels: Sequence[str] = ("tfile",),
                 max_attempts: int = 5, durability: str = "normal") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = CONFIG.format(max_attempts=max_attempts, durability=durability)
    (root / "noticecast.yaml").write_text(config, "utf-8")
    (root / "content").mkdir(exist_ok=True)
    for number in range(1, count + 1):
        write_notice(root, f"t-{number:03d}", channels=channels)
    return root


def write_notice(root: Path, notice_id: str, *, channels: Sequence[str] = ("tfile",),
                 revision: int = 1, status: str = "approved",
                 published: str = "2018-07-01 09:00:00",
                 publicity: tuple[str, str] | None = None, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "id": notice_id, "revision": revision, "kind": "announcement",
        "title": f"测试公告 {notice_id}", "issuer": "测试县人民政府", "level": "county",
        "area": "测试县", "published": datetime.fromisoformat(published), "summary": "测试摘要。",
        "body": "测试正文。", "status": status, "channels": list(channels),
    }
    if publicity:
        data["publicity"] = {"start": publicity[0], "end": publicity[1]}
    if revision >= 2:
        data["correction"] = {"note": "更正了金额。"}
    if status == "withdrawn":
        data["withdrawal"] = {"reason": "项目取消。"}
    data.update(extra)
    path = root / "content" / f"{notice_id}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def sink(root: Path, channel: str) -> Path:
    path = root / "out" / "channels" / channel
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_targets(root: Path, channel: str, keys: Sequence[str]) -> None:
    (sink(root, channel) / "targets.json").write_text(json.dumps(list(keys)))


def set_faults(root: Path, channel: str, faults: dict[str, list[str]]) -> None:
    (sink(root, channel) / "faults.json").write_text(json.dumps(faults))


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cli_command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "peers.publish_cli", "-C", str(root), *args]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests")])
    env.update(extra)
    return env


def run_cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(root, *args), env=cli_env(**env), capture_output=True,
                          text=True, timeout=120)
