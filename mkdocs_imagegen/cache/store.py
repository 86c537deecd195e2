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

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mkdocs_imagegen.errors import CacheEntryError, InvalidImageError
from mkdocs_imagegen.imaging import (
    ACCEPTED_FORMATS,
    FORMAT_SUFFIX,
    RENDITION_VERSION,
    SourceImage,
    encode,
    fit,
    load_source,
)
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.request import GenerationRequest, Size

TEMP_PREFIX = ".tmp-"
_KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_ORIGINAL_FORMATS = frozenset(ACCEPTED_FORMATS.values())
MAX_PROVENANCE_BYTES = 1 << 20  # ours are about 1 kB
_GITIGNORE = "# written by mkdocs-imagegen: commit the banners, not its scratch files\n.tmp-*\n.locks/\n.leases/\n"




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
        problem = _folder_problem(originals) or _folder_problem(renditions)
        if problem is not None:
            return cls(frozenset(), {}, problem)
        by_stem: dict[str, list[str]] = {}
        for name in _regular_names(renditions):
            stem, dash, _ = name.partition("-")
            if dash:
                by_stem.setdefault(stem, []).append(name)
        return cls(frozenset(name for name in _regular_names(originals) if name.endswith(".json")), by_stem)


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


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:  # not there yet
        return []


