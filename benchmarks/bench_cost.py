#!/usr/bin/env python3
"""What a cold build costs per banner, beside the work it cannot avoid: three paths, two servers, one table.

    python benchmarks/bench_cost.py                                  # N=64 C=8 L=0.5 s, both servers (~6 min)
    python benchmarks/bench_cost.py --latency 0.5,5 --paths openai   # CPU per banner at 0.5 s and 5 s
    python benchmarks/bench_cost.py --servers stdlib --runs 5 --json out.json

Paths (model, route; what the plugin must do with each answer):
  openai   gpt-image-2 through OpenAI, asked for the published WebP: one decode, the check
  foundry  gpt-image-2 through Azure AI Foundry (PNG; no WebP there): decode and one WebP encode
  gemini   gemini-3.1-flash-image (a 2K JPEG): decode, crop and resize, one WebP encode

Servers: `stdlib` is benchmarks/stdlib_server.py in its own process (the standard library only, answering
pre-rendered photographic images); `emulator` is the plugin's own emulator (flat images, cheaper to decode).

For each path and server: the median of --runs cold builds (each from an empty cache) less the median warm
build, against the ideal ceil(N/C)*L; the cold builds' CPU per banner, less a warm build's CPU (what each
extra banner costs: interpreter start, MkDocs and the pages are the warm build's); and the unavoidable work
for one answer, timed in this process on the very file the build cached (CPU, median of --repeat): a Pillow
decode (`Image.open` + `load`), plus for foundry/gemini the plugin's own fit and encode at today's settings.
Peak RSS is the build's own VmHWM. Each row says the load average (1 minute) when it finished: on a shared
machine CPU per banner moves with contention (cache misses, page faults), so compare rows of one run.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_build import (  # noqa: E402
    base_env,
    median,
    mkdocs_build,
    plugin_options,
    published,
    write_site,
)
from servers import EmulatorServer, StdlibServer, render_answers  # noqa: E402

from mkdocs_imagegen import emulator as emulator_module  # noqa: E402

PATHS = {  # name: (model, provider routed first, work beyond the decode)
    "openai": ("gpt-image-2", "openai", ""),
    "foundry": ("gpt-image-2", "foundry", "encode"),
    "gemini": ("gemini-3.1-flash-image", None, "fit+encode"),
}
LIMITS = {"openai": 1.1, "gemini": 1.1}  # CPU per banner over the unavoidable work


def cpu_seconds(work: Any, repeat: int) -> float:
    """Median CPU time of `work()` in this process."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times)


def unavoidable(data: bytes, beyond: str, size: str, repeat: int) -> float:
    """CPU of the work one answer needs: a decode, and for the other paths the fit and encode."""
    from PIL import Image

    from mkdocs_imagegen.imaging import encode, fit
    from mkdocs_imagegen.request import Size

    target = Size.parse(size)

    def decode() -> Image.Image:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image

    if not beyond:
        return cpu_seconds(decode, repeat)
    return cpu_seconds(lambda: encode(fit(decode(), target), "webp"), repeat)


def an_answer(config: Path) -> bytes:
    """One answer as the provider sent it: the build cached its bytes as they came."""
    originals = sorted(p for p in (config.parent / ".banners" / "originals").iterdir() if p.suffix != ".json")
    return originals[0].read_bytes()


def server_for(name: str, latency: float, work: Path, size: str) -> EmulatorServer | StdlibServer:
    if name == "stdlib":
        return StdlibServer(latency, render_answers(work / "answers", size))
    # Each image drawn once, then served from memory: a real provider draws during its latency, not on our CPU.
    images = emulator_module.images  # where the protocols look it up
    images.render_image = functools.lru_cache(maxsize=None)(images.render_image.__wrapped__)
    return EmulatorServer(latency)


