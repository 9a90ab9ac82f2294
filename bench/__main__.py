"""`python -m bench run [--n 1000] [--only ...] [--json FILE]` — see bench/harness.py."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.harness import SIZES, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="measure builds and renderers on this machine")
    run_cmd.add_argument("--n", type=int, default=None,
                         help=f"one size instead of the ladder {SIZES} (web-only at 10,000)")
    run_cmd.add_argument("--only", default=None,
                         help="comma-separated renderers (default: all five)")
    run_cmd.add_argument("--json", type=Path, default=None, help="write the results here")
    run_cmd.add_argument("--work", type=Path, default=None,
                         help="scratch folder for the synthetic projects (default: a temp dir)")
    run_cmd.add_argument("--repeat", type=int, default=5,
                         help="runs of each short measurement; the median is reported")
    run_cmd.add_argument("--sms-texts", type=int, default=100_000,
                         help="texts for the SMS segmentation throughput")
    args = parser.parse_args(argv)
    only = tuple(n.strip() for n in args.only.split(",")) if args.only else None
    return run(n=args.n, only=only, json_path=args.json, work=args.work, repeat=args.repeat,
               sms_texts=args.sms_texts)


if __name__ == "__main__":
    sys.exit(main())
