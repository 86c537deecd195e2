"""Narrower copies of each banner, for `srcset`: derived locally from the cached original,
content-addressed beside the renditions (cache.width_name), so a warm build finds them all in the
one listing of renditions/ it reads anyway and encodes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mkdocs_imagegen.cache.entries import width_height
from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.errors import CacheEntryError
from mkdocs_imagegen.request import GenerationRequest, Size


@dataclass(frozen=True)
class Width:
    width: int
    height: int
    path: Path


def candidate_widths(size: Size, widths: Iterable[int]) -> list[int]:
    """The configured widths narrower than the banner itself, narrowest first."""
    return sorted({int(width) for width in widths if 0 < int(width) < size.width})


def content_part(rendition: Path) -> str | None:
    """The original's content part of a rendition's name (`<request>-<content>.<suffix>`), or None for
    a name from before version 0.2, which has none."""
    _, dash, rest = rendition.name.partition("-")
    digest = rest.split(".", 1)[0]
    return digest if dash and len(digest) == 12 else None


def widths_for(cache: CacheStore, request: GenerationRequest, rendition: Path, fmt: str, widths: Iterable[int], *,
               derive: bool = True, log: logging.Logger | None = None) -> list[Width] | None:
    """The narrower copies of `rendition` (the published full-size file of `request`), narrowest first.

    Found in the build's listing of the cache; those missing are derived from the original when
    `derive` is true, else the answer is None (something is missing). An original that cannot be
    read (a link, a git-lfs pointer) gives no narrower copies, said once on `log`.
    """
    size = request.size
    wanted = candidate_widths(size, widths)
    digest = content_part(rendition)
    if not wanted or digest is None:
        return []
    key = cache.key_for(request)
    found: list[Width] = []
    source = None
    original = None
    for width in wanted:
        path = cache.cached_width(key, digest, size, fmt, width)
        if path is None:
            if not derive:
                return None
            try:
                if original is None:
                    original = cache.read_original(key)
                    if original is None or not original.digest.startswith(digest):
                        return []  # the rendition is of another original: nothing to derive from
                    source = cache.load_original(original)
                path = cache.width_rendition(original, size, fmt, width, source=source)
            except CacheEntryError as error:
                if log is not None:
                    log.warning("imagegen: %s: no narrower copies of its banner"
                                " (see docs: troubleshooting#cache-entry-refused)", error.message)
                return []
        found.append(Width(width, width_height(size, width), path))
    return found


_URL_SAFE = "/:@!$&'()*+;=%~.-_"  # what a URL keeps as it is: only spaces, commas and the like are encoded


def srcset(entries: Iterable[tuple[str, int]]) -> str:
    """`url 480w, url 960w, ...` from (url, width) pairs; each URL percent-encoded, since a space or a comma
    in it (an `output_dir` of "my banners") would split the candidate."""
    return ", ".join(f"{quote(url, safe=_URL_SAFE)} {width}w" for url, width in entries)
