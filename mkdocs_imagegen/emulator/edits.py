"""Reference images arriving at the emulator (OpenAI's and Azure's `images/edits`, Gemini's inline parts, MAI's
edit route): decoded as a provider would, and turned into the colour the answer is drawn in, so a test can
tell from the published banner that its own reference arrived."""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from mkdocs_imagegen.emulator.wire import Call, Rejected

MAX_REFERENCE_PIXELS = 64_000_000


def form_fields(call: Call, integers: Sequence[str]) -> dict[str, object]:
    """A multipart form's text fields, with the numeric ones as numbers (as the JSON body would have them)."""
    fields: dict[str, object] = {name: value for name, value in call.object.items() if name not in call.files}
    for name in integers:
        value = fields.get(name)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            fields[name] = int(value)
    return fields


def uploaded_images(call: Call, *names: str) -> list[bytes]:
    """The file parts under any of `names`, in the order sent."""
    return [upload.data for name in names for upload in call.files.get(name, [])]


def average_colour(images: Sequence[bytes], bad_image: Callable[[int], Rejected],
                   modes: tuple[str, ...] | None = None) -> tuple[int, int, int]:
    """The mean colour of every image; `bad_image(index)` (1-based) is raised for one that cannot be read, or
    whose colour mode is not among `modes` (OpenAI: "Images must be in RGB or RGBA format")."""
    from PIL import Image

    totals = [0, 0, 0]
    for index, data in enumerate(images, start=1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
                if image.width * image.height > MAX_REFERENCE_PIXELS or (modes and image.mode not in modes):
                    raise bad_image(index)
                pixel = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        except Rejected:
            raise
        except Exception:  # whatever Pillow raises for bytes that are not an image
            raise bad_image(index) from None
        for channel in range(3):
            totals[channel] += pixel[channel]
    count = max(1, len(images))
    return (round(totals[0] / count), round(totals[1] / count), round(totals[2] / count))


GEMINI_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
# Google's answer for an image it cannot read (reported verbatim in google-gemini/gemini-cli#5064).
GEMINI_BAD_IMAGE = ("Unable to process input image. Please retry or report in "
                    "https://developers.generativeai.google/guide/troubleshooting")


def gemini_inline_images(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(mime type, base64 data) of every inline part of a generateContent body, camelCase or snake_case."""
    contents = body.get("contents")
    found: list[tuple[str, str]] = []
    for content in contents if isinstance(contents, list) else [contents]:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            blob = (part.get("inlineData") or part.get("inline_data")) if isinstance(part, dict) else None
            if isinstance(blob, dict):
                mime = blob.get("mimeType") or blob.get("mime_type")
                found.append((str(mime), str(blob.get("data") or "")))
    return found


def gemini_tint(body: dict[str, Any], max_images: int,
                invalid: Callable[[str], Rejected]) -> tuple[tuple[int, int, int] | None, int]:
    """(average colour, count) of a Gemini request's inline images; `invalid(message)` for Google's 400s.
    Too many images: Google documents the limit (14 on Gemini 3 image models) but not its error text."""
    inline = gemini_inline_images(body)
    if not inline:
        return None, 0
    if len(inline) > max_images:
        raise invalid(f"Too many input images: {len(inline)}. This model accepts at most {max_images} images.")
    images = []
    for mime, data in inline:
        if mime not in GEMINI_IMAGE_TYPES:
            raise invalid(f"Unsupported MIME type: {mime}")
        try:
            # The JSON form of protobuf bytes: standard or URL-safe base64 (the google-genai SDK sends URL-safe).
            images.append(base64.b64decode(data.replace("-", "+").replace("_", "/"), validate=True))
        except (binascii.Error, ValueError):
            raise invalid("Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64"
                          " decoding failed") from None
    return average_colour(images, lambda index: invalid(GEMINI_BAD_IMAGE)), len(images)
