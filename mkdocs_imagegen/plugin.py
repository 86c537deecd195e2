"""The MkDocs events, kept thin: everything else lives in session/pipeline/cache."""

from __future__ import annotations

import html
import logging
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

from .cache import CacheStore
from .catalogue import CatalogueError, catalogue_with
from .config import ImagegenConfig, providers_dict
from .errors import ImagegenError
from .frontmatter import FrontMatterError, parse_banner
from .markup import absolute_url, banner_img, head_end, inject_head, social_meta_names, social_tags
from .pipeline import Pipeline
from .registry import Registry
from .session import QUIET_PERIOD, BannerSession, PageBanner, Settings, make_registry

log = logging.getLogger("mkdocs.plugins.imagegen")

_URL_DELIMITERS = frozenset("?#")  # a URL's path ends at either


def resolve_cache_dir(cache_dir: str, config_file: str | None) -> Path:
    """`cache_dir` relative to mkdocs.yml; leaving the project needs an explicit absolute path."""
    raw = Path(cache_dir).expanduser()
    if raw.is_absolute():
        return raw
    project = Path(config_file).resolve().parent if config_file else Path.cwd()
    resolved = (project / raw).resolve()
    if not resolved.is_relative_to(project):
        raise PluginError(f"imagegen: cache_dir '{cache_dir}' points outside the project; "
                          "use an absolute path if that is what you mean")
    return resolved


def _check_cache_folder(cache_dir: str, path: Path) -> None:
    """One line, not a traceback on the first page, when `cache_dir` (or a folder above it) is a file."""
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                where = "is a file" if folder == path else f"is inside {folder}, which is a file"
                raise PluginError(f"imagegen: cache_dir '{cache_dir}' {where}, not a folder; "
                                  "point it at a folder (it is made if missing)")
            return


def settings_from(config: ImagegenConfig, mkdocs_config: MkDocsConfig) -> Settings:
    output_dir = config.output_dir.strip("/")
    if not output_dir or ".." in Path(output_dir).parts:
        raise PluginError(f"imagegen: output_dir '{config.output_dir}' must be a folder inside the site")
    unsafe = sorted(set(output_dir) & _URL_DELIMITERS)
    if unsafe:
        raise PluginError(f"imagegen: output_dir '{config.output_dir}' contains {' and '.join(map(repr, unsafe))}, "
                          "which ends the path of a URL, so no banner link would work; use a plain folder name")
    cache_dir = resolve_cache_dir(config.cache_dir, mkdocs_config.config_file_path)
    _check_cache_folder(config.cache_dir, cache_dir)
    return Settings(
        model=config.model,
        size=config.size,
        quality=config.quality,
        fmt=config.format,
        cache_dir=cache_dir,
        output_dir=output_dir,
        offline=config.offline,
        concurrency=config.concurrency,
        timeout=float(config.timeout),
        retries=config.retries,
        max_new=config.max_new,
        aliases={str(k): str(v) for k, v in config.aliases.items()},
        models=_models_option(config.models),
        providers=providers_dict(config.providers),
    )


def _models_option(models: dict[Any, Any]) -> dict[str, Any]:
    """The `models:` block, checked against the catalogue's schema now rather than on first use."""
    entries = {str(name): entry for name, entry in models.items()}
    try:
        catalogue_with(entries)
    except CatalogueError as error:
        raise PluginError(f"imagegen: {error}") from None
    return entries


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
        return server

    def on_pre_build(self, config: MkDocsConfig) -> None:
        self.by_page = {}
        self.own_image = set()
        self.page_error = None
        self.social_base = None

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
            spec, warnings = parse_banner(page.meta, src)
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
        return env

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
                        "on it would be broken; remove the part from '%s' on", site_url, extra,
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
        page.content = f"{banner_img(src, alt, banner.published.size)}\n{page.content or ''}"
        return context

    def on_post_page(self, output: str, page: Page, config: MkDocsConfig) -> str | None:
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
        return Path(src).stem.replace("-", " ").replace("_", " ").title()
    title = str(title)
    if page is not None and "title" not in page.meta and title == getattr(page, "_title_from_render", None):
        # MkDocs takes a `# heading` title from the rendered HTML: `# Tips & tricks` is "Tips &amp; tricks".
        return html.unescape(title)
    return title
