"""The images the emulator answers with: cheap but real, and deliberately broken ones for faults.

Rendering is cached per (size, colour, label, format): `Job` calls ``images.render_image`` through
this module, so swapping the attribute here (a bigger cache, say) reaches every protocol.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont

NOT_IMAGE = b"<html><body>not an image</body></html>"


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError, TypeError):  # Pillow without FreeType
        return ImageFont.load_default()


@functools.lru_cache(maxsize=32)
def render_image(
    width: int, height: int, colour: tuple[int, int, int], label: str, fmt: str, transparent: bool = False,
    shapes: tuple[int, int, int] | None = None,
) -> bytes:
    """Draw a cheap but real image: a flat colour, two shapes (in `shapes`' colours, else `colour`'s) and a label."""
    shape = shapes or colour
    accent = tuple(255 - c for c in shape)
    middle = (shape[1], shape[2], shape[0])
    if transparent:
        image = Image.new("RGBA", (width, height), (*colour, 0))
        accent, middle = (*accent, 255), (*middle, 255)
    else:
        image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 8, height // 6, width // 2, height * 5 // 6), fill=accent)
    draw.rectangle((width // 2, height // 3, width * 7 // 8, height * 2 // 3), fill=middle)
    draw.text((width // 20, height // 20), label, fill=accent, font=_font(max(10, min(width, height) // 14)))
    return encode(image, fmt)


def encode(image: Image.Image, fmt: str) -> bytes:
    """The image as png, jpeg or webp bytes, fast settings (these images are never looked at closely)."""
    out = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(out, "JPEG", quality=85)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=80, method=0)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1x1 PNG whose IHDR claims width x height pixels (a decompression bomb)."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1), (255, 0, 0)).save(out, "PNG")
    data = bytearray(out.getvalue())
    # Signature (8 bytes), then the IHDR chunk: length (4), b"IHDR" (4), data (13), CRC (4).
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)
