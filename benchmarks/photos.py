"""Photographic-looking test images, made with Pillow alone and the same for the same seed.

Flat test images (a colour and two shapes, like the emulator's) decode, resize and encode far faster
than a provider's real answers, and hide resampling errors. These have what photographs have: smooth
gradients, detail at every scale (noise octaves from coarse to per-pixel grain), hard edges and thin
lines, in colour. Used by resize_quality.py (the resize paths compared) and stdlib_server.py's answers.
"""

from __future__ import annotations

import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter


def _octave(rng: random.Random, width: int, height: int, cell: int) -> Image.Image:
    """Random grey values on a grid of `cell`-pixel cells, smoothly upsampled to width x height."""
    small = (max(2, width // cell), max(2, height // cell))
    noise = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    return noise.resize((width, height), Image.Resampling.BICUBIC)


def _band(rng: random.Random, width: int, height: int) -> Image.Image:
    """One colour channel: a gradient plus noise octaves from a sixth of the image to 2 pixels."""
    band = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).resize((width, height))
    for cell, weight in ((max(width, height) // 6, 0.45), (96, 0.3), (24, 0.2), (6, 0.08), (2, 0.04)):
        band = Image.blend(band, _octave(rng, width, height, cell), weight)
    return ImageChops.add(band, band.point(lambda v: max(0, v - 128)), scale=1.0)  # some highlights


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """An RGB image of width x height that looks like a (busy) photograph."""
    rng = random.Random(seed)
    image = Image.merge("RGB", [_band(rng, width, height) for _ in range(3)])
    draw = ImageDraw.Draw(image)
    for _ in range(12):  # objects with hard edges
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.03, 0.2) * min(width, height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.polygon([(x + rng.uniform(-r, r), y + rng.uniform(-r, r)) for _ in range(5)], fill=colour)
    for _ in range(30):  # thin lines: where aliasing shows
        points = [(rng.uniform(0, width), rng.uniform(0, height)) for _ in range(2)]
        draw.line(points, fill=tuple(rng.randrange(256) for _ in range(3)), width=rng.choice((1, 2, 3)))
    image = image.filter(ImageFilter.GaussianBlur(0.7))  # a lens: nothing is sharper than a pixel or so
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    return Image.blend(image, grain, 0.03)