def measure(path: str, server_name: str, latency: float, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    model, provider, beyond = PATHS[path]
    options = argparse.Namespace(model=model, provider=provider, size=args.size, format="webp", widths=[])
    config = write_site(work / f"{path}-{server_name}-{latency:g}", args.pages,
                        plugin=plugin_options(options, concurrency=args.concurrency))
    env = base_env(work)
    with server_for(server_name, latency, work, args.size) as server:
        env.update(server.env())
        mkdocs_build(config, env)  # untimed: compiles the bytecode and, on the emulator, draws every image once
        colds = []
        for _ in range(args.runs):
            shutil.rmtree(config.parent / ".banners", ignore_errors=True)
            server.reset()
            colds.append(mkdocs_build(config, env))
            if server.requests() != args.pages:
                raise SystemExit(f"{path} on {server_name}: {server.requests()} requests, not {args.pages}")
        warms = [mkdocs_build(config, env) for _ in range(args.runs)]
    failed = [run for run in (*colds, *warms) if run.returncode]
    if failed or published(config) != (args.pages, 0):
        raise SystemExit(f"{path} on {server_name}: build failed or placeholders:\n{(failed or colds)[0].stderr}")
    n = args.pages
    ideal = math.ceil(n / args.concurrency) * latency
    generation = median(r.seconds for r in colds) - median(r.seconds for r in warms)
    per_banner = (median(r.cpu_s for r in colds) - median(r.cpu_s for r in warms)) / n
    work_s = unavoidable(an_answer(config), beyond, args.size, args.repeat)
    return {"path": path, "server": server_name, "latency": latency, "ideal_s": ideal, "generation_s": generation,
            "ratio": generation / ideal, "cold_s": [r.seconds for r in colds], "warm_s": [r.seconds for r in warms],
            "cold_cpu_s": [r.cpu_s for r in colds], "warm_cpu_s": [r.cpu_s for r in warms],
            "cpu_per_banner_s": per_banner, "unavoidable_s": work_s, "cpu_over_work": per_banner / work_s,
            "peak_rss_mib": max(r.max_rss_mb for r in colds), "load": os.getloadavg()[0]}


def print_row(row: dict[str, Any]) -> None:
    limit = LIMITS.get(row["path"])
    verdict = "" if limit is None else ("PASS" if row["cpu_over_work"] <= limit else "FAIL")
    work = {"openai": "decode", "foundry": "decode+encode", "gemini": "decode+fit+encode"}[row["path"]]
    print(f"{row['path']:8} {row['server']:8} L={row['latency']:<4g} {row['generation_s']:6.2f}s "
          f"{row['ratio']:6.3f}x  CPU/banner {row['cpu_per_banner_s'] * 1000:6.1f} ms  {work} "
          f"{row['unavoidable_s'] * 1000:6.1f} ms  = {row['cpu_over_work']:5.2f}x {verdict:4}  "
          f"RSS {row['peak_rss_mib']:4.0f} MiB  load {row['load']:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", default="openai,foundry,gemini")
    parser.add_argument("--servers", default="stdlib,emulator")
    parser.add_argument("--latency", default="0.5", help="seconds, comma-separated for several")
    parser.add_argument("-n", "--pages", type=int, default=64)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--size", default="1792x1024")
    parser.add_argument("--runs", type=int, default=3, help="cold builds (and warm builds) per row")
    parser.add_argument("--repeat", type=int, default=15, help="timings of the unavoidable work per row")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="imagegen-cost-", dir=_tmpfs()))
    print(f"N={args.pages} C={args.concurrency}, medians of {args.runs} cold and warm builds; load at start "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; work dir {work}", flush=True)
    rows = []
    for latency in (float(x) for x in args.latency.split(",")):
        for server in args.servers.split(","):
            for path in args.paths.split(","):
                rows.append(measure(path, server, latency, args, work))
                print_row(rows[-1])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    failed = [r for r in rows if r["path"] in LIMITS and r["cpu_over_work"] > LIMITS[r["path"]]]
    return 1 if failed else 0


def _tmpfs() -> str | None:
    return "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None


if __name__ == "__main__":
    sys.exit(main())
