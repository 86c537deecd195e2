"""`mkdocs-imagegen compare` against the emulator: candidates, one `n` request per page for OpenAI-protocol
models, the plan's cost, failures in the sheet, Ctrl-C, and the sheet in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from test_cli import run

from mkdocs_imagegen.cli import common as cli_module
from mkdocs_imagegen.emulator import Emulator, Fault

from sitekit import PROVIDER_VARIABLES, page, write_site

OPENAI_MODEL = "gpt-image-2"
GEMINI_MODEL = "gemini-3.1-flash-image"
SIZE = "640x360"
README_SHOT = Path(__file__).resolve().parent.parent / "example_site" / "compare-sheet.png"


def four_pages(root: Path, **options: object) -> Path:
    pages = {f"posts/p{i}.md": page(f"compare prompt {i}", title=f"Post {i}") for i in range(4)}
    return write_site(root, pages, {"size": SIZE, **options})


def compare(config: Path, *args: str):  # noqa: ANN201 - a click Result
    return run("compare", "-f", str(config), *args)


def test_four_pages_two_models_two_variants_make_sixteen_candidates(site_root: Path, emulator: Emulator,
                                                                     env: dict[str, str]) -> None:
    config = four_pages(site_root)
    result = compare(config, "-m", OPENAI_MODEL, "-m", GEMINI_MODEL, "-n", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "16 candidate(s) for 4 page(s): 0 cached, 16 to generate" in result.stdout
    folder = Path(result.stdout.splitlines()[-1])
    assert folder == site_root / ".imagegen-compare"
    requests = emulator.image_requests()
    openai_family = [r for r in requests if r.provider in ("openai", "foundry")]
    gemini = [r for r in requests if r.provider == "google"]
    assert len(openai_family) == 4 and all(r.body and r.body["n"] == 2 for r in openai_family)
    assert sorted(r.prompt for r in openai_family) == [f"compare prompt {i}" for i in range(4)]
    assert len(gemini) == 8 and sorted({r.prompt for r in gemini}) == [f"compare prompt {i}" for i in range(4)]
    record = json.loads((folder / "candidates.json").read_text())["candidates"]
    assert len(record) == 16 and all(c["image"] and c["error"] is None for c in record)
    assert len({c["cache_key"] for c in record}) == 16
    # Every candidate is an ordinary cache entry: an original and its provenance under its own key.
    originals = site_root / ".banners" / "originals"
    for candidate in record:
        assert (originals / f"{candidate['cache_key']}.json").is_file()
    ids = {c["id"] for c in record}
    assert ids == {f"{m}/{v}" for m in (OPENAI_MODEL, GEMINI_MODEL) for v in (0, 1)}
    for image in (folder / "images").iterdir():
        with Image.open(image) as opened:
            assert opened.size == (640, 360)
    with Image.open(folder / "sheet.png") as sheet:
        assert sheet.width > 4 * 300 and sheet.height > 4 * 200
    html = (folder / "index.html").read_text()
    assert html.count("<figure") == 16
    assert "mkdocs-imagegen pick" in html and f"{OPENAI_MODEL}/1" in html

    emulator.reset()
    again = compare(config, "-m", OPENAI_MODEL, "-m", GEMINI_MODEL, "-n", "2", "--yes")
    assert again.exit_code == 0, again.stderr
    assert "16 cached, 0 to generate" in again.stdout
    assert emulator.image_requests() == []


def test_n_one_is_the_pages_current_variant_and_n_three_adds_the_next_two(site_root: Path, emulator: Emulator,
                                                                           env: dict[str, str]) -> None:
    config = write_site(site_root, {"a.md": page("variant prompt", title="A", banner_variant=4)}, {"size": SIZE})
    result = compare(config, "-m", OPENAI_MODEL, "-n", "3", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[2] for line in result.stdout.splitlines() if line.strip().startswith("generate")] == [
        f"{OPENAI_MODEL}/4", f"{OPENAI_MODEL}/5", f"{OPENAI_MODEL}/6"]
    assert emulator.image_requests() == []


def _dollars(text: str) -> str:
    found = re.findall(r"estimated cost \$([0-9.]+)|about \$([0-9.]+)", text)
    assert found, text
    return next(a or b for a, b in found)


def test_dry_run_and_the_prompt_show_the_cost_plan_gives(site_root: Path, emulator: Emulator, env: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {f"p{i}.md": page(f"costed prompt {i}", title=f"P{i}", banner_model=OPENAI_MODEL, banner_quality="high")
             for i in range(3)}
    config = write_site(site_root, pages, {"size": "1792x1024"})
    planned = run("plan", "-f", str(config), "--json")
    assert planned.exit_code == 0, planned.stderr
    cost = json.loads(planned.stdout)["summary"]["estimated_cost_usd"]
    assert cost > 0
    dry = compare(config, "-m", OPENAI_MODEL, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert _dollars(dry.stdout) == f"{cost:.2f}"
    # The same requests as a build would send: the page's own model, variant, size and quality.
    plan_keys = {row["cache_key"] for row in json.loads(planned.stdout)["pages"]}
    monkeypatch.setattr(cli_module, "_stdin_is_terminal", lambda: True)
    asked = run("compare", "-f", str(config), "-m", OPENAI_MODEL, input="n\n")
    assert asked.exit_code != 0
    question = [line for line in (asked.stdout + asked.stderr).splitlines() if "Generate" in line]
    assert question and _dollars(question[0]) == f"{cost:.2f}", asked.stdout
    assert emulator.image_requests() == []
    made = compare(config, "-m", OPENAI_MODEL, "--yes")
    assert made.exit_code == 0, made.stderr
    record = json.loads((site_root / ".imagegen-compare" / "candidates.json").read_text())["candidates"]
    assert {c["cache_key"] for c in record} == plan_keys


def test_not_a_terminal_without_yes_generates_nothing(site_root: Path, emulator: Emulator,
                                                       env: dict[str, str]) -> None:
    config = four_pages(site_root)
    result = compare(config, "-m", OPENAI_MODEL)
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert emulator.image_requests() == []


def test_a_failed_candidate_is_in_the_sheet_with_its_reason_and_the_others_are_made(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = four_pages(site_root, retries=0)
    emulator.add_fault(Fault(provider="google", kind="server_error", match="compare prompt 2", times=-1))
    result = compare(config, "-m", OPENAI_MODEL, "-m", GEMINI_MODEL, "--yes")
    assert result.exit_code == 0, result.stderr
    record = json.loads((site_root / ".imagegen-compare" / "candidates.json").read_text())["candidates"]
    failed = [c for c in record if c["error"]]
    assert [(c["page"], c["id"]) for c in failed] == [("posts/p2.md", f"{GEMINI_MODEL}/0")]
    assert "server error" in failed[0]["error"]
    assert sum(1 for c in record if c["image"]) == 7
    html = (site_root / ".imagegen-compare" / "index.html").read_text()
    assert "not made:" in html and "server error" in html
    assert f"posts/p2.md {GEMINI_MODEL}/0" in result.stderr


def test_prompt_option_compares_a_prompt_of_no_page(site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = four_pages(site_root)
    result = compare(config, "--prompt", "a lighthouse of notebooks", "-m", OPENAI_MODEL, "-n", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    requests = emulator.image_requests()
    assert [(r.prompt, r.body and r.body["n"]) for r in requests] == [("a lighthouse of notebooks", 2)]
    html = (site_root / ".imagegen-compare" / "index.html").read_text()
    assert "banner_model: gpt-image-2" in html


# --- Ctrl-C ----------------------------------------------------------------------------------------------


def _subprocess_env(emulator: Emulator) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    return {**base, **emulator.env(), "NO_MKDOCS_2_WARNING": "1"}


class _FirstThrough(threading.Event):
    """An emulator gate that answers the first `count` image requests and holds the rest until it is set."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self._left, self._lock = count, threading.Lock()

    def wait(self, timeout: float | None = None) -> bool:
        with self._lock:
            if self._left > 0:
                self._left -= 1
                return True
        return super().wait(timeout)


