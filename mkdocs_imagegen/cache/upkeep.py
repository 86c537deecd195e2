"""Keeping a cache folder in order: cross-process locks, temp files of killed builds, and what no page
uses any more (`prune`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from mkdocs_imagegen.cache.entries import width_name
from mkdocs_imagegen.cache.files import (
    KEY_PATTERN,
    TEMP_PREFIX,
    atomic_write,
    cache_files,
    folder_problem,
    mtime,
    names,
    writer_is_dead,
    written_before,
)
from mkdocs_imagegen.request import GenerationRequest

GITIGNORE = "# written by mkdocs-imagegen: commit the banners, not its scratch files\n.tmp-*\n.locks/\n.leases/\n"
_KEY_FILE = re.compile(r"^([0-9a-f]{64})\.[a-z]+$")  # originals/<key>.json and originals/<key>.<format>
# renditions/<request>-<content>.<suffix> (rendition_name), and <hash>.<suffix> from version 0.1
_RENDITION_FILE = re.compile(r"^(?:[0-9a-f]{16}-[0-9a-f]{12}|[0-9a-f]{20})\.[a-z]+$")
_WIDTH_FILE = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{12}-w\d+\.[a-z]+$")  # renditions/ narrower copies (width_name)




class CacheUpkeep:
    """Locks and tidying for a CacheStore (its folders: `root`, `originals`, `renditions`)."""

    root: Path
    originals: Path
    renditions: Path

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
        return sorted(name[:-5] for name in names(self.root / ".locks")
                      if name.endswith(".lock") and KEY_PATTERN.match(name[:-5]))

    def drop_lock(self, key: str) -> bool:
        """Remove `key`'s lock file, unless a build holds it right now. True if it was removed."""
        self.provenance_path(key)  # validates the key before it becomes a file name
        path = self.root / ".locks" / f"{key}.lock"
        if folder_problem(path.parent) is not None:
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
                atomic_write(ignore, GITIGNORE.encode())

    def sweep_temp_files(self, older_than: float = 3600.0) -> int:
        """Remove temp files left by killed builds: dead writer pid, or simply old."""
        removed = 0
        now = time.time()
        for folder in (self.root, self.originals, self.renditions):
            if folder != self.root and folder_problem(folder) is not None:
                continue  # never clean up outside cache_dir
            for tmp in (folder / name for name in names(folder) if name.startswith(TEMP_PREFIX)):
                if writer_is_dead(tmp.name) or now - mtime(tmp) > older_than:
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
        for path in cache_files(self.originals):
            match = _KEY_FILE.match(path.name)
            if match and match.group(1) not in keys:
                doomed.append(path)
        for path in cache_files(self.renditions):
            if (_RENDITION_FILE.match(path.name) or _WIDTH_FILE.match(path.name)) and path.name not in renditions:
                doomed.append(path)
        doomed = [path for path in doomed if written_before(path, started)]
        return sorted(doomed, key=lambda path: (path.parent.name, path.suffix != ".json", path.name))

    def own_temp_files(self) -> list[Path]:
        """Temp files this process is writing (or left behind) in the cache folders."""
        mine = f"{TEMP_PREFIX}{os.getpid()}-"
        return [folder / name for folder in (self.root, self.originals, self.renditions)
                for name in names(folder) if name.startswith(mine)]


