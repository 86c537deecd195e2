"""A site read the way a build reads it, without building: mkdocs.yml, the plugin's options, each page's
banner front matter. The CLI's `plan`, `prune`, `compare` and `pick` start here.

Errors are one-line ConfigErrors (a usage error for the CLI); MkDocs' own warnings while loading, and
unknown `banner_*` keys, go to `warn`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs_imagegen.errors import ConfigError, FrontMatterError, one_line
from mkdocs_imagegen.pages.reading import read_page

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

    from mkdocs_imagegen.build.session import BannerSession
    from mkdocs_imagegen.build.settings import Settings
    from mkdocs_imagegen.cache.store import CacheStore
    from mkdocs_imagegen.pages.frontmatter import BannerSpec
    from mkdocs_imagegen.pages.template import PageTemplate
    from mkdocs_imagegen.plugin.plugin import ImagegenPlugin

Warn = Callable[[str], None]


@dataclass
class Site:
    config_file: Path
    settings: Settings
    enabled: bool
    session: BannerSession
    specs: list[tuple[str, BannerSpec]]
    paths: dict[str, Path] = field(default_factory=dict)  # src_uri -> the page's file, for every spec
    templated: set[str] = field(default_factory=set)  # pages whose prompt is `prompt_template`'s

    @property
    def cache(self) -> CacheStore:
        return self.session.cache

    def template_lines(self) -> list[str]:
        """`plan`'s lines for the pages whose prompt is `prompt_template`'s: each page and its prompt."""
        rows = [(src, spec.prompt) for src, spec in self.specs if src in self.templated]
        if not rows:
            return []
        width = max(len(src) for src, _ in rows)
        return [*(f"  template     {src:<{width}}  {prompt}" for src, prompt in rows),
                f"{len(rows)} page(s) take their prompt from prompt_template (template_pages): a new title or "
                "description is a new prompt, so a new banner"]

    def src_of(self, page: Path) -> str | None:
        """The src_uri of a page given as a path (relative to the current directory, or absolute)."""
        wanted = page.resolve()
        return next((src for src, path in self.paths.items() if path.resolve() == wanted), None)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def mkdocs_messages() -> Iterator[list[logging.LogRecord]]:
    """Collect what MkDocs logs while loading, so its errors become our one line."""
    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def load_mkdocs_config(config_file: Path, warn: Warn) -> MkDocsConfig:
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    with mkdocs_messages() as records:
        try:
            config = load_config(config_file=str(config_file))
        except MkDocsException as error:  # ConfigurationError, or Abort after logging each error
            errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
            raise ConfigError(one_line(f"{config_file}: {errors[0] if errors else error}")) from None
    for record in records:
        warn(f"warning: {one_line(record.getMessage())}")
    return config


def find_plugin(config: MkDocsConfig, config_file: Path) -> ImagegenPlugin:
    """MkDocs 1.6 keeps plugin instances in `config.plugins` (a dict keyed by name, e.g. 'imagegen')."""
    from mkdocs_imagegen.plugin.plugin import ImagegenPlugin

    for plugin in config.plugins.values():
        if isinstance(plugin, ImagegenPlugin):
            return plugin
    raise ConfigError(f"{config_file}: the imagegen plugin is not enabled; add `plugins: [imagegen]`")


def page_specs(config: MkDocsConfig, every_file: bool, warn: Warn,
               template: PageTemplate | None = None) -> list[tuple[str, BannerSpec, Path, bool]]:
    """Each Markdown page's banner request from its front matter or `prompt_template`, read like a build
    reads it; the last item says whether the prompt is the template's."""
    from mkdocs.structure.files import InclusionLevel, get_files

    inclusion: Callable[[InclusionLevel], bool] = (lambda level: True) if every_file else InclusionLevel.is_included
    with mkdocs_messages():
        files = get_files(config)
    specs = []
    for file in files.documentation_pages(inclusion=inclusion):
        path = Path(file.abs_src_path or "")
        try:
            page = read_page(path, file.src_uri, template)
        except FrontMatterError as error:  # never a partial site: a page left out would lose its banner
            raise ConfigError(one_line(str(error))) from None
        for warning in page.warnings:
            warn(f"warning: imagegen: {warning}")
        if page.spec is not None:
            specs.append((file.src_uri, page.spec, path, page.templated))
    return specs


def _stderr(message: str) -> None:
    import click

    click.echo(message, err=True)


def load_settings(config_file: Path, *, unlimited: bool = False,
                  warn: Warn = _stderr) -> tuple[MkDocsConfig, Settings, bool]:
    """(MkDocs' config, the build's settings, whether the plugin is enabled), as a build reads them; no page is read."""
    from dataclasses import replace

    from mkdocs.exceptions import PluginError

    from mkdocs_imagegen.plugin.config import settings_from

    config = load_mkdocs_config(config_file, warn)
    plugin = find_plugin(config, config_file)
    try:
        settings = settings_from(plugin.config, config)
    except PluginError as error:
        raise ConfigError(one_line(str(error))) from None
    return config, replace(settings, max_new=None) if unlimited else settings, bool(plugin.config.enabled)


def load_site(config_file: Path, *, every_file: bool = False, skip_if_disabled: bool = False,
              log: logging.Logger | None = None, unlimited: bool = False, warn: Warn = _stderr) -> Site:
    """The site's settings, a session (its registry, cache and pipeline) and every banner page.

    `log` receives the pipeline's lines (retries); by default they are dropped. `unlimited` lifts
    `max_new`, for generations a user asked for by name (`compare`).
    """
    from mkdocs_imagegen.build.session import BannerSession

    config, settings, enabled = load_settings(config_file, unlimited=unlimited, warn=warn)
    found = [] if skip_if_disabled and not enabled else page_specs(config, every_file, warn, settings.template)
    session = BannerSession(settings, log=log or logging.getLogger("mkdocs_imagegen.cli.quiet"))
    return Site(config_file, settings, enabled, session, [(src, spec) for src, spec, _, _ in found],
                {src: path for src, _, path, _ in found}, {src for src, _, _, templated in found if templated})