def test_ctrl_c_keeps_the_finished_candidates_and_no_partial_file(site_root: Path) -> None:
    """Two candidates land, the rest are held by the emulator until compare says it was interrupted: the
    run cannot finish before Ctrl-C however slow the machine, and what was in flight then is kept."""
    pages = {f"p{i}.md": page(f"interrupted prompt {i}", title=f"P{i}") for i in range(8)}
    config = write_site(site_root, pages, {"size": SIZE, "concurrency": 2})
    originals = site_root / ".banners" / "originals"
    command = [sys.executable, "-m", "mkdocs_imagegen", "compare", "-f", str(config), "-m", GEMINI_MODEL, "--yes"]
    with Emulator() as emulator:
        emulator.gate = _FirstThrough(2)
        process = subprocess.Popen(command, env=_subprocess_env(emulator), cwd=site_root, text=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lines: list[str] = []
        said_interrupted = threading.Event()

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line)
                if line.startswith("interrupted: sending nothing more"):
                    said_interrupted.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while len(list(originals.glob("*.json"))) < 2:  # wait for candidates to land, then interrupt
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        assert said_interrupted.wait(60), "".join(lines)
        emulator.gate.set()  # the requests in flight answer now
        process.wait(timeout=60)
        reader.join(timeout=10)
        stderr = "".join(lines)
        assert process.returncode == 130, stderr
        assert "interrupted" in stderr
        kept = {path.stem for path in originals.glob("*.json")}
        assert 2 <= len(kept) < 8, stderr
        cache = site_root / ".banners"
        assert not [p for p in cache.rglob(".tmp-*")], "a partial file was left"
        for key in kept:  # every provenance has its image, every image its provenance
            assert len(list(originals.glob(f"{key}.*"))) == 2
        assert len(list(originals.iterdir())) == 2 * len(kept)

        emulator.reset()
        rerun = subprocess.run(command, env=_subprocess_env(emulator), cwd=site_root, text=True,
                               capture_output=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert f"{len(kept)} cached, {8 - len(kept)} to generate" in rerun.stdout
        assert len(emulator.image_requests()) == 8 - len(kept)


# --- the sheet in a browser -------------------------------------------------------------------------------


def test_sheet_opens_from_disk_in_chromium_with_every_image_at_its_size(
        site_root: Path, emulator: Emulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from test_browser import CHROMIUM_ARGS, require_chromium

    executable = require_chromium()
    from playwright.sync_api import sync_playwright
    four_pages(site_root)
    monkeypatch.chdir(site_root)  # as a user runs it: `mkdocs-imagegen compare` next to mkdocs.yml
    result = run("compare", "-m", OPENAI_MODEL, "-m", GEMINI_MODEL, "-n", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    index = (Path(result.stdout.splitlines()[-1]) / "index.html").resolve()
    fetched: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):  # desktop, phone
                tab = browser.new_page(viewport=viewport)
                tab.on("request", lambda request: fetched.append(request.url))
                tab.goto(index.as_uri(), wait_until="load")
                figures = tab.eval_on_selector_all("figure", """figures => figures.map(f => {
                    const img = f.querySelector('img');
                    return {id: f.dataset.candidate, page: f.dataset.page, label: f.querySelector('b').textContent,
                            complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
                            attrs: [img.width && +img.getAttribute('width'), +img.getAttribute('height')],
                            shown: img.getBoundingClientRect().width,
                            pick: f.querySelector('code').textContent};
                })""")
                assert len(figures) == 16
                for figure in figures:
                    assert figure["complete"] and figure["natural"] == [640, 360] == figure["attrs"], figure
                    assert figure["label"] == figure["id"]
                    assert figure["pick"] == f"mkdocs-imagegen pick docs/{figure['page']} {figure['id']}"
                    assert 0 < figure["shown"] <= viewport["width"]
                overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"the sheet scrolls sideways at {viewport['width']} px"
                if viewport["width"] == 1280 and os.environ.get("IMAGEGEN_UPDATE_SCREENSHOT") == "1":
                    tab.screenshot(path=str(README_SHOT), full_page=False)
                tab.close()
        finally:
            browser.close()
    assert fetched and all(url.startswith("file://") for url in fetched), [u for u in fetched if
                                                                           not u.startswith("file://")]


def test_mkdocs_serve_shows_the_last_sheet_read_only_at_a_path_no_page_can_take(site_root: Path) -> None:
    from test_serve import Server

    config = write_site(site_root, {"index.md": page("a lighthouse", title="Home")}, site_url=None)
    sheet = config.parent / ".imagegen-compare"
    (sheet / "images").mkdir(parents=True)
    (sheet / "index.html").write_text("<h1>the contact sheet</h1>", encoding="utf-8")
    (sheet / "images" / "000-a.webp").write_bytes(b"RIFF0000WEBP")
    (sheet / ".gitignore").write_text("*\n", encoding="utf-8")
    server = Server(config.parent, {})
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            response = server.get("/.imagegen/compare/")
            if response is not None and response.status_code == 200:
                break
            time.sleep(0.1)  # polling for the server to come up, not guessing at a duration
        assert response is not None and response.status_code == 200 and "the contact sheet" in response.text
        image = server.get("/.imagegen/compare/images/000-a.webp")
        assert image is not None and image.content == b"RIFF0000WEBP"
        assert server.get("/.imagegen/compare/.gitignore").status_code == 404
    finally:
        server.stop()


def test_mkdocs_serve_serves_no_file_the_sheet_folder_only_links_to(site_root: Path, tmp_path: Path) -> None:
    from test_serve import Server, wait_until

    config = write_site(site_root, {"index.md": page("a lighthouse", title="Home")}, site_url=None)
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.txt").write_text("outside the project", encoding="utf-8")
    (outside / "folder" / "deep.txt").write_text("a linked folder", encoding="utf-8")
    sheet = config.parent / ".imagegen-compare"
    (sheet / "images").mkdir(parents=True)
    (sheet / "index.html").write_text("<h1>the contact sheet</h1>", encoding="utf-8")
    (sheet / "images" / "000-a.webp").write_bytes(b"RIFF0000WEBP")
    os.symlink(outside / "secret.txt", sheet / "images" / "001-link.webp")
    os.symlink(outside / "folder", sheet / "linked")
    os.link(outside / "secret.txt", sheet / "images" / "002-hard.webp")
    os.mkfifo(sheet / "images" / "003-pipe.webp")
    server = Server(config.parent, {})
    try:
        wait_until(lambda: (r := server.get("/.imagegen/compare/")) is not None and r.status_code == 200, 30,
                   "the sheet to be served")
        assert server.get("/.imagegen/compare/images/000-a.webp").content == b"RIFF0000WEBP"
        for path in ("images/001-link.webp", "linked/deep.txt", "images/002-hard.webp", "images/003-pipe.webp"):
            assert server.get(f"/.imagegen/compare/{path}").status_code == 404, path
    finally:
        server.stop()


def test_compare_never_writes_into_a_folder_of_yours(site_root: Path, emulator: Emulator,
                                                     env: dict[str, str]) -> None:
    config = four_pages(site_root)
    mine = site_root / "docs" / "images"
    mine.mkdir()
    (mine / "logo.png").write_bytes(b"my logo")
    result = compare(config, "-m", OPENAI_MODEL, "-o", str(site_root / "docs"), "--yes")
    assert result.exit_code == 2 and "holds files compare did not write" in result.stderr, result.stderr
    assert (mine / "logo.png").read_bytes() == b"my logo" and not (site_root / "docs" / ".gitignore").exists()
    assert emulator.image_requests() == []  # refused before anything was paid for


def test_compare_writes_no_file_through_a_link_in_its_folder(site_root: Path, emulator: Emulator,
                                                             env: dict[str, str], tmp_path: Path) -> None:
    config = four_pages(site_root)
    folder = site_root / "sheet"
    assert compare(config, "posts/p0.md", "-m", OPENAI_MODEL, "-o", str(folder), "--yes").exit_code == 0
    target = tmp_path / "target.png"
    target.write_bytes(b"not yours to overwrite")
    for name in ("sheet.png", "index.html"):
        (folder / name).unlink()
        os.symlink(target, folder / name)
    result = compare(config, "posts/p0.md", "-m", OPENAI_MODEL, "-o", str(folder), "--yes")
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == b"not yours to overwrite"
    assert not [path for path in folder.rglob("*") if path.is_symlink()]
    assert Image.open(folder / "sheet.png").format == "PNG"


def test_a_candidates_file_of_yours_is_not_taken_for_a_sheet_compare_made(site_root: Path, emulator: Emulator,
                                                                         env: dict[str, str]) -> None:
    config = four_pages(site_root)
    mine = site_root / "site-of-mine"
    (mine / "images").mkdir(parents=True)
    (mine / "images" / "logo.png").write_bytes(b"my logo")
    (mine / "index.html").write_text("<h1>mine</h1>", encoding="utf-8")
    (mine / "candidates.json").write_text('{"candidates": []}', encoding="utf-8")
    result = compare(config, "-m", OPENAI_MODEL, "-o", str(mine), "--yes")
    assert result.exit_code == 2 and "holds files compare did not write" in result.stderr, result.stderr
    assert (mine / "images" / "logo.png").read_bytes() == b"my logo"
    assert (mine / "index.html").read_text(encoding="utf-8") == "<h1>mine</h1>"
    assert emulator.image_requests() == []


def test_a_sheet_folder_with_a_link_in_it_is_refused(site_root: Path, emulator: Emulator, env: dict[str, str],
                                                     tmp_path: Path) -> None:
    config = four_pages(site_root)
    folder = site_root / "sheet"
    assert compare(config, "posts/p0.md", "-m", OPENAI_MODEL, "-o", str(folder), "--yes").exit_code == 0
    target = tmp_path / "target.png"
    target.write_bytes(b"not yours to overwrite")
    image = next((folder / "images").iterdir())
    image.unlink()
    os.symlink(target, image)
    refused = compare(config, "posts/p0.md", "-m", OPENAI_MODEL, "-o", str(folder), "--yes")
    assert refused.exit_code == 2 and "holds files compare did not write" in refused.stderr
    assert target.read_bytes() == b"not yours to overwrite"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.rmtree(folder / "images")
    os.symlink(outside, folder / "images")
    refused = compare(config, "posts/p0.md", "-m", OPENAI_MODEL, "-o", str(folder), "--yes")
    assert refused.exit_code == 2 and "holds files compare did not write" in refused.stderr
    assert list(outside.iterdir()) == []


def test_a_model_named_twice_or_by_alias_is_one_candidate_paid_once(site_root: Path, emulator: Emulator,
                                                                    env: dict[str, str]) -> None:
    config = four_pages(site_root, aliases={"hero": OPENAI_MODEL})
    result = compare(config, "posts/p0.md", "-m", OPENAI_MODEL, "-m", OPENAI_MODEL, "-m", "hero", "-n", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "2 candidate(s) for 1 page(s): 0 cached, 2 to generate" in result.stdout
    [request] = emulator.image_requests()
    assert request.body["n"] == 2
