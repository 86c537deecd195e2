"""Cheaper resizes where the provider's image must be resized: a JPEG at least twice the banner is decoded
at a fraction of its size (DCT scaling), and the banner is still exactly its size."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.imaging import load_source
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.request import GenerationRequest, Size

BANNER = Size(1792, 1024)


def _jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_4k_jpeg_is_decoded_at_half_size_for_a_banner_and_keeps_its_own_size() -> None:
    source = load_source(_jpeg(5504, 3072), fit_to=BANNER)
    assert source.image.size == (2752, 1536)  # still covers 1792x1024 once cropped to 7:4
    assert source.size == Size(5504, 3072)  # what the provenance records: the file's own size


def test_a_2k_jpeg_is_decoded_in_full() -> None:
    """1.5x the banner: a half-size decode would be smaller than the banner."""
    assert load_source(_jpeg(2752, 1536), fit_to=BANNER).image.size == (2752, 1536)


def test_without_a_target_the_whole_image_is_decoded() -> None:
    assert load_source(_jpeg(5504, 3072)).image.size == (5504, 3072)


def test_renditions_of_a_big_jpeg_are_exactly_the_banner(tmp_path: Path) -> None:
    request = GenerationRequest("a lighthouse", "gemini-3.1-flash-image", BANNER)
    data = _jpeg(5504, 3072)
    cache = CacheStore(tmp_path / "cache")
    original = cache.store_original(request, ProviderImage(data, "google", request.model), load_source(data))
    assert original.size == Size(5504, 3072)
    for fmt in ("webp", "png", "jpeg"):
        with Image.open(cache.rendition(original, BANNER, fmt)) as image:
            assert image.size == (1792, 1024)


KEY_RGB, INK = (10, 200, 30), (200, 30, 30)


def _keyed_png(mode: str, size: tuple[int, int]) -> bytes:
    """A PNG in `mode` with a tRNS colour key: its left half is the key (transparent), its right half ink."""
    width, height = size
    if mode == "RGB":
        image, key = Image.new("RGB", size, KEY_RGB), KEY_RGB
        image.paste(INK, (width // 2, 0, width, height))
    elif mode == "L":
        image, key = Image.new("L", size, 77), 77
        image.paste(200, (width // 2, 0, width, height))
    else:  # a 16-bit grey PNG
        image, key = Image.new("I;16", size, 3000), 3000
        image.paste(60000, (width // 2, 0, width, height))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=key)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L", "I;16"])
@pytest.mark.parametrize("provider_size", [(1792, 1024), (2752, 1536)])  # published as it is, or resized
def test_a_png_with_a_transparent_colour_key_is_published_flattened_onto_white(tmp_path: Path, mode: str,
                                                                               provider_size: tuple[int, int]) -> None:
    request = GenerationRequest("a lighthouse", "gpt-image-2", BANNER)
    data = _keyed_png(mode, provider_size)
    cache = CacheStore(tmp_path / "cache")
    source = load_source(data)
    original = cache.store_original(request, ProviderImage(data, "openai", request.model), source)
    for fmt in ("png", "webp", "jpeg"):
        for published in (cache.rendition(original, BANNER, fmt, source=source),
                          cache.width_rendition(original, BANNER, fmt, 896)):
            with Image.open(published) as image:
                assert "transparency" not in image.info and image.mode == "RGB", (fmt, image.mode, image.info)
                left, right = image.getpixel((4, 4)), image.getpixel((image.width - 4, 4))
            assert all(channel >= 250 for channel in left), (fmt, left)  # the page's white, not the key colour
            assert left != right
