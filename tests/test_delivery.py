"""A provider that can return the published file is asked for it, and its answer is published as it is.

OpenAI returns png, jpeg or webp at any size gpt-image-2 takes; Azure png or jpeg. Where the answer is
already the published size and format it is checked (decoded) and published byte for byte, with no
resize or re-encode; anywhere else it is fitted and encoded here, once. The format is not in the key:
changing it later re-encodes from the cached original and asks no provider.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.emulator import Emulator, Fault
from mkdocs_imagegen.imaging import load_source
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.request import GenerationRequest, Size

from sitekit import banner_file, build, image_info, page, write_site

SIZE = "1792x1024"


def site(root: Path, fmt: str, order: list[str], prompt: str = "a lighthouse at dawn") -> Path:
    return write_site(root, {"index.md": page(prompt)},
                      {"model": "gpt-image-2", "size": SIZE, "format": fmt, "cache_dir": ".banners",
                       "providers": {"order": order}})


def original_of(config: Path) -> tuple[Path, dict]:
    [provenance] = (config.parent / ".banners" / "originals").glob("*.json")
    record = json.loads(provenance.read_text(encoding="utf-8"))
    return provenance.with_name(record["file"]), record


def test_openai_webp_is_asked_for_and_published_as_returned(site_root: Path, emulator: Emulator) -> None:
    config = site(site_root, "webp", ["openai"])
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    [record] = emulator.image_requests()
    assert record.provider == "openai"
    assert record.body["output_format"] == "webp" and record.body["size"] == SIZE
    assert record.body["output_compression"] == 85
    original, provenance = original_of(config)
    published = banner_file(config, "")
    assert original.suffix == ".webp" and provenance["format"] == "webp"
    # The provider's bytes (the cache keeps them untouched), published byte for byte.
    assert published.read_bytes() == original.read_bytes()
    assert hashlib.sha256(published.read_bytes()).hexdigest() == provenance["sha256"]
    assert image_info(published) == ((1792, 1024), "webp")


def test_openai_jpeg_is_asked_for_too(site_root: Path, emulator: Emulator) -> None:
    config = site(site_root, "jpeg", ["openai"])
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    [record] = emulator.image_requests()
    assert record.body["output_format"] == "jpeg" and record.body["output_compression"] == 88
    original, _ = original_of(config)
    assert banner_file(config, "").read_bytes() == original.read_bytes()


def test_foundry_has_no_webp_so_png_is_encoded_here_once(site_root: Path, emulator: Emulator) -> None:
    config = site(site_root, "webp", ["foundry"])
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    [record] = emulator.image_requests()
    assert record.provider == "foundry"
    assert record.body["output_format"] == "png" and "output_compression" not in record.body
    original, provenance = original_of(config)
    published = banner_file(config, "")
    assert provenance["format"] == "png" and original.suffix == ".png"
    assert image_info(published) == ((1792, 1024), "webp")
    assert published.read_bytes() != original.read_bytes()


def test_foundry_publishing_jpeg_gets_the_jpeg_as_is(site_root: Path, emulator: Emulator) -> None:
    config = site(site_root, "jpeg", ["foundry"])
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    [record] = emulator.image_requests()
    assert record.body["output_format"] == "jpeg"
    original, _ = original_of(config)
    assert banner_file(config, "").read_bytes() == original.read_bytes()


def test_a_later_format_change_asks_no_provider(site_root: Path, emulator: Emulator) -> None:
    assert build(site(site_root, "webp", ["openai"]), "--strict", env=emulator.env()).returncode == 0
    emulator.reset()
    config = site(site_root, "png", ["openai"])  # the same page, now published as PNG
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert emulator.image_requests() == []
    assert image_info(banner_file(config, "")) == ((1792, 1024), "png")
    original, _ = original_of(config)
    assert original.suffix == ".webp"  # still the one paid for


def test_a_size_the_model_does_not_take_is_asked_as_png(site_root: Path, emulator: Emulator) -> None:
    """gpt-image-2 takes edges in multiples of 16: 1800x1000 is sent as the nearest size it takes, so the
    answer is resized here, and a lossless PNG is asked for."""
    config = write_site(site_root, {"index.md": page("a lighthouse at dawn")},
                        {"model": "gpt-image-2", "size": "1800x1000", "format": "webp", "cache_dir": ".banners",
                         "providers": {"order": ["openai"]}})
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    [record] = emulator.image_requests()
    assert record.body["size"] != "1800x1000" and record.body["output_format"] == "png"
    assert image_info(banner_file(config, "")) == ((1800, 1000), "webp")


def test_a_corrupt_webp_answer_is_refused_as_before(site_root: Path, emulator: Emulator) -> None:
    emulator.add_fault(Fault(kind="truncated_b64", times=-1))
    config = site(site_root, "webp", ["openai"])
    result = build(config, env=emulator.env())
    assert result.returncode == 0
    assert not list((config.parent / ".banners" / "originals").glob("*.json"))  # nothing kept
    assert "placeholder" in banner_file(config, "").name
    assert any("invalid" in line.lower() or "not a readable image" in line for line in result.stderr.splitlines())


def _webp(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "WEBP", quality=85)
    return buffer.getvalue()


@pytest.mark.parametrize(("width", "height", "why"), [(1790, 1024, "a wrong size"), (1792, 1024, "transparency"),
                                                     (1792, 1024, "animation")])
def test_a_webp_that_is_not_the_published_file_is_fitted_and_encoded(tmp_path: Path, width: int, height: int,
                                                                     why: str) -> None:
    """A provider's webp of another size, or with an alpha channel, is not published as it is."""
    request = GenerationRequest("a lighthouse", "gpt-image-2", Size(1792, 1024))
    if why == "transparency":
        buffer = io.BytesIO()
        Image.new("RGBA", (width, height), (40, 90, 160, 100)).save(buffer, "WEBP", quality=85)
        data = buffer.getvalue()
    elif why == "animation":
        buffer = io.BytesIO()
        frames = [Image.new("RGB", (width, height), colour) for colour in ((40, 90, 160), (160, 90, 40))]
        frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], quality=85)
        data = buffer.getvalue()
    else:
        data = _webp(width, height)
    cache = CacheStore(tmp_path / "cache")
    source = load_source(data)
    original = cache.store_original(request, ProviderImage(data, "openai", "gpt-image-2"), source)
    published = cache.rendition(original, request.size, "webp", source=source)
    assert published.read_bytes() != data
    assert image_info(published) == ((1792, 1024), "webp")
    with Image.open(published) as image:
        assert image.mode == "RGB" and not getattr(image, "is_animated", False)


def test_a_cached_webp_original_is_published_as_it_is_without_its_source(tmp_path: Path) -> None:
    """A rendition derived later from a committed webp original (its bytes checked against the provenance
    and decoded) is those bytes."""
    request = GenerationRequest("a lighthouse", "gpt-image-2", Size(1792, 1024))
    data = _webp(1792, 1024)
    cache = CacheStore(tmp_path / "cache")
    original = cache.store_original(request, ProviderImage(data, "openai", "gpt-image-2"), load_source(data))
    assert cache.rendition(original, request.size, "webp").read_bytes() == data
    assert cache.rendition(original, request.size, "png").read_bytes() != data
