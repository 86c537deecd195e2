"""Banners that load fast: narrower copies (option `widths`) in `srcset`, cached and content-addressed.

A phone-width Chromium (390 px) must pick the narrowest copy that covers the banner's displayed
width; og:image stays the full configured size; a warm build encodes (so writes) nothing.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_browser import CHROMIUM_ARGS, _QuietHandler, chromium_executable, require_chromium
from test_material import SITE_URL, copy_example, example_posts, html_of, meta_contents

from sitekit import build, image_info, warnings_of

POSTS = example_posts()
WIDTHS = [480, 960, 1440]


def responsive_site(root: Path, *, widths: list[int] | None = None, index_banners: bool = False) -> Path:
    config = copy_example(root / "example_site")
    options = f"      cache_dir: .banners\n      widths: {widths if widths is not None else WIDTHS}\n"
    if index_banners:
        options += "      index_banners: true\n"
    text = config.read_text(encoding="utf-8").replace("      cache_dir: .banners\n", options, 1)
    config.write_text(text, encoding="utf-8")
    return config


def cache_state(config: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in (config.parent / ".banners" / "renditions").iterdir()}


def test_widths_are_cached_and_a_warm_build_encodes_nothing(tmp_path: Path, emulator: Any) -> None:
    config = responsive_site(tmp_path)
    first = build(config, "--strict", env=emulator.env())
    assert first.returncode == 0, first.stderr
    cold = cache_state(config)
    # Each banner: its rendition and one copy per configured width narrower than it.
    expected = sum(1 + len([w for w in WIDTHS if w < post.size[0]]) for post in POSTS)
    assert len(cold) == expected, sorted(cold)
    second = build(config, "--strict", env=emulator.env())
    assert second.returncode == 0 and warnings_of(second) == []
    assert cache_state(config) == cold, "a warm build wrote into the cache"
    site = config.parent / "site"
    for post in POSTS:
        html = html_of(site, post.url_dir)
        [og] = meta_contents(html, "og:image")
        assert image_info(site / og.removeprefix(SITE_URL))[0] == post.size, "og:image is not the full size"
        assert 'fetchpriority="high"' in html and 'decoding="async"' in html and 'srcset="' in html


def test_prune_keeps_the_widths_in_use_and_removes_those_of_an_old_banner(tmp_path: Path, emulator: Any) -> None:
    import subprocess
    import sys

    config = responsive_site(tmp_path)
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    prune = [sys.executable, "-m", "mkdocs_imagegen", "prune", "-f", str(config)]
    kept = subprocess.run([*prune, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert "nothing to prune" in kept.stdout, kept.stdout
    before = set(cache_state(config))
    post = config.parent / "docs" / "blog" / "posts" / "garden-of-links.md"
    post.write_text(post.read_text(encoding="utf-8").replace("isometric", "watercolour"), encoding="utf-8")
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    added = set(cache_state(config)) - before
    assert subprocess.run(prune, capture_output=True, text=True, timeout=60).returncode == 0
    after = set(cache_state(config))
    gone = before - after
    assert added <= after and len(gone) == len(added) == 1 + len([w for w in WIDTHS if w < 1792]), (gone, added)
    assert any("-w" in name for name in gone)


def test_no_widths_no_srcset(tmp_path: Path) -> None:
    config = responsive_site(tmp_path, widths=[])
    assert build(config).returncode == 0
    html = html_of(config.parent / "site", POSTS[0].url_dir)
    assert "srcset=" not in html and 'fetchpriority="high"' in html


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    require_chromium()
    from mkdocs_imagegen.emulator import Emulator

    root = tmp_path_factory.mktemp("responsive")
    config = responsive_site(root)
    with Emulator() as emulator:
        result = build(config, "--strict", env={**emulator.env(), "MKDOCS_IMAGEGEN_CONFIG_DIR": str(root / "uc")})
        assert result.returncode == 0, result.stderr
    site = config.parent / "site"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("scale", [1, 2])
def test_a_phone_loads_the_narrowest_sufficient_width(served: tuple[Path, str], scale: int) -> None:
    from playwright.sync_api import sync_playwright

    site, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=scale)
        tab = context.new_page()
        for post in POSTS:
            tab.goto(base + post.url_dir + "/")
            info = tab.locator("article p.imagegen-banner img").evaluate(
                "img => img.decode().then(() => ({src: img.currentSrc, shown: img.getBoundingClientRect().width,"
                " natural: img.naturalWidth}))")
            # `sizes` says 100vw below 76.25em: the browser needs 390 px times the pixel ratio.
            needed = 390 * scale
            candidates = sorted([w for w in WIDTHS if w < post.size[0]] + [post.size[0]])
            best = next(w for w in candidates if w >= needed)
            match = re.search(r"-w(\d+)\.webp$", info["src"])
            loaded = int(match.group(1)) if match else post.size[0]
            assert loaded == best, (post.name, info, best)
            assert loaded >= info["shown"] * scale, "the copy is narrower than the banner is shown"
        browser.close()


def test_an_output_dir_with_a_space_keeps_every_srcset_candidate_whole(site_root: Path, emulator: Any) -> None:
    from sitekit import page, write_site

    config = write_site(site_root, {"p.md": page("a lighthouse", title="P")},
                        {"output_dir": "my banners", "widths": [320], "size": "640x360"})
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    html = (config.parent / "site" / "p" / "index.html").read_text(encoding="utf-8")
    [srcset] = re.findall(r'srcset="([^"]+)"', html)
    candidates = [candidate.rsplit(" ", 1) for candidate in srcset.split(", ")]
    assert [width for _, width in candidates] == ["320w", "640w"], srcset
    assert all("my%20banners/" in url and " " not in url for url, _ in candidates), srcset


def test_output_dir_dot_is_refused_in_one_line(site_root: Path) -> None:
    from sitekit import page, write_site

    config = write_site(site_root, {"p.md": page("a lighthouse", title="P")}, {"output_dir": "."})
    result = build(config)
    assert result.returncode != 0 and "output_dir '.' must be a folder inside the site" in result.stderr
    assert "Traceback" not in result.stderr
