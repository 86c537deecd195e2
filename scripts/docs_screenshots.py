"""Screenshots of the docs site for its gallery page: the home page and the options reference, on a desktop
and on a phone, taken in Chromium (Debian's, or `CHROMIUM=/path`) through Playwright.

    pip install -e '.[docs,test]' && python scripts/docs_screenshots.py

Builds the site into a temporary folder, serves it on a loopback port and writes docs/assets/docs-*.png.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {  # file name -> (path in the site, viewport width, height)
    "docs-home-desktop.png": ("", 1280, 800),
    "docs-home-phone.png": ("", 390, 844),
    "docs-options-desktop.png": ("reference/options/", 1280, 800),
    "docs-options-phone.png": ("reference/options/", 390, 844),
}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as site:
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(ROOT / "mkdocs-docs.yml"), "-d", site],
                       check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                                     args=["--no-sandbox", "--disable-gpu"])
                for name, (path, width, height) in SHOTS.items():
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(base + path, wait_until="load", timeout=30_000)
                    page.screenshot(path=str(ROOT / "docs" / "assets" / name))
                    page.close()
                    print(f"docs/assets/{name}  {width}x{height}")
                browser.close()
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
