"""What the cache holds for a key: its paid-for original, the names of its renditions, and what one look
at the folders found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs_imagegen.cache.files import folder_problem, regular_names
from mkdocs_imagegen.imaging import (
    FORMAT_SUFFIX,
    RENDITION_VERSION,
)
from mkdocs_imagegen.request import Size


@dataclass(frozen=True)
class Original:
    key: str
    path: Path
    provenance: dict[str, Any]

    @property
    def digest(self) -> str:
        return str(self.provenance["sha256"])

    @property
    def size(self) -> Size:
        return Size(int(self.provenance["width"]), int(self.provenance["height"]))


def rendition_stem(key: str, size: Size, fmt: str) -> str:
    """The part of a rendition's name that the page's request alone determines."""
    blob = f"{key}:{size}:{fmt}:{RENDITION_VERSION}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def rendition_name(key: str, digest: str, size: Size, fmt: str) -> str:
    """A different request, format, rendition version or original gives a different file name, so a
    published URL never changes its content."""
    return f"{rendition_stem(key, size, fmt)}-{digest[:12]}.{FORMAT_SUFFIX[fmt]}"


def width_height(size: Size, width: int) -> int:
    """The height of a `width`-pixel-wide copy of a `size` banner: its aspect ratio kept."""
    return max(1, round(size.height * width / size.width))


def width_name(key: str, digest: str, size: Size, fmt: str, width: int) -> str:
    """A narrower copy's name: its own request part (so the listing never takes it for the full-size
    rendition), the original's content part, and `-w<width>` (which `prune`'s rendition pattern
    does not match)."""
    stem = hashlib.sha256(f"{key}:{size}:{fmt}:w{width}:{RENDITION_VERSION}".encode()).hexdigest()[:16]
    return f"{stem}-{digest[:12]}-w{width}.{FORMAT_SUFFIX[fmt]}"


@dataclass(frozen=True)
class Listing:
    """Which originals have their provenance, and the renditions by request part: one folder read each.

    Only regular files are listed (the listing itself says which entries are, no file is stat'ed);
    a cache folder that is a link lists nothing and is the `problem`.
    """

    provenance: frozenset[str]
    renditions: dict[str, list[str]]
    problem: str | None = None

    @classmethod
    def read(cls, originals: Path, renditions: Path) -> Listing:
        problem = folder_problem(originals) or folder_problem(renditions)
        if problem is not None:
            return cls(frozenset(), {}, problem)
        by_stem: dict[str, list[str]] = {}
        for name in regular_names(renditions):
            stem, dash, _ = name.partition("-")
            if dash:
                by_stem.setdefault(stem, []).append(name)
        return cls(frozenset(name for name in regular_names(originals) if name.endswith(".json")), by_stem)


@dataclass(frozen=True)
class Entry:
    """What the cache holds for one request, as a build, `plan` and `prune` all see it."""

    key: str  # the key that holds the banner (a former one, if the catalogue renamed its model)
    rendition: Path | None = None  # the published file, when it is there
    original: Original | None = None  # read only when the listing alone could not name the rendition
    problem: str | None = None  # why what is cached cannot be used (so counts as missing): names the file

    @property
    def cached(self) -> bool:
        return self.rendition is not None or self.original is not None


