"""A hostile committed cache (issue 14): links, a lying provenance, corrupt files, a read-only
folder. Nothing outside `cache_dir` is ever published, nothing is paid for twice, and the user is
told which cache file is wrong."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.build.pipeline import Pipeline
from mkdocs_imagegen.build.session import BannerSession, make_registry
from mkdocs_imagegen.build.settings import Settings
from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.imaging import load_source
from mkdocs_imagegen.pages.frontmatter import BannerSpec
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.providers.credentials import Credentials, KeyStore
from mkdocs_imagegen.request import GenerationRequest, Size

from sitekit import PROVIDER_VARIABLES, banner_file, build, page, warnings_of, write_site

CANARY = "sk-canary-0123456789abcdef0123456789"
PAGES = {"one.md": page("a lighthouse of stacked notebooks", title="One")}
RED = (255, 0, 0)


def cache_files(root: Path, folder: str) -> list[Path]:
    return sorted((root / ".banners" / folder).iterdir())


def only(root: Path, folder: str, suffix: str) -> Path:
    found = [p for p in cache_files(root, folder) if p.suffix == suffix]
    assert len(found) == 1, found
    return found[0]


def original_image(root: Path) -> Path:
    found = [p for p in cache_files(root, "originals") if p.suffix != ".json"]
    assert len(found) == 1, found
    return found[0]


def is_red(path: Path) -> bool:
    with Image.open(path) as image:
        r, g, b = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    return r > 240 and g < 16 and b < 16


def red_png(path: Path) -> Path:
    Image.new("RGB", (1792, 1024), RED).save(path, "PNG")
    return path


def built(site_root: Path, emulator, pages: dict[str, str] = PAGES, **options: object) -> Path:
    config = write_site(site_root, pages, options)
    first = build(config, env=emulator.env())
    assert first.returncode == 0, first.stderr
    return config


def site_bytes(site_root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (site_root / "site").rglob("*") if p.is_file())


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """A folder nobody may create files in, root included (tests run as root in CI)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


# --- 3. links are never followed out of cache_dir ----------------------------------------------------


def test_a_rendition_linked_out_of_the_cache_is_rederived_not_published(site_root: Path, emulator,
                                                                         tmp_path: Path) -> None:
    config = built(site_root, emulator)
    secret = tmp_path / "environ"
    secret.write_bytes(f"OPENAI_API_KEY={CANARY}\0".encode())
    rendition = only(site_root, "renditions", ".webp")
    rendition.unlink()
    rendition.symlink_to(secret)

    again = build(config, "--strict")  # no credentials: the valid original is enough
    assert again.returncode == 0, again.stderr
    assert CANARY.encode() not in site_bytes(site_root)
    assert not rendition.is_symlink() and rendition.is_file()
    with Image.open(banner_file(config, "one")) as image:
        assert image.format == "WEBP"
    assert len(emulator.image_requests()) == 1


@pytest.mark.parametrize("linked", ["image", ".json"])
def test_a_linked_original_or_provenance_counts_as_missing(site_root: Path, emulator, tmp_path: Path,
                                                           linked: str) -> None:
    config = built(site_root, emulator)
    outside = tmp_path / f"outside-{linked}"
    target = original_image(site_root) if linked == "image" else only(site_root, "originals", linked)
    if linked == "image":
        red_png(outside)
        provenance = only(site_root, "originals", ".json")
        record = json.loads(provenance.read_text())
        record["sha256"] = hashlib.sha256(outside.read_bytes()).hexdigest()
        provenance.write_text(json.dumps(record))
    else:
        outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    for rendition in cache_files(site_root, "renditions"):
        rendition.unlink()  # so the original is read

    again = build(config, env=emulator.env())
    assert again.returncode == 0, again.stderr
    assert len(emulator.image_requests()) == 2, "a linked cache file is missing: generated again"
    assert not target.is_symlink() and target.is_file()
    assert not is_red(banner_file(config, "one"))


@pytest.mark.parametrize("folder", ["renditions", "originals"])
def test_a_cache_folder_that_is_a_link_is_never_followed(site_root: Path, emulator, tmp_path: Path,
                                                         folder: str) -> None:
    config = built(site_root, emulator)
    cache = site_root / ".banners"
    outside = tmp_path / "outside"
    (cache / folder).rename(outside)
    for path in outside.iterdir():  # what the link leads to: not a banner
        path.write_bytes(f"OPENAI_API_KEY={CANARY}".encode())
    (cache / folder).symlink_to(outside)

    again = build(config, env=emulator.env())
    assert again.returncode == 0, again.stderr
    assert CANARY.encode() not in site_bytes(site_root)
    assert len(emulator.image_requests()) == 1, "nothing is paid for that could not be stored"
    warned = [line for line in warnings_of(again) if f".banners/{folder}" in line]
    assert len(warned) == 1 and "link" in warned[0], again.stderr
    assert banner_file(config, "one").name.startswith("placeholder-")


