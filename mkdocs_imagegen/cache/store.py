"""The banner cache: paid-for originals with provenance, and renditions derived from them.

Layout under `cache_dir` (meant to be committed):

    originals/<key>.<png|jpeg|webp>   the provider's bytes, untouched
    originals/<key>.json              provenance; written last, so its presence is the cache hit
    renditions/<request>-<content>.<webp|png|jpg>
                                      published files: <request> hashes the cache key, size, format and
                                      rendition version; <content> is the start of the original's sha256

A warm build reads no file: one listing of each folder per build says which keys have their
provenance and a rendition, and a page's request alone names the rendition's <request> part.

Every write goes to a temp file in the same directory and is renamed into place, so a reader
(or a build killed mid-write) never sees half a file. Files get the umask's usual mode.

The cache is committed and merged from pull requests, so it is read as untrusted input: every path
comes from a key (never from a provenance's text), only regular files count (a link, or a cache
folder that is a link, is never followed out of `cache_dir`), and an entry is read through one
checking function, `CacheStore.read_original`, and found through one, `CacheStore.lookup`, that a
build, `plan` and `prune` share. An unusable entry counts as missing, with the file named.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mkdocs_imagegen.cache.entries import (
    Entry,
    Listing,
    Original,
    rendition_name,
    rendition_stem,
    width_height,
    width_name,
)
from mkdocs_imagegen.cache.files import (
    KEY_PATTERN,
    atomic_write,
    create_temp,
    folder_problem,
    is_link,
    is_regular,
    json_object,
    read_regular,
)
from mkdocs_imagegen.cache.upkeep import CacheUpkeep
from mkdocs_imagegen.errors import CacheEntryError, InvalidImageError
from mkdocs_imagegen.imaging import (
    ACCEPTED_FORMATS,
    FORMAT_SUFFIX,
    SourceImage,
    encode,
    fit,
    load_source,
)
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.request import GenerationRequest, Size

ORIGINAL_FORMATS = frozenset(ACCEPTED_FORMATS.values())
MAX_PROVENANCE_BYTES = 1 << 20  # ours are about 1 kB
# The fields `store_original` writes (docs/deploying/cache.md lists them): nothing else is kept.
PROVENANCE_FIELDS = ("key", "prompt", "model", "provider", "parameters", "created", "width", "height", "format",
                     "bytes", "sha256", "file", "references")
PARAMETER_FIELDS = ("v", "prompt", "model", "size", "quality", "variant", "style", "references", "requested")


def _documented_fields(record: dict[str, Any], key: str) -> dict[str, Any]:
    """A provenance from elsewhere (a shared store) cut down to what `store_original` writes itself: its
    extra fields are another writer's and are never committed here."""
    kept = {name: record[name] for name in PROVENANCE_FIELDS if name in record}
    kept["key"] = key
    parameters = kept.pop("parameters", None)
    if isinstance(parameters, dict):
        kept["parameters"] = {name: parameters[name] for name in PARAMETER_FIELDS if name in parameters}
    references = kept.pop("references", None)
    if isinstance(references, list):
        kept["references"] = [{name: reference[name] for name in ("sha256", "path") if name in reference}
                              for reference in references if isinstance(reference, dict)]
    return kept


