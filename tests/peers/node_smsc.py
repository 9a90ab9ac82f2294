"""Runs tests/peers/smsc.js, an SMSC on node-smpp (not our code), and reads what it stored.

    with NodeSmsc(tmp_path, "drop") as smsc:
        ... publish to 127.0.0.1:smsc.port ...
        smsc.stored()   # every part it stored, in order

``available()`` says why it cannot run (no Node.js, or `bash .ci/test-peers` not run yet).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent
SCRIPT = PEERS / "smsc.js"


def available() -> str | None:
    """None when the SMSC can run, else the reason it cannot."""
    if shutil.which("node") is None:
        return "Node.js is not installed (`bash .ci/test-peers` installs it)"
    if not (PEERS / "node_modules" / "smpp" / "package.json").is_file():
        return "node-smpp is not installed in tests/peers (run `bash .ci/test-peers`)"
    return None


class NodeSmsc:
    def __init__(self, folder: Path, scenario: str = "clean", **options: str) -> None:
        self.record = folder / f"smsc-{scenario}.jsonl"
        self.record.write_text("", "utf-8")
        self.command = ["node", str(SCRIPT), "--record", str(self.record),
                        "--scenario", scenario]
        for name, value in options.items():
            self.command += [f"--{name.replace('_', '-')}", str(value)]
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> NodeSmsc:
        self.process = subprocess.Popen(self.command, cwd=PEERS, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the SMSC did not start: {self.process.stderr.read()}")
        self.port = int(json.loads(line)["port"])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """What the SMSC recorded, in order (of one kind, when given)."""
        records = [json.loads(line) for line in self.record.read_text("utf-8").splitlines()
                   if line.strip()]
        return [r for r in records if kind is None or r["event"] == kind]

    def stored(self) -> list[dict[str, Any]]:
        return self.events("stored")

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The events of a kind, once there are ``count`` of them (for what comes after an
        answer, such as the answer to a deliver_sm)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(kind)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
