"""Reference images ("in the style of this"): found, checked and made fit to send, before anything is paid for.

A path is relative to the page that names it, or docs-absolute with a leading `/`; the plugin option
`style_reference` is relative to `docs_dir`. A reference must stay inside `docs_dir` (a `..` or a
symbolic link that leaves it is refused), be a real image, and fit the model's limits: one larger than
the model takes is downscaled here, and the downscaled bytes are what is hashed and sent.

Each file is read and checked once per build, whatever number of pages names it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs_imagegen.catalogue.entries import ReferenceRule
from mkdocs_imagegen.errors import ReferenceProblem
from mkdocs_imagegen.request import Reference

if TYPE_CHECKING:
    from PIL import Image

MAX_FILE_BYTES = 50 * 1024 * 1024  # what the plugin reads at all: the largest upload any provider takes
MAX_PIXELS = 64_000_000  # past this a file is a decompression bomb, not a reference
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
PILLOW_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
JPEG_QUALITY = 90
SHRINK_STEPS = 8  # downscaling rounds before a reference that cannot fit the byte limit is refused
SENDABLE_MODES = ("RGB", "RGBA")  # what every provider reads as it is ("Images must be in RGB or RGBA format")
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class _Found:
    shown: str  # the docs-relative path, for messages and provenance
    real: Path
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # with the inode: a file replaced or rewritten keeping its size and mtime is read again


class ReferenceLoader:
    """Reads references under `docs_dir` (or, with `anywhere`, any path: `generate --reference`), remembering
    each file's checked and fitted bytes for the build."""

    def __init__(self, docs_dir: Path | None, log: logging.Logger | None = None, *, anywhere: bool = False) -> None:
        self.docs_dir = Path(os.path.realpath(docs_dir)) if docs_dir is not None else None
        self.anywhere = anywhere  # no docs_dir: read any path (`generate --reference`); else refuse every one
        self.log = log or logging.getLogger("mkdocs.plugins.imagegen")
        self._fitted: dict[tuple[Path, int, int, int, int, ReferenceRule, int], Reference] = {}
        self._told: set[Path] = set()
        # (path as written, the folder it is relative to) -> the file found: a build resolves each once, not once
        # per page (a house reference is named by every page).
        self._found: dict[tuple[str, str | None], _Found] = {}

    def load(self, written: tuple[str, ...], rule: ReferenceRule, *, page: str | None = None) -> tuple[Reference, ...]:
        """The references `written` (relative to the page `page`, docs-relative when None), fit to `rule`."""
        if not written:
            return ()
        budget = per_image_budget(rule, len(written))
        return tuple(self._load_one(text, rule, budget, page) for text in written)

    def _load_one(self, text: str, rule: ReferenceRule, budget: int, page: str | None) -> Reference:
        folder = None if page is None or text.startswith("/") else Path(page).parent.as_posix()
        found = self._found.get((text, folder))
        if found is None:
            found = self._found[(text, folder)] = self._find(text, page)
        memo = (found.real, found.inode, found.size, found.mtime_ns, found.ctime_ns, rule, budget)
        reference = self._fitted.get(memo)
        if reference is None:
            data = _read(found)
            reference = fit_reference(data, found.shown, rule, budget)
            if reference.data is not data and found.real not in self._told:
                self._told.add(found.real)
                self.log.info("imagegen: reference %s is downscaled to %dx%d (%s bytes) for the model's limits; "
                              "ship it at that size to keep its banners' keys stable", found.shown,
                              reference.width, reference.height, f"{len(reference.data):,}")
            self._fitted[memo] = reference
        return reference

    def _find(self, text: str, page: str | None) -> _Found:
        if not text.strip() or "\x00" in text:
            raise ReferenceProblem(f"{text!r} is not a file path")
        if self.docs_dir is None:
            if not self.anywhere:
                raise ReferenceProblem(f"{text!r}: references are read from docs_dir, and none is set")
            path = Path(text).expanduser()
            real = Path(os.path.realpath(path))
            shown = text
        else:
            relative = text.lstrip("/") if text.startswith("/") or page is None else _beside(page, text)
            path = self.docs_dir / relative
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(self.docs_dir):
                how = "is a link to a file" if _through_link(self.docs_dir, relative) else "is"
                raise ReferenceProblem(f"{text!r} {how} outside docs_dir; references must be inside docs_dir")
            shown = real.relative_to(self.docs_dir).as_posix()
        try:
            info = os.stat(real)
        except FileNotFoundError:
            raise ReferenceProblem(f"{text!r}: no such file ({_where(self.docs_dir, page)})") from None
        except OSError as error:
            raise ReferenceProblem(f"{text!r} cannot be read ({error.strerror or error})") from None
        if not stat.S_ISREG(info.st_mode):
            raise ReferenceProblem(f"{text!r} is not a file")
        if info.st_size > MAX_FILE_BYTES:
            raise ReferenceProblem(f"{text!r} is {info.st_size:,} bytes; a reference may be at most "
                                   f"{MAX_FILE_BYTES:,} bytes (the largest upload providers take)")
        return _Found(shown, real, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def per_image_budget(rule: ReferenceRule, count: int) -> int:
    """Bytes each of `count` references may take: the rule's per-image limit, and a share of a whole-request
    limit (base64 makes inline data a third larger, and the prompt needs room too)."""
    budget = rule.max_bytes or MAX_FILE_BYTES
    if rule.total_bytes is not None and count:
        budget = min(budget, (rule.total_bytes * 3 // 4 - 64 * 1024) // count)
    return max(budget, 1)


def _beside(page: str, text: str) -> str:
    parent = Path(page).parent
    return (parent / text).as_posix() if parent != Path(".") else text


def _through_link(root: Path, relative: str) -> bool:
    """Whether the lexical path stays inside root (so only a symbolic link can have taken it out)."""
    lexical = Path(os.path.normpath(root / relative))
    return lexical.is_relative_to(root)


def _where(docs_dir: Path | None, page: str | None) -> str:
    if docs_dir is None:
        return "paths are relative to the current folder"
    if page is None:
        return "style_reference paths are relative to docs_dir"
    return f"relative to {page}'s folder, or to docs_dir with a leading /"


def _read(found: _Found) -> bytes:
    with open(found.real, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ReferenceProblem(f"{found.shown!r} grew past {MAX_FILE_BYTES:,} bytes while it was read")
    return data


def fit_reference(data: bytes, shown: str, rule: ReferenceRule, budget: int) -> Reference:
    """`data` as a Reference the model takes: as it is when it can be sent so, else re-encoded as upright 8-bit
    RGB (OpenAI refuses palette, CMYK and grey images), downscaled until it fits the model's limits."""
    image, fmt = _open(data, shown)
    width, height = image.size
    as_it_is = (fmt in rule.formats and image.mode in SENDABLE_MODES and _upright(image)
                and not getattr(image, "is_animated", False))
    if as_it_is and max(width, height) <= rule.max_edge and len(data) <= budget:
        return Reference(data, MIME_TYPES[fmt], hashlib.sha256(data).hexdigest(), shown, width, height)
    return _shrunk(_plain_rgb(image, shown), shown, rule, budget)


def _upright(image: Image.Image) -> bool:
    """No EXIF orientation other than "as stored": a viewer shows these pixels the way they are."""
    return image.getexif().get(EXIF_ORIENTATION, 1) == 1


def _plain_rgb(image: Image.Image, shown: str) -> Image.Image:
    """The first frame, turned the way a viewer shows it, as 8-bit RGB (16-bit greys scaled, alpha on white)."""
    from PIL import ImageOps

    from mkdocs_imagegen.errors import InvalidImageError
    from mkdocs_imagegen.imaging import as_rgb

    mode = image.mode
    try:
        return as_rgb(ImageOps.exif_transpose(image))
    except InvalidImageError:
        raise ReferenceProblem(f"{shown!r} is an image in colour mode {mode}, which cannot be sent; "
                               "save it as an RGB PNG or JPEG") from None


def _open(data: bytes, shown: str) -> tuple[Image.Image, str | None]:
    """The decoded image (checked to be whole) and its format if it is one providers take."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS))  # by the bytes, whatever the name
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ReferenceProblem(f"{shown!r} is {width}x{height} pixels; a reference may have at most "
                                       f"{MAX_PIXELS:,}")
            fmt = PILLOW_FORMATS.get(image.format or "")
            image.load()
    except ReferenceProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ReferenceProblem(f"{shown!r} has too many pixels; a reference may have at most {MAX_PIXELS:,}") from None
    except UnidentifiedImageError:
        raise ReferenceProblem(f"{shown!r} is not a PNG, JPEG or WebP image") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ReferenceProblem(f"{shown!r} is not a readable image ({type(exc).__name__})") from None
    return image, fmt


def _shrunk(image: Image.Image, shown: str, rule: ReferenceRule, budget: int) -> Reference:
    from PIL import Image

    fmt = "jpeg" if "jpeg" in rule.formats else "png"
    scale = min(1.0, rule.max_edge / max(image.size))
    for _ in range(SHRINK_STEPS):
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        data = _encode(resized, fmt)
        if len(data) <= budget:
            return Reference(data, MIME_TYPES[fmt], hashlib.sha256(data).hexdigest(), shown, *size)
        scale *= min(0.9, (budget / len(data)) ** 0.5)
    raise ReferenceProblem(f"{shown!r} does not fit the model's limit of {budget:,} bytes per reference, "
                           "even downscaled")


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=False)
    return out.getvalue()