def _provenance_text(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _checked_provenance(path: Path | str, data: bytes, key: str) -> dict[str, Any]:
    """The provenance's fields, checked; CacheEntryError naming the file and what is wrong."""
    def wrong(what: str) -> CacheEntryError:
        return CacheEntryError(f"cache file {path} {what}")

    record = json_object(data, wrong)
    if record.get("key", key) != key:
        raise wrong("holds the provenance of another key")
    if record.get("format") not in ORIGINAL_FORMATS:
        raise wrong(f"names no image format ({', '.join(sorted(ORIGINAL_FORMATS))})")
    digest = record.get("sha256")
    if not isinstance(digest, str) or not KEY_PATTERN.match(digest):
        raise wrong("has no valid sha256")
    for name in ("width", "height"):
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise wrong(f"has no valid {name}")
    return record


class CacheStore(CacheUpkeep):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.originals = self.root / "originals"
        self.renditions = self.root / "renditions"
        self._listing: Listing | None = None
        self._unwritable: str | None = None  # "" once the folders were found writable in this build
        self._condemned: dict[str, str] = {}  # key -> sha256 of an original found corrupt in this build

    def rescan(self) -> None:
        """Forget the folder listing and what was checked: the next lookup reads the folders again
        (once per build)."""
        self._listing = None
        self._unwritable = None
        self._condemned = {}

    # -- originals -------------------------------------------------------------------------------

    def provenance_path(self, key: str) -> Path:
        if not KEY_PATTERN.match(key):
            raise ValueError("cache keys are 64 hex characters")
        return self.originals / f"{key}.json"

    def original(self, key: str) -> Original | None:
        """The cached original for `key`, or None if it is missing or unusable (see `read_original`)."""
        try:
            return self.read_original(key)
        except CacheEntryError:
            return None

    def read_original(self, key: str) -> Original | None:
        """The cached original for `key`, checked: every cache entry is read through here.

        None when it is not cached (or was found corrupt earlier in this build); CacheEntryError,
        naming the file, when it is there but unusable: a link, not JSON, fields missing, no image
        file beside it. The image's path comes from the key and the format, never from the
        provenance's text. One small file read and one lstat, no directory scan.
        """
        path = self.provenance_path(key)
        problem = folder_problem(self.originals)
        if problem is not None:
            raise CacheEntryError(problem)
        try:
            data = read_regular(path, MAX_PROVENANCE_BYTES)
        except FileNotFoundError:
            return None
        provenance = _checked_provenance(path, data, key)
        if self._condemned.get(key) == provenance["sha256"]:
            return None
        image = self.originals / f"{key}.{provenance['format']}"
        if not is_regular(image):
            what = "is a symbolic link, which is never followed" if is_link(image) else "is missing"
            raise CacheEntryError(f"cache file {image} {what}; its provenance {path.name} is there")
        return Original(key, image, provenance)

    def load_original(self, original: Original, fit_to: Size | None = None) -> SourceImage:
        """The original's image, decoded (for fitting to `fit_to`, see `load_source`); CacheEntryError naming
        the file if its bytes are not the ones its provenance describes, or no image (a git-lfs pointer,
        a truncated or edited file)."""
        data = read_regular(original.path)
        if hashlib.sha256(data).hexdigest() != original.digest:
            raise CacheEntryError(f"cache file {original.path} is corrupt: its sha256 is not the one its "
                                  "provenance records")
        try:
            return load_source(data, fit_to=fit_to)
        except InvalidImageError as error:
            reason = error.message.removeprefix("returned ")
            raise CacheEntryError(f"cache file {original.path} is corrupt: {reason}") from None

    def condemn(self, original: Original) -> None:
        """Count `original` as missing for the rest of this build: it was found corrupt."""
        self._condemned[original.key] = original.digest

    def store_original(self, request: GenerationRequest, image: ProviderImage, source: SourceImage) -> Original:
        key = request.cache_key
        file_name = f"{key}.{source.format}"
        provenance = {
            "key": key,
            "prompt": request.prompt,
            "model": request.model,
            "provider": image.provider,
            "parameters": {**request.canonical(), "requested": image.requested},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "width": source.size.width,
            "height": source.size.height,
            "format": source.format,
            "bytes": len(image.data),
            "sha256": hashlib.sha256(image.data).hexdigest(),
            "file": file_name,
        }
        if request.references:  # which files the banner was made from: their paths may move, their hashes not
            provenance["references"] = [{"sha256": reference.digest, "path": reference.path}
                                        for reference in request.references]
        # Nothing of the provider's answer beyond the image: what it echoes (revised prompts, usage,
        # request ids, text parts) may quote the request and its key, and this file is committed.
        self._ensure_root()
        atomic_write(self.originals / file_name, image.data, durable=True)
        atomic_write(self.provenance_path(key), _provenance_text(provenance), durable=True)
        self._condemned.pop(key, None)
        return Original(key, self.originals / file_name, provenance)

    def adopt_original(self, key: str, provenance: bytes, image: bytes, where: str) -> Original:
        """An entry fetched from a shared store (`where` names it), checked exactly as a cached one is, then
        written here image first, its provenance cut to the documented fields: CacheEntryError naming the
        object if it is not a banner we would keep."""
        record = _documented_fields(_checked_provenance(f"{where}/{key}.json", provenance, key), key)
        name = f"{where}/{key}.{record['format']}"
        if hashlib.sha256(image).hexdigest() != record["sha256"]:
            raise CacheEntryError(f"shared cache object {name} is corrupt: its sha256 is not the one its "
                                  "provenance records")
        try:
            source = load_source(image)
        except InvalidImageError as error:
            raise CacheEntryError(f"shared cache object {name} is corrupt: "
                                  f"{error.message.removeprefix('returned ')}") from None
        if source.format != record["format"] or source.size != Size(record["width"], record["height"]):
            raise CacheEntryError(f"shared cache object {name} is not the image its provenance describes")
        self._ensure_root()
        path = self.originals / f"{key}.{record['format']}"
        atomic_write(path, image, durable=True)
        atomic_write(self.provenance_path(key), _provenance_text(record), durable=True)
        self._condemned.pop(key, None)
        return Original(key, path, record)

    def keys(self) -> list[str]:
        if not self.originals.is_dir():
            return []
        return sorted(p.stem for p in self.originals.glob("*.json") if KEY_PATTERN.match(p.stem))

    # -- renditions ------------------------------------------------------------------------------

    def key_for(self, request: GenerationRequest) -> str:
        """The key that holds this request's banner: its own, else the first former key (a name the
        catalogue has since changed) whose provenance is cached; its own when none is. No file is read."""
        listing = self._read_listing()
        if f"{request.cache_key}.json" in listing.provenance or not request.former_models:
            return request.cache_key
        for key in request.former_keys():
            if f"{key}.json" in listing.provenance:
                return key
        return request.cache_key

    def lookup(self, request: GenerationRequest, fmt: str) -> Entry:
        """What the cache holds for `request` in `fmt`: the one way a build, `plan` and `prune` find a
        banner, so they never disagree. The listing alone answers a warm build; the provenance is read
        (and checked) only when it cannot."""
        key = self.key_for(request)
        problem = self._read_listing().problem
        if problem is not None:
            return Entry(key, problem=problem)
        rendition = self.cached_rendition(key, request.size, fmt)
        if rendition is not None:
            return Entry(key, rendition)
        try:
            original = self.read_original(key)
        except CacheEntryError as error:
            return Entry(key, problem=f"{error.message}: the banner counts as missing")
        if original is None:
            return Entry(key)
        path = self.rendition_path(original, request.size, fmt)
        return Entry(key, path if is_regular(path) else None, original)

    def _read_listing(self) -> Listing:
        if self._listing is None:
            self._listing = Listing.read(self.originals, self.renditions)
        return self._listing

    def rendition_path(self, original: Original, size: Size, fmt: str) -> Path:
        return self.renditions / rendition_name(original.key, original.digest, size, fmt)

    def cached_rendition(self, key: str, size: Size, fmt: str) -> Path | None:
        """The published file for a cached request, found in this build's listing: no file is read.

        None unless the provenance is there and exactly one rendition matches; two match when an
        original was generated again, and then only its provenance can tell which one is current.
        """
        listing = self._read_listing()
        if f"{key}.json" not in listing.provenance:
            return None
        suffix = f".{FORMAT_SUFFIX[fmt]}"
        names = [name for name in listing.renditions.get(rendition_stem(key, size, fmt), ()) if
                 name.endswith(suffix)]
        return self.renditions / names[0] if len(names) == 1 else None

    def rendition(self, original: Original, size: Size, fmt: str, source: SourceImage | None = None) -> Path:
        """The published file for `original` at `size` in `fmt`, derived now if missing."""
        path = self.rendition_path(original, size, fmt)
        if is_regular(path):
            return path
        if source is None:
            source = self.load_original(original, fit_to=size)  # CacheEntryError if it is corrupt
        # The provider's own file when it is the published one already (checked by decoding it), else
        # fitted and encoded here. Either way the write replaces a link, never writes through it.
        data = source.data if source.publishable(size, fmt) else encode(fit(source.image, size), fmt)
        atomic_write(path, data)
        return path

    # -- narrower widths of a rendition (srcset) ----------------------------------------------------

    def width_path(self, key: str, digest: str, size: Size, fmt: str, width: int) -> Path:
        """Where the `width`-pixel-wide copy of a rendition lives, beside it in renditions/."""
        return self.renditions / width_name(key, digest, size, fmt, width)

    def cached_width(self, key: str, digest: str, size: Size, fmt: str, width: int) -> Path | None:
        """That copy, found in this build's listing (no file is read), or None."""
        path = self.width_path(key, digest, size, fmt, width)
        names = self._read_listing().renditions.get(path.name.partition("-")[0], ())
        return path if path.name in names else None

    def width_rendition(self, original: Original, size: Size, fmt: str, width: int,
                        source: SourceImage | None = None) -> Path:
        """The `width`-pixel-wide copy of `original`'s rendition at `size`, derived now if missing:
        fitted to `size` exactly as the rendition is, then scaled down."""
        path = self.width_path(original.key, original.digest, size, fmt, width)
        if is_regular(path):
            return path
        from PIL import Image

        if source is None:
            source = self.load_original(original)  # CacheEntryError if it is corrupt
        fitted = fit(source.image, size)
        scaled = fitted.resize((width, width_height(size, width)), Image.Resampling.LANCZOS)
        atomic_write(path, encode(scaled, fmt))
        return path

    def unwritable(self) -> str | None:
        """Why a new banner could not be kept, or None: found before anything is paid for, by making
        (and removing) a scratch file in each cache folder, once per build."""
        if self._unwritable is None:
            self._unwritable = self._read_listing().problem or self._probe() or ""
        return self._unwritable or None

    def _probe(self) -> str | None:
        folder = self.root
        try:
            self._ensure_root()
            for folder in (self.originals, self.renditions, self.root / ".locks"):
                problem = folder_problem(folder)
                if problem is not None:
                    return problem
                folder.mkdir(exist_ok=True)
                fd, scratch = create_temp(folder)
                os.close(fd)
                scratch.unlink()
        except OSError as error:
            return (f"cache folder {folder} is not writable ({error.strerror or error}): banners missing from "
                    "the cache are not generated (nothing is paid for), placeholders are used")
        return None

