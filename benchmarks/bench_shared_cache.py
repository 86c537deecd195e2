#!/usr/bin/env python3
"""Two machines, one shared cache: issue 18's acceptance 2 figures, measured.

Starts moto's standalone S3 server on loopback (`moto_server -H 127.0.0.1 -p 0`) and the provider
emulator in this process (latency L per image), writes two copies of an N-page site, each with its
own cache_dir and the same `cache_url: s3://<bucket>/cache`, starts both `mkdocs build --strict` at
once, and prints the generation requests the emulator received, each build's wall time, and what a
third machine with an empty cache_dir and no provider credentials needs (requests, time). Exits 1 if
the two builds paid for any banner twice or did not both publish every banner.

    python benchmarks/bench_shared_cache.py [--pages 16] [--latency 1.0] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from mkdocs_imagegen.emulator import Emulator


def start_moto(cwd: Path) -> tuple[subprocess.Popen[str], int]:
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", "0"], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
        if match:
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, int(match.group(1))
    raise SystemExit("moto_server did not start (pip install 'moto[server]')")


def write_site(root: Path, pages: int, url: str, concurrency: int) -> Path:
    (root / "docs").mkdir(parents=True)
    for n in range(pages):
        front = yaml.safe_dump({"banner_prompt": f"a paper lantern shaped like the number {n}", "title": f"Post {n}"})
        (root / "docs" / f"post-{n}.md").write_text(f"---\n{front}---\n\n# Post {n}\n", encoding="utf-8")
    options = {"size": "640x360", "cache_url": url, "concurrency": concurrency, "retries": 1}
    config = root / "mkdocs.yml"
    config.write_text(yaml.safe_dump({"site_name": "Fleet", "plugins": [{"imagegen": options}]}), encoding="utf-8")
    return config


def published(config: Path, pages: int) -> int:
    site = config.parent / "site"
    return sum("placeholder-" not in (site / f"post-{n}" / "index.html").read_text(encoding="utf-8")
               for n in range(pages))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        moto, port = start_moto(tmp)
        try:
            store_env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
                         "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                         "AWS_EC2_METADATA_DISABLED": "true", "NO_MKDOCS_2_WARNING": "1"}
            import fsspec

            os.environ.update(store_env)
            fsspec.filesystem("s3", skip_instance_cache=True).mkdir("bench-fleet")
            url = "s3://bench-fleet/cache"
            configs = [write_site(tmp / name, args.pages, url, args.concurrency) for name in ("a", "b", "c")]
            with Emulator(latency=args.latency) as emulator:
                base = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_", "OPENAI_"))}
                started = time.monotonic()
                builds = [subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(c)],
                                           env={**base, **emulator.env()}, cwd=c.parent) for c in configs[:2]]
                times = []
                for build in builds:
                    build.wait()
                    times.append(time.monotonic() - started)
                requests = Counter(r.prompt for r in emulator.image_requests())
                span = max(r.finished for r in emulator.image_requests()) - min(
                    r.started for r in emulator.image_requests())
                in_flight = emulator.max_concurrent
                started = time.monotonic()
                third = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f",
                                        str(configs[2])], env=base, cwd=configs[2].parent)
                third_time = time.monotonic() - started
                third_requests = sum(Counter(r.prompt for r in emulator.image_requests()).values()) - sum(
                    requests.values())
        finally:
            moto.kill()
            moto.wait()
        both = [published(c, args.pages) for c in configs[:2]]
        print(f"{args.pages} missing banners, 2 builds at once sharing {url} on moto, latency {args.latency:g}s, "
              f"concurrency {args.concurrency}")
        print(f"  generation requests: {sum(requests.values())} (most for one banner: {max(requests.values())}), "
              f"at most {in_flight} in flight, first sent to last answered {span:.1f}s")
        print(f"  builds exited {[b.returncode for b in builds]}, published {both} real banners, "
              f"finished after {times[0]:.1f}s and {times[1]:.1f}s")
        print(f"  third machine, empty cache_dir, no provider credentials: exit {third.returncode}, "
              f"{third_requests} requests, {published(configs[2], args.pages)} banners, {third_time:.1f}s")
        ok = (sum(requests.values()) == args.pages and max(requests.values()) == 1
              and both == [args.pages, args.pages] and third_requests == 0)
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
