#!/usr/bin/env python3
"""What a hostile provider costs a build (issue 14): real `mkdocs build` subprocesses against
`tests/hostile.py`, a loopback server that misbehaves at the HTTP level. Prints one line per case.

  huge:   N pages (4), each answered 200 with a body of --huge-mb MB (200), chunked (no
          Content-Length, so it must be cut while it streams). Peak RSS of the build (os.wait4
          on that one child); the target is under 400 MB.
  slow:   one page whose answer is trickled one byte every --interval s (1.0) with
          `timeout: --timeout` (10). Build time against (retries + 1) x timeout.
  hint:   one page answered 429 with a retry hint of --hint s (99999). Build time.

Every build is killed after --limit s (a build that obeys a 31-hour hint or reads a body at
1 byte/s must not hang the benchmark): a killed build is reported as "killed after".

    python benchmarks/bench_hostile.py                        # all three (about 30 s once fixed)
    python benchmarks/bench_hostile.py --only huge --provider google --pages 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile import Behaviour, HostileServer  # noqa: E402
from sitekit import PROVIDER_VARIABLES, page, write_site  # noqa: E402

MODEL = {"google": "gemini-3.1-flash-image", "openai": "gpt-image-2", "foundry": "gpt-image-2"}


def run_build(config: Path, env: dict[str, str], limit: float) -> tuple[float, float, int, bool, str]:
    """(seconds, peak RSS in MB, exit code, killed, stderr) of one `mkdocs build` child."""
    log_path = config.parent / "build.log"
    with open(log_path, "w+", encoding="utf-8") as log:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "-f", str(config)],
                                 stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=config.parent)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            child.kill()

        killer = threading.Timer(limit, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return seconds, usage.ru_maxrss / 1024, child.returncode, killed.is_set(), log.read()


def case(work: Path, name: str, provider: str, behaviour: Behaviour, pages: int, options: dict[str, object],
         limit: float) -> tuple[float, float, int, bool, list[str]]:
    root = work / name
    with HostileServer() as server:
        server.script("[hostile]", behaviour)
        config = write_site(root, {f"p{i}.md": page(f"a lighthouse {i} [hostile]", title=f"Page {i}")
                                   for i in range(pages)},
                            {"model": MODEL[provider], "size": "640x360", **options})
        env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | server.env(provider)
        seconds, rss, code, killed, stderr = run_build(config, env, limit)
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    return seconds, rss, code, killed, warnings


def report(label: str, result: tuple[float, float, int, bool, list[str]], extra: str = "") -> None:
    seconds, rss, code, killed, warnings = result
    ended = f"killed after {seconds:.1f} s" if killed else f"{seconds:.1f} s, exit {code}"
    print(f"{label}: {ended}, peak RSS {rss:.0f} MB, {len(warnings)} warning(s){extra}")
    for line in warnings[:4]:
        print(f"    {line[:220]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="huge,slow,hint", help="comma-separated: huge, slow, hint")
    parser.add_argument("--provider", default="openai", choices=sorted(MODEL))
    parser.add_argument("--pages", type=int, default=4, help="pages of the huge case")
    parser.add_argument("--huge-mb", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=10.0, help="the site's `timeout` in the slow case")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between trickled bytes")
    parser.add_argument("--hint", type=float, default=99999.0, help="the retry hint, in seconds")
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--limit", type=float, default=120.0, help="kill a build after this many seconds")
    args = parser.parse_args()
    only = set(args.only.split(","))
    options = {"retries": args.retries, "concurrency": 4}
    print(f"provider {args.provider} ({MODEL[args.provider]}), retries {args.retries}, "
          f"builds killed after {args.limit:g} s")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch:
        work = Path(scratch)
        if "huge" in only:
            result = case(work, "huge", args.provider,
                          Behaviour("huge", size=args.huge_mb * 1000 * 1000, chunked=True),
                          args.pages, {**options, "timeout": 60}, args.limit)
            report(f"huge: {args.pages} page(s) x {args.huge_mb} MB chunked body", result,
                   "; target < 400 MB: " + ("PASS" if result[1] < 400 and not result[3] else "FAIL"))
        if "slow" in only:
            bound = (args.retries + 1) * args.timeout
            result = case(work, "slow", args.provider, Behaviour("trickle_body", interval=args.interval), 1,
                          {**options, "timeout": args.timeout}, args.limit)
            report(f"slow: body at 1 byte / {args.interval:g} s, timeout {args.timeout:g} s", result,
                   f"; (retries + 1) x timeout = {bound:g} s")
        if "hint" in only:
            result = case(work, "hint", args.provider, Behaviour("retry_hint", seconds=args.hint), 1,
                          {**options, "timeout": args.timeout}, args.limit)
            report(f"hint: 429 with retry-after {args.hint:g} s", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