def test_prune_never_removes_anything_through_a_linked_folder(site_root: Path, emulator, tmp_path: Path) -> None:
    built(site_root, emulator)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bystander = outside / "0123456789abcdef-0123456789ab.webp"  # named like a rendition no page uses
    bystander.write_bytes(b"somebody else's file")
    os.utime(bystander, (1_000_000_000, 1_000_000_000))
    renditions = site_root / ".banners" / "renditions"
    for path in renditions.iterdir():
        path.rename(outside / path.name)
    renditions.rmdir()
    renditions.symlink_to(outside)

    pruned = cli("prune", cwd=site_root)
    assert pruned.returncode == 0, pruned.stderr
    assert bystander.is_file(), "prune followed a link out of cache_dir"


# --- 4. the provenance's `file` field is not a path ---------------------------------------------------


@pytest.mark.parametrize("named", ["absolute", "relative"])
def test_the_provenance_file_field_never_leads_out_of_the_cache(site_root: Path, emulator, tmp_path: Path,
                                                                named: str) -> None:
    config = built(site_root, emulator)
    other = red_png(tmp_path / "other.png")
    provenance = only(site_root, "originals", ".json")
    record = json.loads(provenance.read_text())
    record["file"] = str(other) if named == "absolute" else os.path.relpath(other, provenance.parent)
    provenance.write_text(json.dumps(record))
    for rendition in cache_files(site_root, "renditions"):
        rendition.unlink()

    again = build(config, "--strict")
    assert again.returncode == 0, again.stderr
    assert not is_red(banner_file(config, "one")), "published a file the provenance named"
    assert len(emulator.image_requests()) == 1, "the genuine original, at the path its key names, is used"


# --- 5. provenance keeps what the README documents, nothing a provider echoed -------------------------


def test_provenance_keeps_no_provider_echo(tmp_path: Path) -> None:
    store = CacheStore(tmp_path / "cache")
    request = GenerationRequest(prompt="a lighthouse", model="gpt-image-2", size=Size(1792, 1024))
    payload = _png_bytes()
    image = ProviderImage(payload, "openai", "gpt-image-2", "image/png", requested={"size": "1536x1024"},
                          details={"revised_prompt": f"a lighthouse, key {CANARY}", "x-request-id": CANARY,
                                   "apim-request-id": CANARY, "usage": {"note": CANARY},
                                   "text": CANARY, "usageMetadata": {"echo": CANARY}})
    store.store_original(request, image, load_source(payload))
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    record = json.loads(store.provenance_path(request.cache_key).read_text())
    assert set(record) <= {"key", "prompt", "model", "provider", "parameters", "created", "width", "height",
                           "format", "bytes", "sha256", "file"}
    assert store.original(request.cache_key) is not None


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


# --- 12. a corrupt original heals, and the warning names the file ------------------------------------


