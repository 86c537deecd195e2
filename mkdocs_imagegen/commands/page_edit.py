"""Writing banner keys into a page's front matter, for `pick`, `brief --write` and `alt --write`.

Only the site's own files are edited: a page that is a link to a file outside docs_dir is refused (its
target would change, not the site). A linked page inside docs_dir changes its target, keeping its mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mkdocs_imagegen.cache.files import atomic_write
from mkdocs_imagegen.pages.edit import set_keys


def edit_target(page: Path, docs_dir: Path | None) -> Path | None:
    """The file an edit of `page` changes (a link's target), or None when that file is outside docs_dir."""
    target = page.resolve()
    if docs_dir is not None and not target.is_relative_to(Path(docs_dir).resolve()):
        return None
    return target


def write_keys(target: Path, values: Mapping[str, str | int]) -> bool:
    """Set `values` in the file's front matter, changing nothing else; False when they were already so.
    EditError when it cannot be done safely, OSError when the file cannot be read or written."""
    data = target.read_bytes()
    edited = set_keys(data, values)
    if edited == data:
        return False
    mode = target.stat().st_mode & 0o7777
    atomic_write(target, edited)
    target.chmod(mode)
    return True
