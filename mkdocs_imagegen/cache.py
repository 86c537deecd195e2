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
(or a build killed mid-write) never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .imaging import FORMAT_SUFFIX, RENDITION_VERSION, SourceImage, encode, fit, load_source
from .providers.base import ProviderImage
from .request import GenerationRequest, Size

TEMP_PREFIX = ".tmp-"
_KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_GITIGNORE = "# written by mkdocs-imagegen: commit the banners, not its scratch files\n.tmp-*\n.locks/\n"


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


@dataclass(frozen=True)
class Listing:
    """Which originals have their provenance, and the renditions by request part: one folder read each."""

    provenance: frozenset[str]
    renditions: dict[str, list[str]]

    @classmethod
    def read(cls, originals: Path, renditions: Path) -> Listing:
        by_stem: dict[str, list[str]] = {}
        for name in _names(renditions):
            stem, dash, _ = name.partition("-")
            if dash:
                by_stem.setdefault(stem, []).append(name)
        return cls(frozenset(name for name in _names(originals) if name.endswith(".json")), by_stem)


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:  # not there yet
        return []


def atomic_write(path: Path, data: bytes, *, durable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=path.parent)
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

    def rescan(self) -> None:
        """Forget the folder listing: the next lookup reads the folders again (once per build)."""
        self._listing = None

    # -- originals -------------------------------------------------------------------------------

    def provenance_path(self, key: str) -> Path:
        if not _KEY_PATTERN.match(key):
            raise ValueError("cache keys are 64 hex characters")
        return self.originals / f"{key}.json"

    def original(self, key: str) -> Original | None:
        """The cached original for `key`, or None. One small file read, no directory scan."""
        try:
            provenance = json.loads(self.provenance_path(key).read_text(encoding="utf-8"))
            path = self.originals / provenance["file"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        return Original(key, path, provenance) if path.is_file() else None

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
            "details": image.details,
        }
        self._ensure_root()
        atomic_write(self.originals / file_name, image.data, durable=True)
        text = json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        atomic_write(self.provenance_path(key), text.encode("utf-8"), durable=True)
        return Original(key, self.originals / file_name, provenance)

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
        if path.is_file():
            return path
        if source is None:
            source = load_source(original.path.read_bytes(), provider=original.provenance.get("provider"))
        atomic_write(path, encode(fit(source.image, size), fmt))
        return path

    # -- cross-process locking -------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str):  # noqa: ANN201 - a context manager
        """Hold an exclusive lock on `key` across processes, so two builds never pay twice."""
        self.provenance_path(key)  # validates the key before it becomes a file name
        self._ensure_root()  # the .gitignore first: lock files must never be committed
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{key}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

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
            for tmp in (folder / name for name in _names(folder) if name.startswith(TEMP_PREFIX)):
                if _writer_is_dead(tmp.name) or now - _mtime(tmp) > older_than:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                        removed += 1
        return removed


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
