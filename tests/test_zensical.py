"""`mkdocs-imagegen sync` and Zensical: the banners of example_site without any plugin runtime.

Zensical (tested against 0.0.73, the `test` extra's pin) skips plugins it does not know, imagegen
among them; `sync` publishes the banners into docs_dir and writes two templates under
theme.custom_dir. The Chromium test is skipped, with the reason, when zensical is not installed.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_browser import CHROMIUM_ARGS, _QuietHandler, chromium_executable, require_chromium
from test_material import SITE_URL, copy_example, example_posts, html_of, meta_contents

from sitekit import PROVIDER_VARIABLES, build, image_info

POSTS = example_posts()
ZENSICAL_VERSION = "0.0.73"


def zensical_site(root: Path, widths: list[int] | None = None) -> Path:
    """A copy of example_site with `theme.custom_dir: overrides` (the one line the README asks for)."""
    config = copy_example(root / "example_site")
    text = config.read_text(encoding="utf-8")
    if "custom_dir:" not in text:
        text = text.replace("  name: material\n", "  name: material\n  custom_dir: overrides\n", 1)
    if widths:
        text = text.replace("      cache_dir: .banners\n", f"      cache_dir: .banners\n      widths: {widths}\n", 1)
    config.write_text(text, encoding="utf-8")
    (config.parent / "overrides").mkdir(exist_ok=True)
    return config


def sync(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "sync", "-f", str(config), *args],
                          capture_output=True, text=True, env=full_env, cwd=config.parent, timeout=120)


def owned_files(config: Path) -> dict[Path, int]:
    """Everything sync may write, with its mtime in nanoseconds."""
    root = config.parent
    paths = [*(root / "docs" / "assets" / "banners").glob("*"), *(root / "overrides").rglob("*")]
    return {path: path.stat().st_mtime_ns for path in paths if path.is_file()}


@pytest.fixture
def synced(tmp_path: Path, emulator: Any) -> tuple[Path, dict[str, str]]:
    config = zensical_site(tmp_path, widths=[480, 960])
    env = emulator.env()
    result = sync(config, env=env)
    assert result.returncode == 0, result.stderr
    assert len(emulator.image_requests()) == len(POSTS)
    return config, env


def test_second_sync_writes_nothing(synced: tuple[Path, dict[str, str]]) -> None:
    config, env = synced
    before = owned_files(config)
    assert any(path.suffix == ".webp" for path in before) and (config.parent / "overrides" / "main.html") in before
    result = sync(config, env=env)
    assert result.returncode == 0, result.stderr
    assert "wrote 0 file(s), removed 0 (nothing changed)" in result.stdout
    assert owned_files(config) == before


def test_sync_writes_only_its_folder_of_docs_dir(tmp_path: Path, emulator: Any) -> None:
    config = zensical_site(tmp_path)
    docs = config.parent / "docs"
    before = {path for path in docs.rglob("*") if path.is_file()}
    assert sync(config, env=emulator.env()).returncode == 0
    new = {path for path in docs.rglob("*") if path.is_file()} - before
    assert new and all(path.parent == docs / "assets" / "banners" for path in new), new


def test_check_fails_after_a_prompt_edit_and_passes_after_sync(synced: tuple[Path, dict[str, str]]) -> None:
    config, env = synced
    assert sync(config, "--check").returncode == 0
    post = config.parent / "docs" / "blog" / "posts" / f"{POSTS[0].name}.md"
    post.write_text(post.read_text(encoding="utf-8").replace("banner_prompt: ", "banner_prompt: Edited. ", 1),
                    encoding="utf-8")
    before = owned_files(config)
    failed = sync(config, "--check")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "run `mkdocs-imagegen sync" in failed.stderr and f"{POSTS[0].name}.md" in failed.stderr
    assert owned_files(config) == before, "--check wrote something"
    assert sync(config, env=env).returncode == 0
    passed = sync(config, "--check")
    assert passed.returncode == 0, passed.stderr


def test_a_page_that_loses_its_prompt_loses_its_published_banner(synced: tuple[Path, dict[str, str]]) -> None:
    config, env = synced
    banners = config.parent / "docs" / "assets" / "banners"
    count = len(list(banners.iterdir()))
    post = config.parent / "docs" / "blog" / "posts" / f"{POSTS[0].name}.md"
    without_banner = re.sub(r"(?m)^banner_\w+:.*\n(?:[ \t]+.*\n)*", "", post.read_text(encoding="utf-8"))
    post.write_text(without_banner, encoding="utf-8")
    result = sync(config, env=env)
    assert result.returncode == 0, result.stderr
    assert "removed 3" in result.stdout, result.stdout  # its banner and its two narrower widths
    assert len(list(banners.iterdir())) == count - 3
    assert sync(config, "--check").returncode == 0


def test_sync_needs_a_custom_dir_and_says_so(tmp_path: Path) -> None:
    config = copy_example(tmp_path / "example_site")
    config.write_text(config.read_text(encoding="utf-8").replace("  custom_dir: overrides\n", ""), encoding="utf-8")
    result = sync(config)
    assert result.returncode == 2
    assert "custom_dir" in result.stderr and "Traceback" not in result.stderr


def test_sync_leaves_a_main_html_of_yours_alone_and_says_what_to_add(tmp_path: Path, emulator: Any) -> None:
    config = zensical_site(tmp_path)
    main = config.parent / "overrides" / "main.html"
    main.write_text('{% extends "base.html" %}\n', encoding="utf-8")
    result = sync(config, env=emulator.env())
    assert result.returncode == 0
    assert main.read_text(encoding="utf-8") == '{% extends "base.html" %}\n'
    assert 'include "imagegen/head.html"' in result.stderr
    assert sync(config, "--check").returncode == 1


def test_mkdocs_build_is_unchanged_by_what_sync_wrote(synced: tuple[Path, dict[str, str]]) -> None:
    """One mkdocs.yml for both: under MkDocs the plugin does the work and the templates render nothing."""
    config, _ = synced
    with_sync = build(config, "--strict", "-d", str(config.parent / "site-synced"))
    assert with_sync.returncode == 0, with_sync.stderr
    plain = config.parent / "plain.yml"
    plain.write_text(config.read_text(encoding="utf-8").replace("  custom_dir: overrides\n", ""), encoding="utf-8")
    shutil.rmtree(config.parent / "docs" / "assets" / "banners")
    without = build(plain, "--strict", "-d", str(config.parent / "site-plain"))
    assert without.returncode == 0, without.stderr
    for post in POSTS:
        synced_html = html_of(config.parent / "site-synced", post.url_dir)
        assert synced_html == html_of(config.parent / "site-plain", post.url_dir), post.name
        assert synced_html.count('class="imagegen-banner"') == 1 and len(meta_contents(synced_html, "og:image")) == 1


# -- Zensical in Chromium -------------------------------------------------------------------------------


def zensical_command() -> list[str]:
    if importlib.util.find_spec("zensical") is None:
        pytest.skip(f"zensical is not installed (pip install zensical=={ZENSICAL_VERSION}, in the `test` extra)")
    from importlib.metadata import version

    if version("zensical") != ZENSICAL_VERSION:
        pytest.skip(f"these tests are pinned to zensical {ZENSICAL_VERSION}; {version('zensical')} is installed")
    return [sys.executable, "-m", "zensical"]


@pytest.fixture(scope="module")
def zensical_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """example_site after `mkdocs-imagegen sync` (against the emulator) and `zensical build`, on loopback."""
    command = zensical_command()
    require_chromium()
    from mkdocs_imagegen.emulator import Emulator

    root = tmp_path_factory.mktemp("zensical")
    config = zensical_site(root, widths=[480, 960, 1440])
    with Emulator() as emulator:
        result = sync(config, env={**emulator.env(), "MKDOCS_IMAGEGEN_CONFIG_DIR": str(root / "user-config")})
        assert result.returncode == 0, result.stderr
    built = subprocess.run([*command, "build", "-f", str(config)], capture_output=True, text=True, cwd=config.parent,
                           timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "imagegen" not in built.stdout + built.stderr
    site = config.parent / "site"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_zensical_build_shows_every_banner_and_one_og_image(zensical_built: tuple[Path, str]) -> None:
    site, base = zensical_built
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        tab = context.new_page()
        failures: list[str] = []
        tab.on("response", lambda response: failures.append(response.url) if response.status >= 400 else None)
        for post in POSTS:
            assert tab.goto(base + post.url_dir + "/").ok
            banner = tab.locator("p.imagegen-banner img")
            assert banner.count() == 1, post.name
            info = banner.evaluate("img => img.decode().then(() => ({w: img.naturalWidth, alt: img.alt, "
                                   "top: img.getBoundingClientRect().top, "
                                   "h1: document.querySelector('article h1').getBoundingClientRect().top}))")
            assert info["w"] > 0 and info["alt"] == post.alt and info["top"] < info["h1"], (post.name, info)
            ogs = tab.locator('meta[property="og:image"]')
            assert ogs.count() == 1, post.name
            og = ogs.get_attribute("content")
            assert og.startswith(SITE_URL) and (site / og.removeprefix(SITE_URL)).is_file()
            assert image_info(site / og.removeprefix(SITE_URL))[0] == post.size, "og:image is the full size"
        for url_dir in ["", "about/"]:
            tab.goto(base + url_dir)
            assert tab.locator("p.imagegen-banner").count() == 0
            assert tab.locator('meta[property="og:image"]').count() == 0
        assert failures == []
        browser.close()


def test_two_pages_with_one_prompt_keep_their_own_titles_under_zensical(tmp_path: Path, emulator: Any) -> None:
    command = zensical_command()
    config = zensical_site(tmp_path)
    docs = config.parent / "docs"
    for name, title in (("part-one.md", "Part one"), ("part-two.md", "Part two")):
        (docs / name).write_text(f"---\ntitle: {title}\nbanner_prompt: a shared lighthouse\n---\n\n# {title}\n\n"
                                 "Text.\n", encoding="utf-8")
    assert sync(config, env=emulator.env()).returncode == 0
    built = subprocess.run([*command, "build", "-f", str(config)], capture_output=True, text=True, cwd=config.parent,
                           timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    for slug, title in (("part-one", "Part one"), ("part-two", "Part two")):
        html = (config.parent / "site" / slug / "index.html").read_text(encoding="utf-8")
        assert f'alt="{title}"' in html, (slug, re.findall(r'alt="[^"]*"', html))
        assert f'property="og:title" content="{title}"' in html, slug


@pytest.mark.parametrize("where", ["absolute", "parent", "linked"])
def test_sync_writes_nothing_outside_the_project_whatever_custom_dir_says(tmp_path: Path, emulator: Any,
                                                                          where: str) -> None:
    config = zensical_site(tmp_path / "project")
    outside = tmp_path / "outside"
    outside.mkdir()
    custom = {"absolute": str(outside), "parent": "../../outside", "linked": "overrides"}[where]
    if where == "linked":
        shutil.rmtree(config.parent / "overrides")
        os.symlink(outside, config.parent / "overrides")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("custom_dir: overrides", f"custom_dir: {custom}"), encoding="utf-8")
    result = sync(config, env=emulator.env())
    assert result.returncode == 2 and "outside the project" in result.stderr, result.stderr
    assert list(outside.iterdir()) == [] and emulator.image_requests() == []


def test_sync_writes_nothing_through_a_linked_imagegen_folder(tmp_path: Path, emulator: Any) -> None:
    config = zensical_site(tmp_path / "project")
    target = tmp_path / "target"
    target.mkdir()
    (target / "head.html").write_text("theirs", encoding="utf-8")
    os.symlink(target, config.parent / "overrides" / "imagegen")
    result = sync(config, env=emulator.env())
    assert result.returncode == 2 and "not a real folder" in result.stderr, result.stderr
    assert [p.name for p in target.iterdir()] == ["head.html"] and (target / "head.html").read_text() == "theirs"
    assert emulator.image_requests() == []


def test_sync_leaves_a_head_html_of_yours_alone_and_says_so(tmp_path: Path, emulator: Any) -> None:
    config = zensical_site(tmp_path)
    head = config.parent / "overrides" / "imagegen" / "head.html"
    head.parent.mkdir()
    head.write_text("<meta name='mine'>\n", encoding="utf-8")
    result = sync(config, env=emulator.env())
    assert result.returncode == 2 and f"{head} is not a template `sync` wrote" in result.stderr, result.stderr
    assert head.read_text(encoding="utf-8") == "<meta name='mine'>\n" and emulator.image_requests() == []
    head.unlink()
    assert sync(config, env=emulator.env()).returncode == 0
    assert sync(config, env=emulator.env()).returncode == 0  # its own templates are rewritten, not refused
