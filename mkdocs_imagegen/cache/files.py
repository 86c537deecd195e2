"""Files in the cache folders, read and written safely: only regular files count, a link is never
followed, and every write goes to a temp file renamed into place."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs_imagegen.errors import CacheEntryError

TEMP_PREFIX = ".tmp-"
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:  # not there yet
        return []


def regular_names(folder: Path) -> list[str]:
    """The regular files in `folder`: links and anything else are left out, from the listing alone."""
    try:
        with os.scandir(folder) as entries:
            return [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
    except OSError:  # not there yet
        return []


def folder_problem(folder: Path) -> str | None:
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


def is_regular(path: Path) -> bool:
    """A regular file, not a link to one: one lstat."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file in the cache, never through a link. FileNotFoundError if it is not
    there; CacheEntryError if it is a link, not a regular file, or over `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        if is_link(path):
            raise CacheEntryError(f"cache file {path} is a symbolic link, which is never followed") from None
        raise CacheEntryError(f"cache file {path} cannot be read ({error.strerror or error})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CacheEntryError(f"cache file {path} is not a regular file")
        if limit is not None and info.st_size > limit:
            raise CacheEntryError(f"cache file {path} is {info.st_size:,} bytes, too big to be ours")
        return handle.read()


def is_link(path: Path) -> bool:
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


def create_temp(folder: Path) -> tuple[int, Path]:
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
    fd, tmp = create_temp(path.parent)
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


def cache_files(folder: Path) -> list[Path]:
    """The files in a cache folder, links among them; none in a folder that is itself a link."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_symlink() or path.is_file())


def written_before(path: Path, started: float) -> bool:
    try:
        return path.lstat().st_mtime < started
    except OSError:  # gone already
        return False


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def writer_is_dead(name: str) -> bool:
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
