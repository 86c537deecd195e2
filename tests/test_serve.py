"""Real `mkdocs serve` on a loopback port against the emulator (latency L = 2 s)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.request import GenerationRequest, Size

from sitekit import PROVIDER_VARIABLES, free_port, page, write_site

LATENCY = 2.0
POSTS = {
    "first.md": page("a lighthouse built from notebooks", title="First", body="Body one."),
    "second.md": page("a brain of stacked index cards", title="Second", body="Body two."),
    "third.md": page("a garden of linked notes", title="Third", body="Body three."),
}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll a condition (not a guess at timing): returns the seconds it took, fails after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Server:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.port = free_port()
        full_env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | env
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "-f", str(root / "mkdocs.yml"),
             "-a", f"127.0.0.1:{self.port}"],
            cwd=root, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5)

    def get(self, path: str) -> httpx.Response | None:
        try:
            return self.client.get(path)
        except httpx.HTTPError:
            return None

    def banner(self, page_dir: str) -> str | None:
        response = self.get(f"/{page_dir}/")
        if response is None or response.status_code != 200:
            return None
        found = re.search(r'<p class="imagegen-banner"><img src="([^"]+)"', response.text)
        return found.group(1).rsplit("/", 1)[-1] if found else None

    def has_real_banner(self, page_dir: str) -> bool:
        name = self.banner(page_dir)
        return bool(name) and not name.startswith("placeholder-")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        output, _ = self.process.communicate(timeout=10)
        self.client.close()
        return output or ""


def expected_banner(root: Path, prompt: str) -> str | None:
    """The rendition name the final prompt's banner must have."""
    request = GenerationRequest(prompt=prompt, model=DEFAULT_MODEL, size=Size(1792, 1024))
    store = CacheStore(root / ".banners")
    original = store.original(request.cache_key)
    return store.rendition_path(original, request.size, "webp").name if original else None


@pytest.fixture
def served(site_root: Path, emulator) -> Iterator[tuple[Server, object]]:
    write_site(site_root, POSTS, site_url=None)
    emulator.latency = LATENCY
    server = Server(site_root, emulator.env())
    try:
        yield server, emulator
    finally:
        output = server.stop()
        print(output)


def test_serve_generates_in_background_and_never_pays_twice(served: tuple[Server, object], site_root: Path) -> None:
    server, emu = served

    # 1. The first page answers before any generation finishes; real banners arrive by themselves.
    wait_until(lambda: (r := server.get("/first/")) is not None and r.status_code == 200, 30, "first page")
    assert emu.image_requests() == [], "the preview must not wait for the provider"
    assert server.banner("first").startswith("placeholder-")
    took = wait_until(lambda: all(server.has_real_banner(d) for d in ("first", "second", "third")),
                      LATENCY + 3, "real banners")
    print(f"real banners {took:.1f}s after the first answer")
    assert len(emu.image_requests()) == 3

    # 2. Editing a body three times makes no provider request.
    post = site_root / "docs" / "second.md"
    for edit in range(3):
        text = f"Body edited {edit}."
        post.write_text(page("a brain of stacked index cards", title="Second", body=text))
        wait_until(lambda t=text: (r := server.get("/second/")) is not None and t in r.text, 10, "body edit")
    assert len(emu.image_requests()) == 3
    assert server.has_real_banner("second")

    # 3. A prompt saved twice within 0.5 s costs at most two requests; the final prompt wins.
    post = site_root / "docs" / "third.md"
    post.write_text(page("a garden of linked notes at dusk", title="Third", body="Body three."))
    time.sleep(0.3)  # the writer saves again 0.3 s later (this sleep is the scenario, not a timing guess)
    final = "a garden of linked notes at night"
    post.write_text(page(final, title="Third", body="Body three."))
    wait_until(lambda: (name := expected_banner(site_root, final)) and server.banner("third") == name,
               LATENCY + 10, "the final prompt's banner")
    prompts = Counter(r.prompt for r in emu.image_requests())
    assert sum(prompts.values()) <= 5
    # 4. No prompt is ever requested twice.
    assert max(prompts.values()) == 1, prompts
    print("requests per prompt:", dict(prompts))


def test_sigterm_stops_promptly_with_a_request_in_flight(served: tuple[Server, object], site_root: Path) -> None:
    server, emu = served
    emu.latency = 30.0  # a request that will not finish on its own in time
    wait_until(lambda: (r := server.get("/first/")) is not None and r.status_code == 200, 30, "first page")
    wait_until(lambda: emu.in_flight >= 1, 10, "a request in flight")
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=5)
    print(f"stopped {time.monotonic() - started:.2f}s after SIGTERM")
    leftovers = [p for p in (site_root / ".banners").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
    originals = site_root / ".banners" / "originals"
    assert not originals.exists() or not any(originals.glob("*.webp"))


def test_a_banner_that_lands_before_the_preview_watches_still_replaces_its_placeholder(site_root: Path,
                                                                                      emulator) -> None:
    """The provider answers once every page is read, while MkDocs still renders 300 more: the banner is stored
    before `mkdocs serve` starts watching the cache, and must still replace its placeholder."""
    pages = {"a.md": page("A quick banner", title="A")}
    pages.update({f"filler/p{i:03}.md": f"# Page {i}\n\n" + "Some text. " * 200 for i in range(300)})
    write_site(site_root, pages, site_url=None)
    emulator.gate = threading.Event()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | emulator.env()
    process = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-f", str(site_root / "mkdocs.yml"),
                                "-a", f"127.0.0.1:{port}"], cwd=site_root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "imagegen: 1 banner(s):" in line:  # every page read; rendering goes on: answer now
                emulator.gate.set()

    threading.Thread(target=read, daemon=True).start()

    def banner() -> str:
        try:
            html = httpx.get(f"http://127.0.0.1:{port}/a/", timeout=5).text
        except httpx.HTTPError:
            return ""
        found = re.search(r'<p class="imagegen-banner"><img src="[^"]*?([^/"]+)"', html)
        return found.group(1) if found else ""

    try:
        wait_until(lambda: banner() and not banner().startswith("placeholder-"), 60, "the real banner")
    finally:
        process.kill()
        process.wait(timeout=10)
        print("".join(lines))
    assert len(emulator.image_requests()) == 1


def test_the_reload_nudge_touches_landed_banners_until_a_rebuild_and_ends_when_the_build_stops(
        tmp_path: Path) -> None:
    from mkdocs_imagegen.plugin.serve_reload import ReloadNudge

    landed = tmp_path / "key.json"
    landed.write_text("{}")
    os.utime(landed, (0, 0))
    nudge = ReloadNudge(lambda: True, lambda: [landed], threading.Event())
    nudge.start()
    wait_until(lambda: landed.stat().st_mtime > 0, 10, "a touch")
    nudge.rebuilt()
    assert nudge.join(5)

    stop = threading.Event()
    never = ReloadNudge(lambda: False, lambda: [landed], stop)  # a job a closed pipeline never finishes
    never.start()
    stop.set()
    assert never.join(5)
