"""Image processing: check provider bytes, fit them to the exact published size, encode.

Also draws the local placeholder banner.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow is imported when an image is needed: a warm build never is
    from PIL import Image, ImageFont

from mkdocs_imagegen.errors import InvalidImageError
from mkdocs_imagegen.request import Size

MAX_SOURCE_PIXELS = 40_000_000  # 4K Gemini is ~17 Mpx; anything far beyond is a bomb, not a banner
MIN_SOURCE_EDGE = 16
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
PUBLISH_FORMATS = ("webp", "png", "jpeg")
FORMAT_SUFFIX = {"webp": "webp", "png": "png", "jpeg": "jpg"}
RENDITION_VERSION = 1  # bump when fit/encode settings change, so renditions are re-derived
WEBP_QUALITY = 85
JPEG_QUALITY = 88


@dataclass(frozen=True)
class SourceImage:
    image: Image.Image
    format: str  # png | jpeg | webp
    size: Size
    data: bytes = field(default=b"", repr=False)  # the bytes it was decoded from
    mode: str = "RGB"  # the colour mode they hold, before `as_rgb`

    def publishable(self, size: Size, fmt: str) -> bool:
        """Whether `data` is already the published file at `size` in `fmt`: the same format and size,
        and plain 8-bit RGB (so it shows exactly what decoding, fitting and encoding would show, with
        no transparency to flatten). Then it is published as it is, with no re-encode."""
        return bool(self.data) and self.format == fmt and self.size == size and self.mode == "RGB"


def load_source(data: bytes, *, provider: str | None = None, model: str | None = None,
                fit_to: Size | None = None) -> SourceImage:
    """Decode provider bytes, refusing anything that is not a real, sanely sized image.

    With `fit_to` (the size it is fitted to next), a JPEG at least twice that size is decoded at a half,
    a quarter or an eighth of its size (libjpeg's DCT scaling, `draft`), never smaller than what `fit`
    needs: the whole file is still decoded, and `size` is still the file's own.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:  # only these decoders ever see the bytes: no other Pillow plugin parses untrusted input
                image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
            except UnidentifiedImageError:
                raise InvalidImageError("returned bytes that are not PNG/JPEG/WebP", provider=provider,
                                        model=model) from None
            kind = ACCEPTED_FORMATS.get(image.format or "")
            if kind is None:
                raise InvalidImageError(f"returned a {image.format or 'unknown'} file, not PNG/JPEG/WebP",
                                        provider=provider, model=model)
            width, height = image.size
            if width * height > MAX_SOURCE_PIXELS:
                raise InvalidImageError(
                    f"returned an image of {width}x{height} pixels, over the {MAX_SOURCE_PIXELS:,} pixel cap",
                    provider=provider, model=model)
            if min(width, height) < MIN_SOURCE_EDGE:
                raise InvalidImageError(f"returned a {width}x{height} image, too small for a banner",
                                        provider=provider, model=model)
            if fit_to is not None and kind == "jpeg":
                image.draft(image.mode, _draft_size(Size(width, height), fit_to))
            image.load()
            mode = _file_mode(image)
            image = as_rgb(image, provider=provider, model=model)
    except InvalidImageError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(f"returned bytes that are not a readable image ({type(exc).__name__})",
                                provider=provider, model=model) from None
    return SourceImage(image=image, format=kind, size=Size(width, height), data=data, mode=mode)


def _file_mode(image: Image.Image) -> str:
    """The decoded mode, marked when the file holds more than one still RGB picture shows: a transparent
    colour (PNG's tRNS) or more frames (animated WebP or PNG). Such a file is never published as it is."""
    mode = image.mode
    if "transparency" in image.info:
        mode += "+transparency"
    if getattr(image, "is_animated", False):
        mode += "+animated"
    return mode


# Colour modes Pillow opens from PNG, JPEG and WebP, by how each becomes 8-bit RGB without losing the picture.
_DIRECT_MODES = frozenset({"RGB", "RGBX", "L", "1", "P", "CMYK", "YCbCr"})  # Pillow's own convert is exact
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})  # flattened onto white, as a viewer shows them
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})  # more than 8 bits: scaled, not clipped
BACKGROUND = (255, 255, 255)


def as_rgb(image: Image.Image, *, provider: str | None = None, model: str | None = None) -> Image.Image:
    """`image` as 8-bit RGB, every colour mode scaled or flattened so it shows what the provider drew.

    Pillow's plain convert("RGB") clips 16-bit and 32-bit greys at 255 (a gradient becomes white)
    and drops transparency onto whatever colour hides under it; it also keeps a PNG's transparent
    colour (tRNS) as `info["transparency"]`, which a PNG encode writes back. Transparent pixels, from
    an alpha channel or a transparent colour, are flattened onto white, and the result holds no
    transparency. Raises InvalidImageError, naming the mode, for one it cannot convert: published
    as it comes, it would be wrong.
    """
    mode = image.mode
    key = image.info.get("transparency")
    if mode == "RGB" and key is None:
        return image
    if key is not None and mode in _WIDE_MODES:  # a 16-bit grey PNG's transparent grey
        return _flattened(_opaque(_grey_to_8_bit(image).convert("RGB")), _not_key(image, key))
    if key is not None and mode in _KEYED_MODES:  # Pillow turns the transparent colour into alpha
        mode, image = "RGBA", image.convert("RGBA")
    if mode in _DIRECT_MODES:
        return _opaque(image.convert("RGB"))
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        return _flattened(_opaque(rgba.convert("RGB")), rgba.getchannel("A"))
    if mode in _WIDE_MODES:
        return _opaque(_grey_to_8_bit(image).convert("RGB"))
    raise InvalidImageError(f"returned an image in colour mode {mode}, which cannot be converted to RGB",
                            provider=provider, model=model)


