#!/usr/bin/env python3
"""Where a cold build's CPU goes: one `mkdocs build` of N banners against stdlib_server.py, sampled by py-spy.

    pip install py-spy                      # in your venv: a profiler, not one of the project's dependencies
    python benchmarks/profile_cold.py --provider openai                      # gpt-image-2, delivered WebP
    python benchmarks/profile_cold.py -m gemini-3.1-flash-image -n 64 --top 25

Samples every thread, but only while it runs (py-spy's default: a thread waiting on a socket or a lock
is not sampled), so the table is CPU, not wall time. Prints the functions with the most samples on CPU
by self time and by total time (their callees included), as a share of all samples; the raw collapsed
stacks stay in the work dir (flamegraph.pl or speedscope read them).
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_build import base_env, plugin_options, write_site  # noqa: E402
from servers import StdlibServer, render_answers  # noqa: E402


def frame_name(frame: str) -> str:
    """`function (file.py:line)` -> `function (file.py)`: one row per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[parts.index("site-packages") + 1:]) if "site-packages" in parts else "/".join(parts[-2:])
    return f"{name} ({short})"


def read_collapsed(path: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """Self and total samples per function from py-spy's raw (collapsed) output, and all samples."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")[1:]]  # the first is the thread
        if not frames:
            continue
        samples += n
        own[frames[-1]] += n
        for name in set(frames):
            total[name] += n
    return own, total, samples


def print_table(title: str, counts: collections.Counter[str], samples: int, top: int) -> None:
    print(f"\n{title}")
    for name, n in counts.most_common(top):
        print(f"  {100 * n / samples:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--pages", type=int, default=64)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("-l", "--latency", type=float, default=0.5)
    parser.add_argument("-m", "--model", default="gpt-image-2")
    parser.add_argument("--provider", help="route the model to this provider first (e.g. openai)")
    parser.add_argument("--size", default="1792x1024")
    parser.add_argument("--format", default="webp")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    args.widths = []
    if shutil.which("py-spy") is None:
        raise SystemExit("needs py-spy on PATH (pip install py-spy)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="imagegen-profile-"))
    config = write_site(work / "site", args.pages, plugin=plugin_options(args, concurrency=args.concurrency))
    env = base_env(work)
    out = work / "cold.collapsed"
    with StdlibServer(args.latency, render_answers(work / "answers", args.size)) as server:
        env.update(server.env())
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config)], env=env, check=True,
                       cwd=config.parent)  # compiles the bytecode; then the timed cold build starts empty
        shutil.rmtree(config.parent / ".banners")
        command = ["py-spy", "record", "--nonblocking", "-r", str(args.rate), "-f", "raw", "-o", str(out), "--",
                   sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config)]
        subprocess.run(command, env=env, check=True, cwd=config.parent, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        requests = server.requests()
    own, total, samples = read_collapsed(out)
    seconds = samples / args.rate
    print(f"{args.model}{' via ' + args.provider if args.provider else ''}, N={args.pages} C={args.concurrency} "
          f"L={args.latency:g}s, {requests} requests; {samples} samples on CPU (about {seconds:.2f} s of CPU, "
          f"{seconds / args.pages * 1000:.1f} ms per banner), load {os.getloadavg()[0]:.2f}")
    print_table("self (on CPU in the function itself)", own, samples, args.top)
    print_table("total (the function and what it calls)", total, samples, args.top)
    print(f"\ncollapsed stacks: {out}")
    return 0 if math.isfinite(seconds) else 1


if __name__ == "__main__":
    sys.exit(main())
