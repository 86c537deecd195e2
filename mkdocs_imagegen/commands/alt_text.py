"""`alt`: which pages get alt text drafted, and the banner each request carries.

A page qualifies when it has a banner in the cache and no `banner_alt`. The banner sent is the one the page
shows (its rendition, else the cached original), downscaled to at most 1024 pixels on its longer side and
sent as JPEG; it travels with the page's title and the banner's prompt.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs_imagegen.commands.drafting import DraftSite, Plan, make_plan, new_job
from mkdocs_imagegen.errors import CacheEntryError, CommandStopped, ImagegenError

if TYPE_CHECKING:
    from mkdocs_imagegen.build.session import BannerSession
    from mkdocs_imagegen.pages.frontmatter import BannerSpec

MAX_EDGE = 1024
MAX_BANNER_BYTES = 64 * 1024 * 1024


def plan_alt(site: DraftSite, paths: list[Path], model: str | None) -> Plan:
    from mkdocs_imagegen.build.session import BannerSession
    from mkdocs_imagegen.pages.excerpt import alt_text_request

    plan, instructions = make_plan(site, "alt", model)
    pages = site.named(paths) if paths else site.pages
    session = BannerSession(site.settings, registry=site.registry)
    try:
        for page in pages:
            spec = page.spec
            if spec is None:
                if paths:
                    plan.notes.append(f"{page.src}: has no banner_prompt, so no banner; left alone")
                continue
            if spec.alt is not None:
                if paths:
                    plan.notes.append(f"{page.src}: has a banner_alt already; left alone")
                continue
            image = _banner(session, spec, page.src)
            if image is None:
                plan.notes.append(f"{page.src}: its banner is not in the cache yet (`mkdocs build` makes it); "
                                  "left alone")
                continue
            text = alt_text_request(page.meta, page.markdown, page.src, spec.prompt)
            plan.jobs.append(new_job("alt", plan.route, plan.cache, page, instructions, text, image))
    finally:
        session.close()
    return plan


def _banner(session: BannerSession, spec: BannerSpec, src: str) -> bytes | None:
    """The page's banner as it is shown, downscaled and encoded as JPEG; None when it is not cached."""
    from mkdocs_imagegen.imaging import load_source

    try:
        request = session.request(spec, src, checked=False)
    except ImagegenError as error:
        raise CommandStopped(" ".join(str(error).split()), 2) from None
    cache = session.cache
    entry = cache.lookup(request, session.settings.fmt)
    try:
        if entry.rendition is not None:
            path = entry.rendition
            if path.is_symlink() or path.stat().st_size > MAX_BANNER_BYTES:
                return None
            picture = load_source(path.read_bytes()).image
        elif entry.original is not None or cache.original(entry.key) is not None:
            original = entry.original or cache.original(entry.key)
            assert original is not None
            picture = cache.load_original(original).image
        else:
            return None
    except (OSError, CacheEntryError, ImagegenError):
        return None
    return downscaled(picture)


def downscaled(picture: object) -> bytes:
    from PIL import Image

    assert isinstance(picture, Image.Image)
    image = picture.convert("RGB")
    image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