_KEYED_MODES = frozenset({"P", "RGB", "L", "1"})  # modes a PNG transparent colour (tRNS) comes with, 8-bit


def _opaque(image: Image.Image) -> Image.Image:
    """`image` (a new RGB image) without a transparent colour carried over from its source."""
    image.info.pop("transparency", None)
    return image


def _flattened(rgb: Image.Image, alpha: Image.Image) -> Image.Image:
    """`rgb` over white, through `alpha` (mode L): what a viewer shows on a white page."""
    from PIL import Image

    flat = Image.new("RGB", rgb.size, BACKGROUND)
    flat.paste(rgb, mask=alpha)
    return flat


def _not_key(image: Image.Image, key: object) -> Image.Image:
    """A mask (mode L) of the pixels of a wide grey image that are not its transparent grey `key`."""
    from PIL import Image, ImageMath

    if not isinstance(key, int):  # not a grey: no pixel can be it
        return Image.new("L", image.size, 255)
    return ImageMath.lambda_eval(lambda args: (args["im"] != key) * 255, im=image.convert("I")).convert("L")


def _grey_to_8_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float grey image as mode L, its full range mapped onto 0..255."""
    if image.mode.startswith("I;16"):
        image, top = image.convert("I"), 65535.0  # the format's range: a dark image stays dark
    else:
        low, high = image.getextrema()
        # The smallest usual range the values fit: floats are 0..1 or 0..255 by convention, integers
        # 0..255 or 16-bit; anything else (negative, or wider) is stretched from its darkest to its lightest.
        limits = (1.0, 255.0, 65535.0) if image.mode == "F" else (255.0, 65535.0)
        top = next((limit for limit in limits if low >= 0 and high <= limit), None)
        if top is None:
            stretch = 255.0 / (high - low) if high > low else 0.0
            return image.point(lambda value: (value - low) * stretch).convert("L")
    scale = 255.0 / top
    scaled = image.point(lambda value: value * scale)
    return scaled.convert("L")


def _draft_size(source: Size, target: Size) -> tuple[int, int]:
    """The smallest decode of `source` that, centre-cropped to the target's aspect, still covers `target`."""
    scale = max(target.width / source.width, target.height / source.height)
    return math.ceil(source.width * scale), math.ceil(source.height * scale)


def fit(image: Image.Image, size: Size) -> Image.Image:
    """Centre-crop to the target aspect, then resize to exactly `size`.

    Bicubic, not Lanczos: benchmarks/resize_quality.py measures it at 52 dB PSNR and 0.997 SSIM against
    Lanczos on photographic images at Gemini's 2K tier, for 16% less CPU decode included (48 dB and 0.995
    at 4K with the JPEG draft, a third of the CPU); the figures are in README's performance section.
    """
    from PIL import Image, ImageOps

    rgb = as_rgb(image)
    if rgb.size == (size.width, size.height):
        return rgb
    return ImageOps.fit(rgb, (size.width, size.height), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=2)
    elif fmt == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif fmt == "png":
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(PUBLISH_FORMATS)}")
    return buffer.getvalue()


def render(data: bytes, size: Size, fmt: str) -> bytes:
    """Provider bytes -> published bytes at exactly `size` in `fmt`."""
    return encode(fit(load_source(data).image, size), fmt)


def placeholder_image(prompt: str, size: Size, label: str) -> Image.Image:
    """A calm colour field derived from the prompt's hash, with the label on it."""
    from PIL import Image

    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    hue = digest[0] / 255
    top = _hsv(hue, 0.45, 0.55)
    bottom = _hsv((hue + 0.08) % 1.0, 0.55, 0.30)
    gradient = Image.linear_gradient("L").resize((size.width, size.height))
    image = Image.composite(Image.new("RGB", gradient.size, bottom), Image.new("RGB", gradient.size, top), gradient)
    _draw_label(image, label)
    return image


def _hsv(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(r * 255), int(g * 255), int(b * 255)


def _draw_label(image: Image.Image, label: str) -> None:
    from PIL import ImageDraw, ImageFont

    width, height = image.size
    font_size = max(12, min(height // 9, width // 18))
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow built without FreeType
        font = ImageFont.load_default()
    chars_per_line = max(8, int(width * 0.8 / (font_size * 0.55)))
    text = "\n".join(textwrap.wrap(label, chars_per_line)[:3]) or " "
    draw = ImageDraw.Draw(image)
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    x = (width - (box[2] - box[0])) / 2 - box[0]
    y = (height - (box[3] - box[1])) / 2 - box[1]
    draw.multiline_text((x + 2, y + 2), text, font=font, fill=(0, 0, 0), align="center")
    draw.multiline_text((x, y), text, font=font, fill=(255, 255, 255), align="center")
