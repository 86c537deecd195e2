"""Under `mkdocs serve`: the last `compare` sheet, shown at /.imagegen/compare/ (read-only: picking stays a
command)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs_imagegen.defaults import COMPARE_FOLDER, SERVED_SHEET


def publish(project: Path, site_dir: Path) -> Path | None:
    """Copy the last `compare` sheet into the served site (read-only: picking stays a command)."""
    folder = project / COMPARE_FOLDER
    if folder.is_symlink() or not (folder / "index.html").is_file():
        return None
    target = site_dir / SERVED_SHEET
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".gitignore", ".tmp-*"), symlinks=False)
    return target
