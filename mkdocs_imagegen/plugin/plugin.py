"""The MkDocs events, kept thin: everything else lives in session/pipeline/cache."""

from __future__ import annotations

import html
import logging
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from mkdocs_imagegen.build.pipeline import Pipeline
from mkdocs_imagegen.build.renditions import Width, candidate_widths, srcset, widths_for
from mkdocs_imagegen.build.session import QUIET_PERIOD, BannerSession, PageBanner, make_registry
from mkdocs_imagegen.build.settings import Settings
from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.errors import ImagegenError
from mkdocs_imagegen.pages.frontmatter import FrontMatterError, parse_banner
from mkdocs_imagegen.pages.template import with_template
from mkdocs_imagegen.pages.titles import fallback_title
from mkdocs_imagegen.plugin.config import ImagegenConfig, resolve_cache_dir, settings_from  # noqa: F401 - resolve_cache_dir: re-exported
from mkdocs_imagegen.plugin.markup import (
    absolute_url,
    banner_img,
    head_end,
    index_banner,
    inject_head,
    social_meta_names,
    social_tags,
)
from mkdocs_imagegen.plugin.serve_reload import ReloadNudge
from mkdocs_imagegen.plugin.serve_sheet import publish
from mkdocs_imagegen.providers.registry import Registry

log = logging.getLogger("mkdocs.plugins.imagegen")

