"""`index_banners: true`: each post's banner on Material's blog index, archive and category pages,
linked to the post and loaded lazily; off by default, and nothing without Material's blog."""

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
from test_material import example_posts, html_of
from test_responsive import responsive_site

from sitekit import build, page, write_site

POSTS = example_posts()
VIEWS = ["blog", "blog/archive/2026", "blog/category/notes"]
BYTES = """() => performance.getEntriesByType("resource")
    .filter(e => e.name.includes("/assets/banners/"))
    .reduce((sum, e) => sum + e.transferSize, 0)"""


INDEX_SHOT = Path(__file__).resolve().parent.parent / "example_site" / "blog-index.png"
SERIES_SHOT = INDEX_SHOT.with_name("series.png")


def views_of(site: Path) -> list[str]:
    return [path.parent.relative_to(site).as_posix() for path in site.glob("blog/**/index.html")
            if not re.match(r"blog/\d{4}/\d\d/\d\d/", path.relative_to(site).as_posix())]


def test_off_by_default(tmp_path: Path) -> None:
    config = responsive_site(tmp_path)
    assert build(config).returncode == 0
    site = config.parent / "site"
    assert all("imagegen-index-banner" not in html_of(site, view) for view in views_of(site))


def test_every_excerpt_gets_its_post_banner_linked_to_the_post(tmp_path: Path) -> None:
    config = responsive_site(tmp_path, index_banners=True)
    assert build(config).returncode == 0
    site = config.parent / "site"
    for view in views_of(site):
        html = html_of(site, view)
        excerpts = html.count('<article class="md-post md-post--excerpt">')
        links = re.findall(r'<a class="imagegen-index-banner" href="([^"]+)"[^>]*><img ([^>]+)>', html)
        assert len(links) == excerpts > 0, view
        for href, img in links:
            assert 'loading="lazy"' in img and "fetchpriority" not in img
            assert (site / view / href / "index.html").resolve().is_file(), (view, href)
    # Each post's own banner is still the one on top of its page, and titles appear once on the index.
    index = html_of(site, "blog")
    for post in POSTS:
        assert index.count(f">{post.title}</a></h2>") == 1


def test_nothing_without_materials_blog(site_root: Path) -> None:
    pages = {"index.md": page("a banner", title="Home"), "post.md": page("another", title="Post")}
    config = write_site(site_root, pages, {"index_banners": True})
    assert build(config).returncode == 0
    for url_dir in ["", "post"]:
        html = (site_root / "site" / url_dir / "index.html").read_text(encoding="utf-8")
        assert "imagegen-index-banner" not in html and html.count('class="imagegen-banner"') == 1


def serve(site: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """example_site with index banners: full size only (`widths: []`) and with narrower widths."""
    require_chromium()
    from mkdocs_imagegen.emulator import Emulator

    root = tmp_path_factory.mktemp("index")
    servers, bases = [], {}
    with Emulator() as emulator:
        for name, widths in (("full", []), ("widths", None)):
            config = responsive_site(root / name, widths=widths, index_banners=True)
            result = build(config, "--strict", env={**emulator.env(), "MKDOCS_IMAGEGEN_CONFIG_DIR": str(root / "uc")})
            assert result.returncode == 0, result.stderr
            server, bases[name] = serve(config.parent / "site")
            servers.append(server)
    try:
        yield bases
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def banner_bytes(browser: Any, url: str, viewport: dict[str, int]) -> tuple[int, list[Any]]:
    """Bytes of banners transferred once the whole page was scrolled through, and each banner's state."""
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    tab.goto(url)
    tab.evaluate("async () => { for (const img of document.querySelectorAll('a.imagegen-index-banner img')) {"
                 " img.scrollIntoView(); await img.decode(); } }")
    states = tab.locator("a.imagegen-index-banner img").evaluate_all(
        "imgs => imgs.map(img => [img.complete, img.naturalWidth, img.closest('a').href])")
    total = tab.evaluate(BYTES)
    context.close()
    return total, states


def shot(browser: Any, url: str) -> None:
    """The blog index with its banners, for the README (`IMAGEGEN_UPDATE_SCREENSHOT=1` rewrites it)."""
    import os

    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    tab = context.new_page()
    tab.goto(url)
    tab.evaluate("async () => { for (const img of document.querySelectorAll('a.imagegen-index-banner img')) {"
                 " img.scrollIntoView(); await img.decode(); } window.scrollTo(0, 0); }")
    if os.environ.get("IMAGEGEN_UPDATE_SCREENSHOT") == "1":
        tab.screenshot(path=str(INDEX_SHOT))
    tab.goto(url + "category/field-notes/")  # the three posts of a series, in their one house style
    tab.evaluate("async () => { for (const img of document.querySelectorAll('a.imagegen-index-banner img')) {"
                 " img.scrollIntoView(); await img.decode(); } window.scrollTo(0, 0); }")
    assert tab.locator("a.imagegen-index-banner img").count() == 3
    if os.environ.get("IMAGEGEN_UPDATE_SCREENSHOT") == "1":
        tab.screenshot(path=str(SERIES_SHOT), full_page=True)
    context.close()


def test_index_banners_load_in_chromium(sites: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from playwright.sync_api import sync_playwright

    figures = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        for view in VIEWS:
            total, states = banner_bytes(browser, sites["widths"] + view + "/", {"width": 1280, "height": 900})
            assert states and all(complete and width > 0 for complete, width, _ in states), (view, states)
            assert all("/blog/2026/" in href for _, _, href in states)
        shot(browser, sites["widths"] + "blog/")
        for name in ("full", "widths"):
            for label, viewport in (("desktop 1280", {"width": 1280, "height": 900}),
                                    ("phone 390", {"width": 390, "height": 844})):
                figures[(name, label)] = banner_bytes(browser, sites[name] + "blog/", viewport)[0]
        browser.close()
    assert figures[("widths", "phone 390")] < figures[("full", "phone 390")]
    with capsys.disabled():
        for (name, label), total in figures.items():
            print(f"\nblog index banners, {name}, {label}: {total:,} bytes")