def _regular_names(folder: Path) -> list[str]:
    """The regular files in `folder`: links and anything else are left out, from the listing alone."""
    try:
        with os.scandir(folder) as entries:
            return [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
    except OSError:  # not there yet
        return []


def _folder_problem(folder: Path) -> str | None:
    """Why a cache folder must not be used: it is a link (never followed out of cache_dir) or no folder."""
    try:
        mode = os.lstat(folder).st_mode
    except OSError:  # not there yet: made when needed
        return None
    if stat.S_ISLNK(mode):
        return (f"cache folder {folder} is a symbolic link, and links are never followed out of cache_dir: "
                "the cache is not used, and banners missing from it get placeholders")
    if not stat.S_ISDIR(mode):
        return f"cache folder {folder} is not a folder: the cache is not used, and banners get placeholders"
    return None


def _is_regular(path: Path) -> bool:
    """A regular file, not a link to one: one lstat."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file in the cache, never through a link. FileNotFoundError if it is not
    there; CacheEntryError if it is a link, not a regular file, or over `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        if _is_link(path):
            raise CacheEntryError(f"cache file {path} is a symbolic link, which is never followed") from None
        raise CacheEntryError(f"cache file {path} cannot be read ({error.strerror or error})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CacheEntryError(f"cache file {path} is not a regular file")
        if limit is not None and info.st_size > limit:
            raise CacheEntryError(f"cache file {path} is {info.st_size:,} bytes, too big to be ours")
        return handle.read()


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def json_object(data: bytes, wrong: Callable[[str], CacheEntryError]) -> dict[str, Any]:
    """A cache file's bytes as a JSON object; `wrong(what)` is raised when they are not one."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise wrong("is not JSON") from None
    if not isinstance(record, dict):
        raise wrong("is not a JSON object")
    return record


def _checked_provenance(path: Path | str, data: bytes, key: str) -> dict[str, Any]:
    """The provenance's fields, checked; CacheEntryError naming the file and what is wrong."""
    def wrong(what: str) -> CacheEntryError:
        return CacheEntryError(f"cache file {path} {what}")

    record = json_object(data, wrong)
    if record.get("key", key) != key:
        raise wrong("holds the provenance of another key")
    if record.get("format") not in _ORIGINAL_FORMATS:
        raise wrong(f"names no image format ({', '.join(sorted(_ORIGINAL_FORMATS))})")
    digest = record.get("sha256")
    if not isinstance(digest, str) or not _KEY_PATTERN.match(digest):
        raise wrong("has no valid sha256")
    for name in ("width", "height"):
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise wrong(f"has no valid {name}")
    return record


def _create_temp(folder: Path) -> tuple[int, Path]:
    """A new temp file in `folder`, created with the umask's usual mode (mkstemp's is always 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        path = folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name in {folder}")


def atomic_write(path: Path, data: bytes, *, durable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CacheStore:
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
        if not _KEY_PATTERN.match(key):
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
        problem = _folder_problem(self.originals)
        if problem is not None:
            raise CacheEntryError(problem)
        try:
            data = _read_regular(path, MAX_PROVENANCE_BYTES)
        except FileNotFoundError:
            return None
        provenance = _checked_provenance(path, data, key)
        if self._condemned.get(key) == provenance["sha256"]:
            return None
        image = self.originals / f"{key}.{provenance['format']}"
        if not _is_regular(image):
            what = "is a symbolic link, which is never followed" if _is_link(image) else "is missing"
            raise CacheEntryError(f"cache file {image} {what}; its provenance {path.name} is there")
        return Original(key, image, provenance)

    def load_original(self, original: Original, fit_to: Size | None = None) -> SourceImage:
        """The original's image, decoded (for fitting to `fit_to`, see `load_source`); CacheEntryError naming
        the file if its bytes are not the ones its provenance describes, or no image (a git-lfs pointer,
        a truncated or edited file)."""
        data = _read_regular(original.path)
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
        text = json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        atomic_write(self.provenance_path(key), text.encode("utf-8"), durable=True)
        self._condemned.pop(key, None)
        return Original(key, self.originals / file_name, provenance)

    def adopt_original(self, key: str, provenance: bytes, image: bytes, where: str) -> Original:
        """An entry fetched from a shared store (`where` names it), checked exactly as a cached one is, then
        written here image first: CacheEntryError naming the object if it is not a banner we would keep."""
        record = _checked_provenance(f"{where}/{key}.json", provenance, key)
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
        atomic_write(self.provenance_path(key), provenance, durable=True)
        self._condemned.pop(key, None)
        return Original(key, path, record)

    def keys(self) -> list[str]:
        if not self.originals.is_dir():
            return []
        return sorted(p.stem for p in self.originals.glob("*.json") if _KEY_PATTERN.match(p.stem))

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
        return Entry(key, path if _is_regular(path) else None, original)

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
        if _is_regular(path):
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
        if _is_regular(path):
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
                problem = _folder_problem(folder)
                if problem is not None:
                    return problem
                folder.mkdir(exist_ok=True)
                fd, scratch = _create_temp(folder)
                os.close(fd)
                scratch.unlink()
        except OSError as error:
            return (f"cache folder {folder} is not writable ({error.strerror or error}): banners missing from "
                    "the cache are not generated (nothing is paid for), placeholders are used")
        return None

    # -- cross-process locking -------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str):  # noqa: ANN201 - a context manager
        """Hold an exclusive lock on `key` across processes, so two builds never pay twice."""
        self.provenance_path(key)  # validates the key before it becomes a file name
        with self.locked(key):
            yield

    @contextlib.contextmanager
    def locked(self, name: str):  # noqa: ANN201 - a context manager
        """Hold the exclusive lock `.locks/<name>.lock` across processes."""
        self._ensure_root()  # the .gitignore first: lock files must never be committed
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def lock_keys(self) -> list[str]:
        """The keys that have a lock file."""
        return sorted(name[:-5] for name in _names(self.root / ".locks")
                      if name.endswith(".lock") and _KEY_PATTERN.match(name[:-5]))

    def drop_lock(self, key: str) -> bool:
        """Remove `key`'s lock file, unless a build holds it right now. True if it was removed."""
        self.provenance_path(key)  # validates the key before it becomes a file name
        path = self.root / ".locks" / f"{key}.lock"
        if _folder_problem(path.parent) is not None:
            return False
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
        except OSError:  # held by a build, or gone
            return False
        finally:
            os.close(fd)
        return True

    # -- housekeeping ----------------------------------------------------------------------------

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            with contextlib.suppress(OSError):
                atomic_write(ignore, _GITIGNORE.encode())

    def sweep_temp_files(self, older_than: float = 3600.0) -> int:
        """Remove temp files left by killed builds: dead writer pid, or simply old."""
        removed = 0
        now = time.time()
        for folder in (self.root, self.originals, self.renditions):
            if folder != self.root and _folder_problem(folder) is not None:
                continue  # never clean up outside cache_dir
            for tmp in (folder / name for name in _names(folder) if name.startswith(TEMP_PREFIX)):
                if _writer_is_dead(tmp.name) or now - _mtime(tmp) > older_than:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                        removed += 1
        return removed

    # -- what pages use, and what they do not (prune) ------------------------------------------

    def in_use(self, requests: Iterable[GenerationRequest], fmt: str,
               widths: Iterable[int] = ()) -> tuple[set[str], set[str]]:
        """Cache keys and rendition file names (narrower copies included) these requests use, found exactly
        as a build finds them: the rendition a build publishes is the one kept, and a banner cached under a
        former model name is still in use."""
        keys: set[str] = set()
        renditions: set[str] = set()
        widths = tuple(widths)
        for request in requests:
            entry = self.lookup(request, fmt)
            keys.add(entry.key)
            if entry.rendition is not None:
                name = entry.rendition.name
            elif entry.original is not None:
                name = self.rendition_path(entry.original, request.size, fmt).name
            else:
                continue
            renditions.add(name)
            _, dash, digest = name.split(".", 1)[0].partition("-")  # <request>-<content>: the original's part
            if dash:  # 0.1's <hash>.<suffix> renditions have no narrower copies
                renditions.update(width_name(entry.key, digest, request.size, fmt, width)
                                  for width in widths if 0 < width < request.size.width)
        return keys, renditions

    def unused_files(self, keys: set[str], renditions: set[str], started: float) -> list[Path]:
        """Cache files outside `keys` and `renditions`, provenance first (once it is gone the entry is no
        longer a cache hit, whatever happens next). Files written after `started` (by a build running
        now) are left alone; links are listed (to be removed, never followed); a cache folder that is
        itself a link lists nothing, so nothing outside cache_dir is ever named."""
        doomed = []
        for path in _cache_files(self.originals):
            match = _KEY_FILE.match(path.name)
            if match and match.group(1) not in keys:
                doomed.append(path)
        for path in _cache_files(self.renditions):
            if (_RENDITION_FILE.match(path.name) or _WIDTH_FILE.match(path.name)) and path.name not in renditions:
                doomed.append(path)
        doomed = [path for path in doomed if _written_before(path, started)]
        return sorted(doomed, key=lambda path: (path.parent.name, path.suffix != ".json", path.name))

    def own_temp_files(self) -> list[Path]:
        """Temp files this process is writing (or left behind) in the cache folders."""
        mine = f"{TEMP_PREFIX}{os.getpid()}-"
        return [folder / name for folder in (self.root, self.originals, self.renditions)
                for name in _names(folder) if name.startswith(mine)]


_KEY_FILE = re.compile(r"^([0-9a-f]{64})\.[a-z]+$")  # originals/<key>.json and originals/<key>.<format>
# renditions/<request>-<content>.<suffix> (rendition_name), and <hash>.<suffix> from version 0.1
_RENDITION_FILE = re.compile(r"^(?:[0-9a-f]{16}-[0-9a-f]{12}|[0-9a-f]{20})\.[a-z]+$")
_WIDTH_FILE = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{12}-w\d+\.[a-z]+$")  # renditions/ narrower copies (width_name)


def _cache_files(folder: Path) -> list[Path]:
    """The files in a cache folder, links among them; none in a folder that is itself a link."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_symlink() or path.is_file())


def _written_before(path: Path, started: float) -> bool:
    try:
        return path.lstat().st_mtime < started
    except OSError:  # gone already
        return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _writer_is_dead(name: str) -> bool:
    pid_text = name[len(TEMP_PREFIX):].split("-", 1)[0]
    if not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
