"""Regressions a one-line change would let through unnoticed: each test fails if that line changes.

Every case is a realistic slip that costs money (a banner paid for again), hides a failure under
`--strict`, or publishes an image the cache should refuse. Each asserts what a user sees.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_shared_store import StoreProxy

from mkdocs_imagegen.catalogue.lookup import Catalogue, packaged_data
from mkdocs_imagegen.emulator import Emulator, Fault

from sitekit import PROVIDER_VARIABLES, banner_file, build, build_process, page, warnings_of, write_site

OPENAI_ONLY = {"providers": {"order": ["openai"]}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mkdocs-imagegen ARGS` in a subprocess, as a user runs it."""
    full = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | (env or {})
    return subprocess.run([sys.executable, "-m", "mkdocs_imagegen", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


# --- former model names and retirement chains ----------------------------------------------------------


def test_a_banner_cached_under_the_second_former_name_is_found_with_no_request(site_root: Path) -> None:
    """gpt-image-2.6-sunburst has two former names (gpt-image-1.5-2025-12-16, then chatgpt-image-latest): a
    banner made under the second, before its shutdown, is still this page's banner."""
    back_then = Catalogue.from_data(packaged_data(), today=dt.date(2026, 11, 30))
    old = {"a.md": page("a lighthouse of stacked notebooks", title="A", banner_model="chatgpt-image-latest")}
    config = write_site(site_root, old, {"models": {"chatgpt-image-latest": {"providers": ["openai"]}}, **OPENAI_ONLY})
    with Emulator(catalogue=back_then) as emu:
        first = build(config, "--strict", env=emu.env())
        assert first.returncode == 0, first.stderr
        assert [r.model for r in emu.image_requests()] == ["chatgpt-image-latest"]
    made = banner_file(config, "a")

    renamed = {"a.md": page("a lighthouse of stacked notebooks", title="A", banner_model="gpt-image-2.6-sunburst")}
    config = write_site(site_root, renamed, OPENAI_ONLY)
    with Emulator() as emu:
        again = build(config, "--strict", env=emu.env())
        assert again.returncode == 0, again.stderr
        assert emu.image_requests() == [], "paid again for a banner cached under a former name"
    assert banner_file(config, "a").name == made.name


def test_a_retired_name_follows_its_whole_chain_of_retired_successors(site_root: Path) -> None:
    """house-v1 -> house-v2 -> house-v3 -> gpt-image-2, each retired in turn: a page that still says house-v1
    is sent as the live end of the chain, and keeps the banner made when house-v3 was live."""
    v1_v2 = {"house-v1": {"family": "gpt-image", "shutdown": "2026-01-01", "successor": "house-v2"},
             "house-v2": {"family": "gpt-image", "shutdown": "2026-02-01", "successor": "house-v3"}}
    pages = {"kept.md": page("a lighthouse of stacked notebooks", title="Kept", banner_model="house-v1")}
    config = write_site(site_root, pages, {"models": {**v1_v2, "house-v3": {"family": "gpt-image"}}, **OPENAI_ONLY})
    with Emulator() as emu:
        emu.add_model("openai", "house-v3")
        first = build(config, "--strict", env=emu.env())
        assert first.returncode == 0, first.stderr
        assert [r.model for r in emu.image_requests()] == ["house-v3"]
    made = banner_file(config, "kept")

    retired_v3 = {"house-v3": {"family": "gpt-image", "shutdown": "2026-03-01", "successor": "gpt-image-2"}}
    pages["new.md"] = page("a garden of links", title="New", banner_model="house-v1")
    config = write_site(site_root, pages, {"models": {**v1_v2, **retired_v3}, **OPENAI_ONLY})
    with Emulator() as emu:
        again = build(config, "--strict", env=emu.env())
        assert again.returncode == 0, again.stderr
        assert [r.model for r in emu.image_requests()] == ["gpt-image-2"], "only the new page is generated"
    assert banner_file(config, "kept").name == made.name


# --- retry hints -----------------------------------------------------------------------------------------


def test_retry_hints_that_add_up_past_the_cap_stop_the_banner(site_root: Path, emulator: Emulator) -> None:
    """A short hint, then one that alone is within the 60 s cap but with the first goes past it: the banner
    gives up at once, with one warning, instead of sleeping another minute."""
    emulator.add_fault(Fault(provider="openai", kind="rate_limit", times=1, retry_after=0.2))
    emulator.add_fault(Fault(provider="openai", kind="rate_limit", times=1, retry_after=60))
    config = write_site(site_root, {"a.md": page("a lighthouse", title="A", banner_model="gpt-image-2")},
                        {"retries": 3, **OPENAI_ONLY})
    try:
        result = build_process(config, "--strict", env=emulator.env(), timeout=40)
    except subprocess.TimeoutExpired:
        pytest.fail("the build still waited on the second hint after 40 s: hints are not added up to the cap")
    assert result.returncode != 0, result.stderr
    warned = warnings_of(result)
    assert len(warned) == 1, result.stderr
    assert "asked to wait 60 s before a retry" in warned[0] and "after 0 s of waits already" in warned[0], warned
    assert [r.status for r in emulator.image_requests()] == [429, 429]


def test_a_retry_never_comes_sooner_than_the_provider_asked(site_root: Path, emulator: Emulator) -> None:
    emulator.add_fault(Fault(provider="openai", kind="rate_limit", times=2, retry_after=1.5))
    config = write_site(site_root, {"a.md": page("a lighthouse", title="A", banner_model="gpt-image-2")},
                        {"retries": 3, **OPENAI_ONLY})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    asked = emulator.image_requests()
    assert [r.status for r in asked] == [429, 429, 200]
    waits = [later.started - earlier.finished for earlier, later in zip(asked, asked[1:], strict=False)]
    assert all(wait >= 1.5 for wait in waits), f"retried after {waits} s; the provider asked for 1.5 s"


# --- pick ------------------------------------------------------------------------------------------------


DOTS_PAGE = (b"---\ntitle: Dots\nbanner_prompt: a lighthouse of stacked notebooks\n...\n\n# Dots\n\nText.\n\n"
             b"---\n\nAfter a rule.\n")


def test_pick_on_front_matter_closed_by_dots_changes_only_the_banner_lines(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    from test_cli import run

    config = write_site(site_root, {}, {"size": "640x360"})
    target = site_root / "docs" / "dots.md"
    target.write_bytes(DOTS_PAGE)
    compared = run("compare", "-f", str(config), str(target), "-m", "gpt-image-2", "-n", "2", "--yes")
    assert compared.exit_code == 0, compared.stderr
    picked = run("pick", "-f", str(config), str(target), "gpt-image-2/1")
    assert picked.exit_code == 0, picked.stderr
    after = target.read_bytes().decode()
    diff = difflib.unified_diff(DOTS_PAGE.decode().splitlines(), after.splitlines(), n=0, lineterm="")
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["+banner_model: gpt-image-2", "+banner_variant: 1"], changed
    assert after.index("banner_variant") < after.index("\n...\n"), "the keys went below the front matter"

    emulator.reset()
    built = build(config, "--strict", env=emulator.env())
    assert built.returncode == 0, built.stderr
    assert emulator.image_requests() == []


# --- prune -------------------------------------------------------------------------------------------------


def test_prune_never_removes_a_banner_written_while_it_runs(site_root: Path, emulator: Emulator) -> None:
    """A second site shares the cache folder; its build writes a fresh banner while prune reads this site
    (MkDocs runs the `hooks:` file, which starts that build, as it loads mkdocs.yml)."""
    config = write_site(site_root, {"a.md": page("a lighthouse", title="A"),
                                    "gone.md": page("a page deleted since", title="Gone")})
    assert build(config, env=emulator.env()).returncode == 0
    (site_root / "docs" / "gone.md").unlink()
    before = set((site_root / ".banners" / "originals").iterdir())

    other = write_site(site_root / "other", {"b.md": page("a garden of links", title="B")},
                       {"cache_dir": str(site_root / ".banners")})
    hook = site_root / "other_build.py"
    command = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(other)]
    hook.write_text(f"import subprocess\nsubprocess.run({command!r}, check=True)\n")
    config.write_text(config.read_text() + f"hooks:\n- {hook}\n")

    pruned = cli("prune", "-f", str(config), cwd=site_root, env=emulator.env())
    assert pruned.returncode == 0, pruned.stderr
    assert len(emulator.image_requests()) == 3, "the other site's build ran during the prune"
    fresh = set((site_root / ".banners" / "originals").iterdir()) - before
    assert len(fresh) == 2 and all(path.exists() for path in fresh), "prune removed the banner written meanwhile"
    assert "removed 3 file(s)" in pruned.stdout, pruned.stdout  # gone.md's image, provenance and rendition

    emulator.reset()
    again = build(other, "--strict", env=emulator.env())
    assert again.returncode == 0, again.stderr
    assert emulator.image_requests() == []


# --- offline ------------------------------------------------------------------------------------------------


def test_offline_with_a_banner_missing_fails_strict_and_sends_nothing(site_root: Path, emulator: Emulator) -> None:
    config = write_site(site_root, {"a.md": page("a lighthouse", title="A")}, {"offline": True})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode != 0, result.stderr
    warned = warnings_of(result)
    assert any("offline: 1 banner(s) missing from the cache" in line for line in warned), result.stderr
    assert emulator.image_requests() == []
    assert banner_file(config, "a").name.startswith("placeholder-")


# --- a committed original swapped for another image ----------------------------------------------------------


def test_a_committed_original_swapped_for_another_image_of_its_size_is_refused_by_its_sha256(
        site_root: Path, emulator: Emulator) -> None:
    config = write_site(site_root, {"a.md": page("a lighthouse", title="A")})
    assert build(config, env=emulator.env()).returncode == 0
    originals = site_root / ".banners" / "originals"
    (original,) = [path for path in originals.iterdir() if path.suffix != ".json"]
    with Image.open(original) as image:
        size, fmt, mode = image.size, image.format, image.mode
    Image.new(mode, size, "red").save(original, fmt)  # a valid image, the same size and format
    swapped = sha256(original)
    for rendition in (site_root / ".banners" / "renditions").iterdir():
        rendition.unlink()

    again = build(config, env=emulator.env())
    assert again.returncode == 0, again.stderr
    warned = warnings_of(again)
    assert len(warned) == 1 and f"originals/{original.name}" in warned[0] and "sha256" in warned[0], again.stderr
    assert len(emulator.image_requests()) == 2, "generated again once"
    assert sha256(original) != swapped
    with Image.open(banner_file(config, "a")) as published:
        assert published.convert("RGB").getpixel((published.width // 2, published.height // 2)) != (255, 0, 0)
    assert json.loads((original.with_suffix(".json")).read_text())["sha256"] == sha256(original)



# --- found by a hostile pass: a store slow in other ways than trickling a read ----------------------------------


class Stalling(StoreProxy):
    """Every request passes through, except those of `method` whose path matches `slow`: their upload is read a
    byte a second ("upload"), or they are never answered ("silent")."""

    def __init__(self, upstream: int, method: str, slow: str, how: str) -> None:
        import threading

        self.method, self.slow, self.how, self.held = method, slow, how, threading.Event()
        super().__init__(upstream)

    def answer(self, handler: Any) -> None:
        if handler.command == self.method and re.search(self.slow, handler.path):
            self.held.set()
            while not self.stop.wait(1.0) and self.how == "upload" and handler.rfile.read(1):
                pass
            return
        super().answer(handler)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - test_shared_store.Server
    from test_shared_store import moto_server

    server = moto_server(tmp_path_factory.mktemp("moto"))
    yield server
    server.kill()


STALLS = {  # name: (method, path, how)
    "upload-trickled": ("PUT", r"/originals/", "upload"),
    "write-unanswered": ("PUT", r"/originals/", "silent"),
    "lease-unanswered": ("PUT", r"/\.leases/", "silent"),
    "listing-unanswered": ("GET", r"list-type=2", "silent"),
    "look-up-unanswered": ("HEAD", r"/originals/", "silent"),
}


@pytest.mark.parametrize("stall", STALLS)
def test_a_store_that_stalls_is_given_up_at_timeout_and_the_build_goes_on_locally(
        s3_server, tmp_path: Path, stall: str) -> None:  # noqa: ANN001
    from test_shared_store import STORE_WARNING, make_store, s3_env

    store = make_store("s3", s3_server)
    config = write_site(tmp_path, {"a.md": page("a paper lantern", title="A")},
                        {"cache_url": store.url, "cache_lease": 3, "retries": 1, "timeout": 2})
    proxy = Stalling(s3_server.port, *STALLS[stall])
    try:
        with Emulator() as emulator:
            started = time.monotonic()
            try:
                result = build_process(config, "--strict", env={**emulator.env(), **s3_env(proxy.port)}, timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the build still waited on the store after 60 s with `timeout: 2`")
            took = time.monotonic() - started
            assert len(emulator.image_requests()) == 1
    finally:
        proxy.close()
    assert proxy.held.is_set(), f"the store was never asked for what stalls ({stall})"
    assert result.returncode == 1, result.stderr  # --strict fails on the one warning, after building locally
    warned = warnings_of(result)
    assert len(warned) == 1 and STORE_WARNING.search(warned[0]) and "`timeout`" in warned[0], result.stderr
    assert not banner_file(config, "a").name.startswith("placeholder-")
    assert took < 30, f"took {took:.0f} s"


# --- found by a hostile pass: sync through a link in a parent of its folder ------------------------------------


def test_sync_writes_and_removes_nothing_through_a_link_in_a_parent_of_its_folder(tmp_path: Path,
                                                                                 emulator: Emulator) -> None:
    """output_dir `generated/banners` where docs/generated is a link out of the project: the banners folder
    itself is no link, but every write and removal in it would land outside."""
    from test_zensical import sync, zensical_site

    config = zensical_site(tmp_path / "project")
    outside = tmp_path / "outside"
    (outside / "banners").mkdir(parents=True)
    theirs = outside / "banners" / "0123456789abcdef-0123456789ab.webp"  # named like a banner sync publishes
    theirs.write_bytes(b"someone else's file")
    os.symlink(outside, config.parent / "docs" / "generated")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("      cache_dir: .banners\n",
                                   "      cache_dir: .banners\n      output_dir: generated/banners\n", 1),
                      encoding="utf-8")
    result = sync(config, env=emulator.env())
    assert result.returncode == 2 and "outside docs_dir" in result.stderr, result.stdout + result.stderr
    assert [p.name for p in outside.rglob("*")] == ["banners", theirs.name] and theirs.read_bytes() == \
        b"someone else's file"
    assert emulator.image_requests() == [], "paid for banners it could not publish"


# --- found by a hostile pass: pick through a link out of docs_dir -------------------------------------------


def test_pick_changes_no_file_outside_docs_dir_through_a_link(site_root: Path, emulator: Emulator,
                                                               env: dict[str, str]) -> None:
    """docs/shared is a link to a folder outside the project: MkDocs reads its pages, but `pick` must not
    write there (it would edit a file of another project, or anyone's)."""
    from test_cli import run

    config = write_site(site_root, {}, {"size": "640x360"})
    outside = site_root.parent / "outside"
    outside.mkdir()
    theirs = outside / "p.md"
    theirs.write_text("---\ntitle: P\nbanner_prompt: a lighthouse\n---\n\n# P\n", encoding="utf-8")
    before = theirs.read_bytes()
    os.symlink(outside, site_root / "docs" / "shared")
    page_path = site_root / "docs" / "shared" / "p.md"
    assert run("compare", "-f", str(config), str(page_path), "-m", "gpt-image-2", "-n", "2", "--yes").exit_code == 0
    picked = run("pick", "-f", str(config), str(page_path), "gpt-image-2/1")
    assert picked.exit_code == 2 and "outside docs_dir" in picked.stderr, picked.stderr
    assert "banner_model: gpt-image-2, banner_variant: 1" in picked.stderr  # what to set by hand
    assert theirs.read_bytes() == before


# --- found by a hostile pass: a batch result file with a runaway line ---------------------------------------------


def test_a_runaway_line_in_a_batch_result_file_fails_no_other_banner(site_root: Path, emulator: Emulator,
                                                                    env: dict[str, str]) -> None:
    """An OpenAI result file whose first line is longer than any image answer: it was read whole into memory
    (about three times its size), then every banner of the job waited for good, the next collect failing the
    same way. It names no banner, so it is dropped as it streams and the job's banners are stored."""
    import httpx
    from test_backfill import backfill, openai_site, originals, records

    from mkdocs_imagegen.providers.openai_batch import MAX_LINE_CHARS

    emulator.batches.delay = None  # the job finishes when this test says so
    config = openai_site(site_root, 2)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    ((batch_id, _),) = emulator.openai_batches.batches.items()
    emulator.batches.finish()
    key = {"authorization": f"Bearer {emulator.keys['openai']}"}
    output = httpx.get(f"{emulator.url}/v1/batches/{batch_id}", headers=key).json()["output_file_id"]
    purpose, content = emulator.openai_batches.files[output]
    emulator.openai_batches.files[output] = (purpose, b"x" * (MAX_LINE_CHARS + 1) + b"\n" + content)

    collected = backfill(config, "--collect")
    assert collected.exit_code == 0, collected.stderr
    assert f"collected batch job {batch_id}: 2 banner(s)" in collected.stdout, collected.stdout + collected.stderr
    assert len(originals(site_root)) == 2 and records(site_root) == []
