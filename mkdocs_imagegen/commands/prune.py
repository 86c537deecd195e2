"""The work behind `mkdocs-imagegen prune`: the cache files no page uses, found and removed.

Every page is read (drafts and excluded pages count as users), and a page that cannot be read stops
it before anything is removed. A file written after the prune started (a running build's new banner)
is never removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs_imagegen.commands.site import load_site
from mkdocs_imagegen.errors import CommandStopped


@dataclass
class Pruned:
    root: Path  # the cache folder
    files: list[Path] = field(default_factory=list)  # removed, or that would be with dry_run
    freed: int = 0  # their bytes
    originals_kept: int = 0
    renditions_kept: int = 0


def prune(config_file: Path, *, dry_run: bool = False, on_file: Callable[[Path], None] = lambda path: None) -> Pruned:
    """Remove (or, with `dry_run`, list) the cache files no page of the site uses; `on_file` hears of each, by
    its path in the cache folder."""
    started = time.time()
    site = load_site(config_file, every_file=True)
    cache = site.cache
    with site.session:
        # Routing does not change the cache key: a `banner_provider` that cannot serve the model (on a
        # draft the build skips, say) must not hide a page's key, nor stop the prune.
        requests = [site.session.request(spec, src, checked=False) for src, spec in site.specs]
        keys, renditions = cache.in_use(requests, site.settings.fmt, site.settings.widths)
    pruned = Pruned(cache.root, originals_kept=len(keys & set(cache.keys())), renditions_kept=len(renditions))
    for path in cache.unused_files(keys, renditions, started):
        size = _remove(path, dry_run)
        if size is not None:
            pruned.files.append(path)
            pruned.freed += size
            on_file(path.relative_to(cache.root))
    if not dry_run:  # scratch files, not committed: removed with their keys, unless a build holds one now
        for key in set(cache.lock_keys()) - keys:
            cache.drop_lock(key)
    return pruned


def _remove(path: Path, dry_run: bool) -> int | None:
    """The file's size once removed (or, with `dry_run`, as it is); None if someone removed it meanwhile."""
    try:
        size = path.lstat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CommandStopped(f"cannot remove {path}: {error.strerror or error}", 1) from None
    return size