@pytest.mark.parametrize("corruption", ["lfs-pointer", "truncated"])
def test_a_corrupt_original_is_named_and_generated_again_once(site_root: Path, emulator, corruption: str) -> None:
    config = built(site_root, emulator)
    original = original_image(site_root)
    data = original.read_bytes()
    original.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n"
                         if corruption == "lfs-pointer" else data[: len(data) // 2])
    for rendition in cache_files(site_root, "renditions"):
        rendition.unlink()

    again = build(config, env=emulator.env())
    assert again.returncode == 0, again.stderr
    warned = warnings_of(again)
    assert len(warned) == 1, again.stderr
    assert f"originals/{original.name}" in warned[0] and "google" not in warned[0].lower(), warned[0]
    assert len(emulator.image_requests()) == 2
    assert not banner_file(config, "one").name.startswith("placeholder-")

    healed = build(config, "--strict")
    assert healed.returncode == 0, healed.stderr
    assert len(emulator.image_requests()) == 2


# --- 13. a cache that cannot be written is found out before anything is paid -------------------------


def test_a_read_only_originals_folder_pays_nothing_and_says_so_once(site_root: Path, emulator) -> None:
    pages = {**PAGES, "two.md": page("a garden of links", title="Two")}
    config = write_site(site_root, pages)
    for folder in ("originals", "renditions", ".locks"):
        (site_root / ".banners" / folder).mkdir(parents=True)
    with read_only(site_root / ".banners" / "originals"):
        result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert emulator.image_requests() == [], "paid for banners the cache could not keep"
    warned = warnings_of(result)
    assert len(warned) == 1 and ".banners/originals" in warned[0] and "writable" in warned[0], result.stderr
    assert banner_file(config, "one").name.startswith("placeholder-")
    assert banner_file(config, "two").name.startswith("placeholder-")


# --- 14. plan, build and prune read a corrupt provenance the same way ---------------------------------


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | (env or {})
    return subprocess.run([sys.executable, "-m", "mkdocs_imagegen", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


def test_a_corrupt_provenance_is_read_alike_by_plan_build_and_prune(site_root: Path, emulator) -> None:
    config = built(site_root, emulator)
    only(site_root, "originals", ".json").write_text('{"sha256": 12, "width": "wide"')
    rendition = only(site_root, "renditions", ".webp")
    published = banner_file(config, "one").name

    planned = cli("plan", "--json", cwd=site_root, env=emulator.env())
    assert planned.returncode == 0, planned.stderr
    assert [row["status"] for row in json.loads(planned.stdout)["pages"]] == ["cached"]
    assert build(config, "--strict").returncode == 0
    assert banner_file(config, "one").name == published
    pruned = cli("prune", cwd=site_root)
    assert pruned.returncode == 0, pruned.stderr
    assert rendition.is_file(), "prune removed the rendition the build publishes"
    assert len(emulator.image_requests()) == 1


def test_a_corrupt_provenance_without_rendition_is_generated_by_build_and_plan_alike(site_root: Path,
                                                                                     emulator) -> None:
    config = built(site_root, emulator)
    provenance = only(site_root, "originals", ".json")
    provenance.write_text("{not json")
    for rendition in cache_files(site_root, "renditions"):
        rendition.unlink()

    planned = cli("plan", "--json", cwd=site_root, env=emulator.env())
    assert planned.returncode == 0, planned.stderr
    row = json.loads(planned.stdout)["pages"][0]
    assert row["status"] == "generate" and f"originals/{provenance.name}" in (row["reason"] or ""), row
    again = build(config, env=emulator.env())
    assert again.returncode == 0, again.stderr
    assert any(f"originals/{provenance.name}" in line for line in warnings_of(again)), again.stderr
    assert len(emulator.image_requests()) == 2
    assert json.loads(provenance.read_text())["sha256"]


# --- 17. max_new is per build, also across `mkdocs serve` rebuilds ------------------------------------


def test_max_new_counts_per_build_not_per_process(tmp_path: Path, emulator) -> None:
    settings = Settings(model="gpt-image-2", size=Size(1024, 1024), quality="auto", fmt="webp",
                        cache_dir=tmp_path / "cache", max_new=1, retries=0)
    credentials = Credentials(environ=emulator.env(), store=KeyStore(tmp_path / "keys.json"))
    registry = make_registry(settings, credentials)
    pipeline = Pipeline(CacheStore(settings.cache_dir), settings.pipeline_settings())
    prompts = ["a lighthouse", "a garden", "a brain of index cards"]
    made = []
    try:
        for _ in range(3):  # three rebuilds of one `mkdocs serve`
            session = BannerSession(settings, registry=registry, pipeline=pipeline)
            for n, prompt in enumerate(prompts):
                session.add(BannerSpec(prompt=prompt), f"p{n}.md")
            session.finish({})
            made.append(sum(1 for b in session.banners if b.published and not b.published.placeholder))
    finally:
        pipeline.close()
    assert made == [1, 2, 3]
    assert len(emulator.image_requests()) == 3


# --- 19. prune tidies lock files; cache and CLI files get the umask's mode -----------------------------


def test_prune_removes_the_lock_files_of_removed_keys(site_root: Path, emulator) -> None:
    config = built(site_root, emulator)
    locks = site_root / ".banners" / ".locks"
    old = sorted(locks.iterdir())
    assert len(old) == 1
    write_site(site_root, {"one.md": page("a lighthouse at night", title="One")})
    assert build(config, env=emulator.env()).returncode == 0
    pruned = cli("prune", cwd=site_root)
    assert pruned.returncode == 0, pruned.stderr
    remaining = sorted(locks.iterdir())
    assert len(remaining) == 1 and remaining != old


def test_cache_and_cli_files_get_the_umasks_mode(site_root: Path, emulator, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        built(site_root, emulator)
        out = cli("generate", "a lighthouse", "-m", "gpt-image-2", "-o", str(tmp_path / "b.png"),
                  cwd=tmp_path, env=emulator.env())
    finally:
        os.umask(previous)
    assert out.returncode == 0, out.stderr
    written = [*cache_files(site_root, "originals"), *cache_files(site_root, "renditions"), tmp_path / "b.png"]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {oct(0o644)}
