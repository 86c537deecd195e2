"""Headless Chromium against example_site, built against the emulator and served on loopback.

Each post's banner must load at its configured size with alt text and width/height attributes,
and its `og:image` must resolve to a file of the built site. Chromium is Debian's `chromium`
(or `CHROMIUM=/path/to/chrome`), driven by Playwright's Python client: Playwright never
downloads a browser of its own here.

`IMAGEGEN_UPDATE_SCREENSHOT=1 pytest tests/test_browser.py` also refreshes example_site/screenshot.png,
the picture the README shows.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_material import EXAMPLE, SITE_URL, Post, copy_example, example_posts

from sitekit import build, warnings_of

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOT = EXAMPLE / "screenshot.png"
POSTS = example_posts()


def chromium_executable() -> str | None:
    """`CHROMIUM` when it is set (and then only it), else Debian's chromium."""
    if os.environ.get("CHROMIUM"):
        candidates = [os.environ["CHROMIUM"]]
    else:
        candidates = ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".webp": "image/webp"}  # not known to 3.10

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Served:
    site: Path  # the built site directory
    base: str  # http://127.0.0.1:PORT/ serving it
    problems: list[str] = field(default_factory=list)  # failed requests, HTTP and script errors in the tab

    def local(self, url: str) -> str:
        """The loopback URL of a `site_url` URL."""
        assert url.startswith(SITE_URL), f"{url} is not under site_url {SITE_URL}"
        return self.base + url.removeprefix(SITE_URL)


def require_chromium() -> str:
    """Debian's headless Chromium and Playwright's client, or skip the test saying which is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright's Python client is not installed (pip install playwright)")
    executable = chromium_executable()
    if executable is None and os.environ.get("CHROMIUM"):
        pytest.skip(f"CHROMIUM={os.environ['CHROMIUM']} is not an executable file")
    if executable is None:
        pytest.skip("no headless Chromium: install Debian's chromium (apt-get install chromium) or set CHROMIUM")
    return executable


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_chromium()  # before importing Playwright: without it or Chromium, skip saying why
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Served]:
    """example_site built against the emulator (real banners) and served on 127.0.0.1."""
    from mkdocs_imagegen.emulator import Emulator

    root = tmp_path_factory.mktemp("browser")
    config = copy_example(root / "example_site")
    with Emulator() as emulator:
        env = {**emulator.env(), "MKDOCS_IMAGEGEN_CONFIG_DIR": str(root / "user-config")}
        result = build(config, "--strict", env=env)
        assert result.returncode == 0, result.stderr
        assert warnings_of(result) == [], result.stderr
        assert len(emulator.image_requests()) == len(POSTS)
    site = config.parent / "site"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(site=site, base=f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh page that may only talk to the loopback server; failures are collected."""
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(served.base)
                  else route.abort())
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    served.problems.clear()
    tab.on("requestfailed", lambda request: served.problems.append(f"failed: {request.url}")
           if request.url.startswith(served.base) else None)
    tab.on("response", lambda response: served.problems.append(f"{response.status}: {response.url}")
           if response.status >= 400 else None)
    tab.on("pageerror", lambda error: served.problems.append(f"script error: {error}"))
    yield tab
    context.close()


BANNER_INFO = """img => img.decode().then(() => {
    const heading = document.querySelector("article h1");
    return {
        naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, alt: img.alt,
        width: img.getAttribute("width"), height: img.getAttribute("height"), src: img.currentSrc,
        top: img.getBoundingClientRect().top, headingTop: heading ? heading.getBoundingClientRect().top : null,
    };
})"""


@pytest.mark.parametrize("post", POSTS, ids=[post.name for post in POSTS])
def test_post_banner_loads_and_og_image_resolves(tab: Any, served: Served, post: Post) -> None:
    response = tab.goto(served.base + post.url_dir + "/")
    assert response is not None and response.ok, post.url_dir
    banners = tab.locator("article p.imagegen-banner img")
    assert banners.count() == 1
    info = banners.evaluate(BANNER_INFO)  # decode() rejects, and so fails here, if the image is broken
    assert (info["naturalWidth"], info["naturalHeight"]) == post.size
    assert info["alt"].strip() == post.alt
    assert (info["width"], info["height"]) == (str(post.size[0]), str(post.size[1]))
    assert info["headingTop"] is not None and info["top"] < info["headingTop"], "the banner is not on top"

    [og] = [tab.locator('meta[property="og:image"]').nth(i).get_attribute("content")
            for i in range(tab.locator('meta[property="og:image"]').count())]
    local = served.local(og)
    assert local == info["src"], "og:image is not the banner shown on the page"
    assert (served.site / og.removeprefix(SITE_URL)).is_file()
    fetched = tab.request.get(local)
    assert fetched.ok and fetched.headers["content-type"].startswith("image/"), (local, fetched.status)
    assert served.problems == []


def test_blog_index_has_no_broken_images_or_markers(tab: Any, served: Served) -> None:
    tab.goto(served.base + "blog/")
    images = tab.evaluate("() => Promise.all([...document.images].map("
                          "img => img.decode().then(() => [img.currentSrc, img.naturalWidth], () => [img.src, 0])))")
    assert all(width > 0 for _, width in images), images
    assert "<!-- mkdocs-imagegen" not in tab.content()
    for post in POSTS:
        assert tab.get_by_role("link", name=post.title, exact=True).count() >= 1
    assert served.problems == []


def test_screenshot_of_a_post(tab: Any, served: Served, tmp_path: Path) -> None:
    post = POSTS[0]
    tab.goto(served.base + post.url_dir + "/")
    tab.locator("article p.imagegen-banner img").evaluate("img => img.decode()")
    path = tmp_path / "post.png"
    tab.screenshot(path=str(path))
    with Image.open(path) as shot:
        assert shot.format == "PNG" and shot.size == (VIEWPORT["width"], VIEWPORT["height"])
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 16, "the screenshot is blank"
    if os.environ.get("IMAGEGEN_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(path, SCREENSHOT)
