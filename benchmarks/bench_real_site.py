#!/usr/bin/env python3
"""A warm build of a real site nobody here wrote, counted in instructions: the plugin with every banner cached,
against the same site with the same banner files committed by hand and no plugin.

    git clone --depth 1 https://github.com/squidfunk/mkdocs-material /tmp/mkdocs-material
    pip install -e '.[test]'        # Material for MkDocs comes with the test extra; valgrind from your OS
    python benchmarks/bench_real_site.py /tmp/mkdocs-material             # about 10 minutes on 2 cores

The site is the checkout's own documentation (mkdocs.yml, docs/, its hooks and overrides). Every page outside
the blog gets a `banner_prompt` (82 pages in the checkout of 2026-12-07); the cache is filled by one cold build
against the emulator. The by-hand copy puts the very `<p class="imagegen-banner">` the plugin wrote into each
page's Markdown and commits the banner files under docs/. Plugins that are not installed here (Material's
`minify`) are dropped from both copies. Prints the instructions of one warm build of each (valgrind's
callgrind: the same count every run, whatever else the machine does) and their ratio; --wall adds timed runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_build import base_env, median  # noqa: E402

from mkdocs_imagegen.emulator import Emulator  # noqa: E402

# The site, and what its hooks read.
KEEP = ("mkdocs.yml", "docs", "material/overrides", "includes", "src/templates/partials/languages")
BANNER = re.compile(r'<p class="imagegen-banner">.*?</p>', re.S)


def copy_site(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    for name in KEEP:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        elif (source / name).is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)
    config = target / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    if importlib.util.find_spec("mkdocs_minify_plugin") is None:  # the same site on both sides, without it
        text = re.sub(r"\n  - minify:\n(?:      .*\n)+", "\n", text)
    config.write_text(text, encoding="utf-8")
    return config


def pages(config: Path) -> list[Path]:
    docs = config.parent / "docs"
    return sorted(p for p in docs.rglob("*.md") if "blog" not in p.relative_to(docs).parts)


def with_front_matter(text: str, line: str) -> str:
    if text.startswith("---\n"):
        return f"---\n{line}\n{text[4:]}"
    return f"---\n{line}\n---\n\n{text}"


def add_plugin(config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    text = text.replace("\nplugins:\n", "\nplugins:\n  - imagegen:\n      cache_dir: .banners\n", 1)
    config.write_text(text, encoding="utf-8")


def build(config: Path, env: dict[str, str], *prefix: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*prefix, sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config)],
                            capture_output=True, text=True, env=env, cwd=config.parent, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"build of {config} failed:\n{result.stderr[-3000:]}")
    return result


def instructions(config: Path, env: dict[str, str]) -> int:
    log = config.parent / "callgrind.log"
    build(config, env, "valgrind", "--tool=callgrind", f"--callgrind-out-file={config.parent / 'callgrind.out'}",
          f"--log-file={log}")
    found = re.search(r"refs:\s+([\d,]+)", log.read_text(encoding="utf-8"))
    if not found:
        raise SystemExit(f"no instruction count in {log}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a checkout of squidfunk/mkdocs-material")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--wall", type=int, default=0, help="also time this many ABBA rounds of warm builds")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind on PATH")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="imagegen-real-site-"))
    env = base_env(work)
    plugin = copy_site(args.source, work / "plugin")
    for i, page in enumerate(pages(plugin)):
        prompt = f"banner_prompt: 'Banner {i:03d} for {page.stem}: a lighthouse of index cards, flat illustration'"
        page.write_text(with_front_matter(page.read_text(encoding="utf-8"), prompt), encoding="utf-8")
    add_plugin(plugin)
    with Emulator() as emulator:  # the cold build that fills the cache; every warm build after it asks nothing
        env.update(emulator.env())
        cold = build(plugin, env)
        emulator.reset()
        warm = build(plugin, env)
        if emulator.requests:
            raise SystemExit(f"the warm build sent {len(emulator.requests)} request(s):\n{warm.stderr[-2000:]}")
    count = len(pages(plugin))
    del cold

    hand = copy_site(args.source, work / "by-hand")
    banners = hand.parent / "docs" / "assets" / "banners"
    banners.mkdir(parents=True, exist_ok=True)
    for file in (plugin.parent / "site" / "assets" / "banners").iterdir():
        shutil.copyfile(file, banners / file.name)
    for page in pages(hand):
        relative = page.relative_to(hand.parent / "docs")
        built = plugin.parent / "site" / _url_dir(relative) / "index.html"
        snippet = BANNER.search(built.read_text(encoding="utf-8"))
        if snippet is None:  # a page whose template shows no content (Material's home page) shows no banner
            continue
        text = page.read_text(encoding="utf-8")
        body_at = text.index("\n---\n", 4) + 5 if text.startswith("---\n") else 0
        page.write_text(f"{text[:body_at]}\n{snippet.group(0)}\n\n{text[body_at:]}", encoding="utf-8")
    build(hand, env)  # bytecode and page cache, untimed

    print(f"{count} pages with a banner; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    if args.wall:
        times: dict[str, list[float]] = {"plugin": [], "by hand": []}
        for i in range(args.wall):
            for kind in ("plugin", "by hand")[:: 1 if i % 2 == 0 else -1]:
                started = time.perf_counter()
                build(plugin if kind == "plugin" else hand, env)
                times[kind].append(time.perf_counter() - started)
        a, b = median(times["plugin"]), median(times["by hand"])
        print(f"wall, median of {args.wall}: {a:.2f}s vs {b:.2f}s ({a / b:.3f}x)", flush=True)
    counts = {"plugin": instructions(plugin, env), "by hand": instructions(hand, env)}
    ratio = counts["plugin"] / counts["by hand"]
    print(f"instructions (callgrind), one warm build each: {counts['plugin'] / 1e6:,.0f}M vs "
          f"{counts['by hand'] / 1e6:,.0f}M = {ratio:.4f}x; load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


def _url_dir(relative: Path) -> Path:
    """Where MkDocs writes a page (directory URLs): index.md is its folder, any other page a folder of its name."""
    return relative.parent if relative.stem in ("index", "README") else relative.with_suffix("")


if __name__ == "__main__":
    sys.exit(main())
