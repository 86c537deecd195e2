#!/usr/bin/env python3
"""Issue 18's backfill figures, measured: `backfill --batch` of N pages against the emulator's Gemini
Batch Mode (in this process), a `mkdocs build` subprocess while the job is pending, then `--collect`.

Prints: jobs submitted, synchronous requests during the backfill and during the pending build, the
plan's synchronous and batch estimates, how many banners `--collect` stored, and the times. Exits 1
if a figure misses its target (one job, zero synchronous requests, batch = half, all N stored).

  python benchmarks/bench_backfill.py [--pages 200] [--size 512x288]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from click.testing import CliRunner  # noqa: E402

from mkdocs_imagegen.cli import cli  # noqa: E402
from mkdocs_imagegen.emulator import Emulator  # noqa: E402

from sitekit import build, page, write_site  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--size", default="512x288")
    parser.add_argument("--model", default="gemini-3.1-flash-image")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    pages = {f"posts/p{i}.md": page(f"backfill prompt {i}", title=f"Post {i}") for i in range(args.pages)}
    config = write_site(root, pages, {"size": args.size, "model": args.model})
    runner = CliRunner()
    with Emulator() as emulator:
        now = [0.0]
        emulator.batches.clock = lambda: now[0]  # the emulator's clock, moved past the delay below
        emulator.batches.delay = 3600.0
        os.environ.update(emulator.env())
        started = time.monotonic()
        submitted = runner.invoke(cli, ["backfill", "-f", str(config), "--batch", "--yes"])
        submit_seconds = time.monotonic() - started
        prices = re.search(r"estimated \$([\d.]+) synchronous, \$([\d.]+) with --batch", submitted.stdout)
        jobs, sync_backfill = len(emulator.batches.jobs), len(emulator.image_requests())
        started = time.monotonic()
        pending_build = build(config, env=emulator.env())
        build_seconds = time.monotonic() - started
        sync_build = len(emulator.image_requests()) - sync_backfill
        info = [line for line in pending_build.stderr.splitlines() if "wait for batch job" in line]
        now[0] += emulator.batches.delay
        started = time.monotonic()
        collected = runner.invoke(cli, ["backfill", "-f", str(config), "--collect"])
        collect_seconds = time.monotonic() - started
        stored = len(list((root / ".banners" / "originals").glob("*.json")))
    sync_price, batch_price = (float(prices.group(1)), float(prices.group(2))) if prices else (0.0, -1.0)
    checks = [
        ("batch jobs submitted", jobs, jobs == 1),
        ("synchronous requests during backfill", sync_backfill, sync_backfill == 0),
        ("synchronous requests during the pending build", sync_build, sync_build == 0),
        ("info lines naming the pending job", len(info), len(info) == 1 and pending_build.returncode == 0),
        ("estimate synchronous / batch (USD)", f"{sync_price:.2f} / {batch_price:.2f}",
         abs(batch_price - sync_price / 2) <= 0.01),
        ("banners stored by --collect", f"{stored}/{args.pages}", stored == args.pages and collected.exit_code == 0),
    ]
    print(f"backfill --batch of {args.pages} pages ({args.model}, {args.size}) against the emulator")
    for name, value, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {value}")
    print(f"  times: submit {submit_seconds:.2f}s, pending build {build_seconds:.2f}s, collect {collect_seconds:.2f}s")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
