"""Under `mkdocs serve`: the last `compare` sheet, shown at /.imagegen/compare/ (read-only: picking stays a
command)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from mkdocs_imagegen.defaults import COMPARE_FOLDER, SERVED_SHEET


def publish(project: Path, site_dir: Path) -> Path | None:
    """Copy the last `compare` sheet into the served site (read-only: picking stays a command)."""
    folder = project / COMPARE_FOLDER
    if folder.is_symlink() or not _plain_file(folder / "index.html"):
        return None
    target = site_dir / SERVED_SHEET
    if target.exists():
        shutil.rmtree(target)
    for source in _sheet_files(folder):
        copy = target / source.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy, follow_symlinks=False)
    return target


def _sheet_files(folder: Path) -> list[Path]:
    """The plain files compare writes under `folder`: no link (to a file or a folder), no hard link (its
    other name may be anywhere), no pipe or device, no hidden or temporary file."""
    found = []
    for parent, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [name for name in folders if not name.startswith(".")
                      and not os.path.islink(os.path.join(parent, name))]
        found += [Path(parent, name) for name in files
                  if not name.startswith(".") and _plain_file(Path(parent, name))]
    return found


def _plain_file(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1