class ImagegenPlugin(BasePlugin[ImagegenConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.serving = False
        self.builds = 0
        self.settings: Settings | None = None
        self.registry: Registry | None = None
        self.pipeline: Pipeline | None = None
        self.session: BannerSession | None = None
        self.by_page: dict[str, PageBanner] = {}
        self.own_image: set[str] = set()
        self.page_error: str | None = None  # the first bad page of this build, reported in on_env
        self.social_base: str | None = None  # site_url, when this build writes social meta on it
        self.widths: dict[str, list[Width]] = {}  # page -> narrower copies of its banner (option `widths`)
        self.by_url: dict[str, PageBanner] = {}  # page URL -> its banner, for the blog's index pages
        self.nudge: ReloadNudge | None = None  # under serve: the first build's banners reload the preview

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Defining this keeps the plugin (and its in-flight jobs) alive across `mkdocs serve` rebuilds."""
        self.serving = command == "serve"
        if self.serving:
            _stop_on_sigterm()

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        if not self.config.enabled:
            self.session = None
            return config
        settings = settings_from(self.config, config)
        if self.serving:
            settings = replace(settings, serve_mode=self.config.serve)
        if settings != self.settings:
            self._close_runtime()
            self.settings = settings
            self.registry = make_registry(settings)
            self.pipeline = Pipeline(CacheStore(settings.cache_dir), settings.pipeline_settings(), log=log)
            self.pipeline.cache.sweep_temp_files()
        self.session = BannerSession(settings, registry=self.registry, pipeline=self.pipeline, log=log)
        self.session.collect_batches()  # finished batch jobs into the cache before any page is looked up
        try:
            self.session.registry.resolve(settings.model)
        except ImagegenError as error:
            raise PluginError(f"imagegen: option 'model' in {config.config_file_path}: {error}") from None
        return config

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        """Rebuild when a banner lands in the cache, so livereload swaps the placeholder for it."""
        if self.session is not None and self.session.background:
            originals = self.session.cache.originals
            originals.mkdir(parents=True, exist_ok=True)
            server.watch(str(originals), recursive=False)
            self._nudge_first_banners(self.session)
        return server

    def _nudge_first_banners(self, session: BannerSession) -> None:
        """The first build's banners may land before the watch above begins: see serve_reload.py."""
        jobs = [banner.job for banner in session.banners
                if banner.job is not None and banner.job.kind == "generate" and banner.published is not None
                and banner.published.placeholder]
        if not jobs:
            return
        cache = session.cache
        self.nudge = ReloadNudge(lambda: all(job.done() for job in jobs), lambda: [
            path for path in (cache.provenance_path(job.key) for job in jobs) if path.is_file()],
            session.pipeline.stop_event)
        self.nudge.start()

    def on_pre_build(self, config: MkDocsConfig) -> None:
        if self.nudge is not None:
            self.nudge.rebuilt()
        self.by_page = {}
        self.own_image = set()
        self.page_error = None
        self.social_base = None
        self.widths = {}
        self.by_url = {}

    def on_files(self, files: Files, config: MkDocsConfig) -> Files | None:
        """Refuse an output_dir that is a page or file of the site (`output_dir: index.html`): MkDocs
        would meet a folder where it writes the page, and stop with a traceback."""
        if self.session is None:
            return files
        output_dir = self.session.settings.output_dir
        parts = output_dir.split("/")
        taken = {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
        for file in files:
            if file.dest_uri in taken:
                raise PluginError(f"imagegen: output_dir '{output_dir}' is where MkDocs writes {file.src_uri} "
                                  f"({file.dest_uri}); choose a folder no page or file of the site uses")
        return files

    def on_page_markdown(self, markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str | None:
        if self.session is None:
            return markdown
        src = page.file.src_uri
        try:
            meta = with_template(page.meta, markdown, src, self.session.settings.template)
            spec, warnings = parse_banner(meta, src)
            for warning in warnings:
                log.warning("imagegen: %s", warning)
            if spec is None:
                return markdown
            if self.page_error is not None:
                self.session.request(spec, src)  # still checked, but nothing more is paid for in a failing build
                return markdown
            quiet = QUIET_PERIOD if self.serving and self.builds > 0 else 0.0
            banner = self.session.add(spec, src, quiet=quiet)
        except (FrontMatterError, ImagegenError) as error:
            # MkDocs adds its own "Error reading page" line to anything raised while it reads a page:
            # the build stops in on_env instead, with the one line that names the file and the key.
            self.page_error = self.page_error or str(error)
            return markdown
        self.by_page[src] = banner
        if page.meta.get("image"):
            self.own_image.add(src)
        if self.config.social_meta:
            # Material's social plugin reads this before it renders a card (its on_page_markdown
            # runs at priority -100, after ours): a banner page gets no card and no second og:image.
            social = page.meta.setdefault("social", {})
            if isinstance(social, dict):
                social.setdefault("cards", False)
        return markdown

    def on_env(self, env: Any, config: MkDocsConfig, files: Files) -> Any:
        if self.page_error is not None:
            raise PluginError(self.page_error)
        if self.session is None or not self.by_page:
            return env
        self.social_base = self._social_base(config)
        pages = {page.file.src_uri: page for page in _pages(files)}
        titles = {src: _title(pages.get(src), src) for src in self.by_page}
        self.session.finish(titles)
        if self.serving and self.pipeline is not None:
            self.pipeline.retire({banner.request.cache_key for banner in self.by_page.values()})
        for src, banner in self.by_page.items():
            file = self._register(banner, config, files)
            page = pages.get(src)
            if page is not None and src not in self.own_image:
                page.meta["image"] = file.url
            if page is not None and page.url is not None:
                self.by_url[page.url] = banner
        self._add_widths(config, files)
        return env

    def _add_widths(self, config: MkDocsConfig, files: Files) -> None:
        """The narrower copies of every real banner (option `widths`), derived if missing: one listing
        answers a warm build, and a cold one encodes on as many threads as there are cores."""
        widths = self.config.widths
        if not widths or self.session is None:
            return
        todo = {src: banner for src, banner in self.by_page.items() if banner.published is not None
                and banner.published.path is not None and candidate_widths(banner.request.size, widths)}
        if not todo:
            return
        session = self.session

        def find(banner: PageBanner) -> list[Width]:
            assert banner.published is not None and banner.published.path is not None
            return widths_for(session.cache, banner.request, banner.published.path, session.settings.fmt,
                              widths, log=log) or []

        cold = {src: banner for src, banner in todo.items()
                if widths_for(session.cache, banner.request, banner.published.path, session.settings.fmt, widths,
                              derive=False) is None}
        found = {src: find(banner) for src, banner in todo.items() if src not in cold}
        if cold:
            import os
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(len(cold), os.cpu_count() or 1)) as pool:
                found.update(zip(cold, pool.map(find, cold.values()), strict=True))
        output_dir = session.settings.output_dir
        for src, entries in found.items():
            self.widths[src] = entries
            for entry in entries:
                uri = f"{output_dir}/{entry.path.name}"
                if uri not in files.src_uris:
                    files.append(File.generated(config, uri, abs_src_path=str(entry.path)))

    def _srcset(self, src: str, banner: PageBanner, page: Page) -> tuple[str | None, str | None]:
        """The page's `srcset` (narrower copies, then the banner itself) and `sizes`, or (None, None)."""
        entries = self.widths.get(src)
        if not entries or banner.published is None or self.session is None:
            return None, None
        output_dir = self.session.settings.output_dir
        pairs = [(_relative_url(f"{output_dir}/{entry.path.name}", page), entry.width) for entry in entries]
        pairs.append((_relative_url(banner.published.uri, page), banner.published.size.width))
        return srcset(pairs), self.config.sizes

    def _social_base(self, config: MkDocsConfig) -> str | None:
        """site_url when this build can write og:/twitter: tags on it; else None, said once per build."""
        if not self.config.social_meta:
            return None
        site_url = config.site_url
        if not site_url:
            log.info("imagegen: no og:/twitter: tags written: they need absolute URLs, and site_url is not set "
                     "in %s; set it, or set social_meta: false", config.config_file_path)
            return None
        parts = urlsplit(site_url)
        if parts.query or parts.fragment:
            extra = "query" if parts.query else "fragment"
            log.warning("imagegen: no og:/twitter: tags written: site_url %r has a %s, so every banner URL built "
                        "on it would be broken; remove the part from '%s' on"
                        " (see docs: troubleshooting#site-url)", site_url, extra,
                        "?" if parts.query else "#")
            return None
        return site_url

    def _register(self, banner: PageBanner, config: MkDocsConfig, files: Files) -> File:
        published = banner.published
        assert published is not None
        existing = files.src_uris.get(published.uri)  # the URI is already POSIX: no PurePath per page
        if existing is not None:
            return existing
        if published.path is not None:
            file = File.generated(config, published.uri, abs_src_path=str(published.path))
        else:
            file = File.generated(config, published.uri, content=published.content or b"")
        files.append(file)
        return file

    def on_page_context(self, context: Any, page: Page, config: MkDocsConfig, nav: Any) -> Any:
        """Put the <img> on top of the rendered page: only now (after on_env) is every banner's file known.

        Not in the Markdown: anything before the first `# heading` hides it from MkDocs' title
        extraction, and Material's blog renders post excerpts from the Markdown.
        """
        banner = self.by_page.get(page.file.src_uri)
        if not self.config.insert or banner is None or banner.published is None:
            return context
        alt = banner.spec.alt or _title(page, page.file.src_uri)
        src = _relative_url(banner.published.uri, page)
        responsive, sizes = self._srcset(page.file.src_uri, banner, page)
        page.content = f"{banner_img(src, alt, banner.published.size, srcset=responsive, sizes=sizes)}\n" \
                       f"{page.content or ''}"
        return context

    def on_post_page(self, output: str, page: Page, config: MkDocsConfig) -> str | None:
        if self.config.index_banners and self.by_url and _EXCERPT in output:
            output = self._index_banners(output, page)
        banner = self.by_page.get(page.file.src_uri)
        if banner is None or self.social_base is None:
            return output
        end = head_end(output)
        present = social_meta_names(output, end)
        image = page.meta.get("image")
        if "og:image" in present or not isinstance(image, str) or not image:
            return output  # the page or another plugin already chose the social image
        own = page.file.src_uri in self.own_image
        title = _title(page, page.file.src_uri)
        description = page.meta.get("description") or config.site_description
        tags = social_tags(
            absolute_url(self.social_base, image),
            banner.spec.alt or title,
            None if own or banner.published is None else banner.published.size,
            title=title,
            url=page.canonical_url,
            description=description if isinstance(description, str) else None,
            present=present,
        )
        return inject_head(output, tags, end)

    def on_post_build(self, config: MkDocsConfig) -> None:
        self.builds += 1
        if self.serving and config.config_file_path:  # the last `compare` sheet, at /.imagegen/compare/
            publish(Path(config.config_file_path).resolve().parent, Path(config.site_dir))

    def on_shutdown(self) -> None:
        self._close_runtime()

    def _close_runtime(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()
        if self.registry is not None:
            self.registry.close()
        # Forget the settings too, so the next on_config builds a fresh registry and pipeline.
        self.settings = None
        self.pipeline = self.registry = self.session = None


    def _index_banners(self, output: str, page: Page) -> str:
        """Each post excerpt on a Material blog index, archive or category page gets its post's banner,
        linked to the post, above the excerpt: found by the post link in the excerpt's heading."""
        def insert(match: re.Match[str]) -> str:
            href = html.unescape(match.group("href"))
            banner = self.by_url.get(_site_url_of(href, page))
            if banner is None or banner.published is None:
                return match.group(0)
            src = _relative_url(banner.published.uri, page)
            alt = banner.spec.alt or html.unescape(re.sub(r"<[^>]+>", "", match.group("title"))).strip()
            responsive, sizes = self._srcset(banner.src, banner, page)
            image = index_banner(href, src, alt, banner.published.size, srcset=responsive, sizes=sizes)
            return f"{match.group('open')}{image}{match.group('rest')}"

        return _EXCERPT_HEADING.sub(insert, output)


_EXCERPT = '<article class="md-post md-post--excerpt">'
# An excerpt's content, up to the link in its first heading: Material's partials/post.html renders
# `<div class="md-post__content md-typeset">` and then the post's own `# Title`, linked to the post.
_EXCERPT_HEADING = re.compile(
    r'(?P<open><div class="md-post__content md-typeset">)'
    r'(?P<rest>\s*<h[12][^>]*>\s*<a\s[^>]*?\bhref="(?P<href>[^"]+)"[^>]*>(?P<title>.*?)</a>)', re.DOTALL)


def _site_url_of(href: str, page: Page) -> str:
    """A link on `page` as a site URL like MkDocs' `page.url` (`blog/2026/01/02/post/`)."""
    import posixpath

    base = page.url or ""
    directory = base if base.endswith("/") or not base else posixpath.dirname(base) + "/"
    joined = posixpath.normpath(posixpath.join(directory, href.split("#", 1)[0]))
    joined = "" if joined == "." else joined
    return joined + "/" if href.endswith("/") and joined else joined


def _stop_on_sigterm() -> None:
    """`mkdocs serve` shuts down cleanly on Ctrl-C only: treat SIGTERM the same way."""
    if threading.current_thread() is not threading.main_thread():
        return
    import signal  # only `mkdocs serve` needs it

    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _relative_url(uri: str, page: Page) -> str:
    return get_relative_url(uri, page.url or ".")


def _pages(files: Files) -> list[Page]:
    return [file.page for file in files.documentation_pages() if file.page is not None]


def _title(page: Page | None, src: str) -> str:
    """The page's title as plain text (escaped once, where it is written into HTML)."""
    title = page.title if page is not None else None
    if not title:
        return fallback_title(src)
    title = str(title)
    if page is not None and "title" not in page.meta and title == getattr(page, "_title_from_render", None):
        # MkDocs takes a `# heading` title from the rendered HTML: `# Tips & tricks` is "Tips &amp; tricks".
        return html.unescape(title)
    return title
