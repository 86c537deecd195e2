#!/usr/bin/env python3
"""Issue 19's acceptance figures, one command each, every figure printed next to its target.

    python benchmarks/bench_issue19.py 1      # N=64 C=8 L=0.5 s, stdlib server and emulator: ratio, CPU per
                                              # banner (figure 3) and peak RSS (figure 4) of both models
    python benchmarks/bench_issue19.py 2      # the same at L=5 s: ratio <= 1.02 (about 10 minutes)
    python benchmarks/bench_issue19.py 3      # = 1 (its CPU-per-banner rows)
    python benchmarks/bench_issue19.py 4      # = 1 (its Gemini peak-RSS row)
    python benchmarks/bench_issue19.py 5      # the resize quality report (README, performance)
    python benchmarks/bench_issue19.py 6      # issue 4's warm figure (Material site), which must not regress
    python benchmarks/bench_issue19.py all

Cold figures are medians of --cold-runs (default 3) cold builds, each less the median warm build. gpt-image-2
is routed to OpenAI (publishing WebP through OpenAI); the stdlib server has only OpenAI and Gemini keys.
Extra arguments go to bench_build.py (e.g. --cold-runs 5, --workdir DIR).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLD = {  # model: (bench_build arguments, ratio limit at L=0.5 s, CPU-per-banner limit, RSS limit MiB)
    "gpt-image-2": (["--provider", "openai"], 1.08, 0.02, 400.0),
    "gemini-3.1-flash-image": ([], 1.20, 0.06, 150.0),
}


def bench(args: list[str]) -> int:
    command = [sys.executable, str(HERE / "bench_build.py"), *args]
    print("$", " ".join(command[1:]), flush=True)
    return subprocess.call(command)


def cold(latency: float, ratio_at_5s: float | None, extra: list[str]) -> int:
    failed = 0
    for model, (route, ratio, cpu, rss) in COLD.items():
        limit = ratio if ratio_at_5s is None else ratio_at_5s
        failed |= bench(["--only", "cold,rss", "--server", "stdlib,emulator", "-m", model, *route,
                         "-l", str(latency), "--ratio-limit", str(limit), "--cpu-per-banner", str(cpu),
                         "--rss-mb", str(rss), *extra])
    return failed


def main(argv: list[str]) -> int:
    which, extra = (argv[0] if argv else "all"), argv[1:]
    figures = ["1", "2", "5", "6"] if which == "all" else [{"3": "1", "4": "1"}.get(which, which)]
    failed = 0
    for figure in figures:
        print(f"\n== issue 19, figure {figure}", flush=True)
        if figure == "1":
            failed |= cold(0.5, None, extra)
        elif figure == "2":
            failed |= cold(5.0, 1.02, extra)
        elif figure == "5":
            failed |= subprocess.call([sys.executable, str(HERE / "resize_quality.py"), *extra])
        elif figure == "6":
            failed |= bench(["--only", "warm", "--sites", "material", *extra])
        else:
            raise SystemExit(f"unknown figure {figure!r}: 1-6 or all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
