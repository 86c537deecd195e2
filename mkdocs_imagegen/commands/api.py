"""The Python API: `mkdocs_imagegen.generate` and `mkdocs_imagegen.plan` (the package imports them from here
when first used, so a build never loads them)."""

from __future__ import annotations

import logging
from pathlib import Path

from mkdocs_imagegen.build.planning import PlannedBanner, plan_banners
from mkdocs_imagegen.commands.generate import Banner, generate
from mkdocs_imagegen.commands.site import load_site

__all__ = ["Banner", "generate", "plan"]


def plan(config_file: str | Path = "mkdocs.yml") -> list[PlannedBanner]:
    """What a build of the site would do for each page with a banner, in page order; nothing is sent or written.

    Each row has the page (`src`), the `request` (model, size, quality, cache key), its `status`
    (generate, cached, placeholder or skipped), the `provider`, the `estimate` in USD and the
    `reason` for a placeholder. Warnings MkDocs gives while loading go to the `mkdocs_imagegen` logger.
    A page whose front matter cannot be read raises ConfigError naming it.
    """
    log = logging.getLogger("mkdocs_imagegen")
    site = load_site(Path(config_file), skip_if_disabled=True, warn=log.warning)
    with site.session:
        return plan_banners(site.session, site.specs)
