"""The plugin's `mkdocs.yml` schema, validated by MkDocs' own config_options."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError

from mkdocs_imagegen.catalogue.lookup import catalogue_with
from mkdocs_imagegen.defaults import DEFAULT_MODEL, DEFAULT_SIZE
from mkdocs_imagegen.errors import CatalogueError
from mkdocs_imagegen.imaging import PUBLISH_FORMATS
from mkdocs_imagegen.provider_table import PROVIDERS, REAL_PROVIDERS
from mkdocs_imagegen.providers.endpoint_models import check_name, parse_models
from mkdocs_imagegen.request import QUALITIES, Size, size_value, whole_number

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

    from mkdocs_imagegen.build.settings import Settings
    from mkdocs_imagegen.pages.template import PageTemplate

SERVE_MODES = ("background", "placeholders", "cached")
_URL_DELIMITERS = frozenset("?#")  # a URL's path ends at either


class SizeOption(c.BaseConfigOption[Size]):
    """A "WxH" string, parsed into a Size."""

    def __init__(self, default: str | None = None) -> None:
        super().__init__()
        self.default = default

    def run_validation(self, value: object) -> Size:
        try:
            return size_value(value)
        except ValueError as exc:
            raise base.ValidationError(str(exc)) from None


class StrictInt(c.BaseConfigOption[int]):
    """An int within bounds; YAML booleans are not numbers here."""

    def __init__(self, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> None:
        super().__init__()
        self.default = default
        self.minimum = minimum
        self.maximum = maximum

    def run_validation(self, value: object) -> int:
        try:
            return whole_number(value, self.minimum, self.maximum)
        except ValueError as exc:
            raise base.ValidationError(str(exc)) from None


class PositiveNumber(c.BaseConfigOption[float]):
    """A number of seconds over 0 and at most `maximum`; YAML booleans are not numbers here."""

    def __init__(self, default: float | None = None, maximum: float | None = None) -> None:
        super().__init__()
        self.default = default
        self.maximum = maximum

    def run_validation(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise base.ValidationError(f"expected a number of seconds, got {value!r}")
        if not value > 0 or (self.maximum is not None and value > self.maximum):  # `not >`: NaN too
            upper = f" and at most {self.maximum:g}" if self.maximum is not None else ""
            raise base.ValidationError(f"expected a number of seconds over 0{upper}, got {value!r}")
        return value


class ModelsOption(c.BaseConfigOption[Any]):
    """An endpoint's `models`: "auto" (the default), a list of names, or names to {price, size}."""

    def run_validation(self, value: object) -> Any:
        try:
            parse_models(value)
        except ValueError as exc:
            raise base.ValidationError(str(exc)) from None
        return value


_OPTION_KINDS = {
    "text": lambda: c.Optional(c.Type(str)),
    "url": lambda: c.Optional(c.URL()),  # with its scheme: `api.openai.com/v1` is refused at config time
    "mapping": lambda: c.DictOfItems(c.Type(str), default={}),
    "models": ModelsOption,
    "count": lambda: c.Optional(StrictInt(minimum=1, maximum=64)),
    "seconds": lambda: c.Optional(PositiveNumber(maximum=24 * 3600)),
    "answer": lambda: c.Optional(c.Choice(("b64_json", "url"))),
}


def _provider_options(name: str, options: dict[str, str]) -> type[base.Config]:
    """One provider's block under `providers:`, from its row in the provider table."""
    schema = {option: _OPTION_KINDS[kind]() for option, kind in options.items()}
    return type(f"{name.title()}Options", (base.Config,), schema)


class NamedBlocks(c.BaseConfigOption[dict]):
    """A kind of provider the user names (`providers.endpoints.NAME`): one options block per name."""

    def __init__(self, config_class: type[base.Config]) -> None:
        super().__init__()
        self.config_class = config_class
        self.default = {}

    def run_validation(self, value: object) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict):
            raise base.ValidationError(f"expected a mapping of names to option blocks, got {value!r}")
        blocks: dict[str, dict[str, Any]] = {}
        for name, block in value.items():
            try:
                check_name(name, (*REAL_PROVIDERS, "placeholder"))
            except ValueError as exc:
                raise base.ValidationError(str(exc)) from None
            try:
                blocks[name] = dict(c.SubConfig(self.config_class).validate(block or {}))
            except base.ValidationError as exc:
                raise base.ValidationError(f"{name}: {exc}") from None
            if not blocks[name].get("base_url"):
                raise base.ValidationError(f"{name}: base_url is required (e.g. http://127.0.0.1:1234/v1)")
        return blocks


class OrderOption(c.BaseConfigOption[list]):
    """`providers.order`: provider names and endpoint names; unset, the providers then the endpoints."""

    def __init__(self) -> None:
        super().__init__()
        self.default = None

    def run_validation(self, value: object) -> list[str] | None:
        if value is None:  # unset: filled in once the endpoints are read (post_validation)
            return None
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise base.ValidationError(f"expected a list of provider names, got {value!r}")
        return value

    def post_validation(self, config: base.Config, key_name: str) -> None:
        named = [name for spec in PROVIDERS if spec.named for name in (config.get(spec.name) or {})]
        if config[key_name] is None:
            config[key_name] = [*REAL_PROVIDERS, *named]
            return
        known = (*REAL_PROVIDERS, *named)
        for name in config[key_name]:
            if name not in known:
                raise base.ValidationError(f"unknown provider {name!r}; choose from {', '.join(known)}")


def _block(spec: Any) -> c.BaseConfigOption[Any]:
    options = _provider_options(spec.name, spec.options)
    return NamedBlocks(options) if spec.named else c.SubConfig(options)


# `providers:` in mkdocs.yml: the routing order, then one block per provider of the provider table.
ProvidersOptions = type("ProvidersOptions", (base.Config,), {
    "order": OrderOption(),
    **{spec.name: _block(spec) for spec in PROVIDERS},
})


class ImagegenConfig(base.Config):
    enabled = c.Type(bool, default=True)
    model = c.Optional(c.Type(str))  # unset: DEFAULT_MODEL, and banners made under a former default are kept
    size = SizeOption(default=DEFAULT_SIZE)
    quality = c.Choice(QUALITIES, default="auto")
    format = c.Choice(PUBLISH_FORMATS, default="webp")
    cache_dir = c.Type(str, default=".banners")
    concurrency = StrictInt(default=4, minimum=1, maximum=64)
    timeout = PositiveNumber(default=300, maximum=24 * 3600)
    retries = StrictInt(default=4, minimum=0, maximum=20)
    offline = c.Type(bool, default=False)
    max_new = c.Optional(StrictInt(minimum=0))
    insert = c.Type(bool, default=True)
    social_meta = c.Type(bool, default=True)
    aliases = c.DictOfItems(c.Type(str), default={})  # alias -> model name
    models = c.Type(dict, default={})  # catalogue entries declared or overridden (catalogue.json's schema)
    providers = c.SubConfig(ProvidersOptions)
    serve = c.Choice(SERVE_MODES, default="background")
    output_dir = c.Type(str, default="assets/banners")
    # Narrower copies of each banner for `srcset` (pixels wide; none by default), and the `sizes` it is shown at.
    widths = c.ListOfItems(StrictInt(minimum=16, maximum=8192), default=[])
    sizes = c.Type(str, default="(min-width: 76.25em) 48rem, 100vw")
    index_banners = c.Type(bool, default=False)  # each post's banner on Material's blog index, archive, categories
    style = c.Type(str, default="")  # appended to every prompt; a page's banner_style replaces it
    style_reference = c.Type((str, list), default=[])  # image(s) under docs_dir sent with every prompt
    # false: a banner pending in a recorded batch job (`backfill --batch`) is generated now, at full price.
    wait_for_batch = c.Type(bool, default=True)
    cache_url = c.Optional(c.Type(str))  # s3://, gs:// or az://: a cache shared by many machines (shared_store.py)
    cache_lease = PositiveNumber(default=60, maximum=3600)  # seconds a lease lasts unless its holder renews it
    # A prompt for pages without banner_prompt that `template_pages` (globs relative to docs_dir) names.
    prompt_template = c.Type(str, default="")
    template_pages = c.ListOfItems(c.Type(str), default=[])
    # `mkdocs-imagegen brief` and `alt`: the text models that draft prompts and alt text, what they are told
    # (empty: the packaged instructions) and which pages `brief` drafts for (empty: the blog's posts, or all).
    brief_model = c.Optional(c.Type(str))
    alt_model = c.Optional(c.Type(str))
    brief_instructions = c.Type(str, default="")
    alt_instructions = c.Type(str, default="")
    brief_pages = c.ListOfItems(c.Type(str), default=[])


def providers_dict(options: base.Config) -> dict[str, Any]:
    """Plain dicts for the registry, so providers never depend on MkDocs config classes."""
    return {"order": list(options["order"]), **{spec.name: dict(options[spec.name]) for spec in PROVIDERS}}


# --- from mkdocs.yml to Settings: shared by the plugin and the CLI -------------------------------------


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
    """The plugin options as plain Settings; PluginError names a wrong option."""
    from mkdocs_imagegen.build.settings import Settings

    output_dir = config.output_dir.strip("/")
    if not output_dir or ".." in Path(output_dir).parts or Path(output_dir) == Path("."):
        raise PluginError(f"imagegen: output_dir '{config.output_dir}' must be a folder inside the site")
    unsafe = sorted(set(output_dir) & _URL_DELIMITERS)
    if unsafe:
        raise PluginError(f"imagegen: output_dir '{config.output_dir}' contains {' and '.join(map(repr, unsafe))}, "
                          "which ends the path of a URL, so no banner link would work; use a plain folder name")
    cache_dir = resolve_cache_dir(config.cache_dir, mkdocs_config.config_file_path)
    _check_cache_folder(config.cache_dir, cache_dir)
    return Settings(
        model=config.model or DEFAULT_MODEL,
        model_from_default=config.model is None,
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
        widths=tuple(config.widths),
        style=_style_option(config.style),
        style_reference=_style_reference_option(config.style_reference),
        docs_dir=Path(mkdocs_config.docs_dir) if mkdocs_config.docs_dir else None,
        wait_for_batch=config.wait_for_batch,
        cache_url=_cache_url_option(config.cache_url),
        cache_lease=float(config.cache_lease),
        template=_template_option(config.prompt_template, config.template_pages),
    )


def _template_option(text: str, globs: list[str]) -> PageTemplate | None:
    """`prompt_template` and `template_pages`, checked now; None when no page gets a templated prompt."""
    from mkdocs_imagegen.pages.template import PageTemplate, check_template

    if not globs:
        return None
    if not text.strip():
        raise PluginError("imagegen: option 'template_pages' names pages but 'prompt_template' is empty; "
                          "set a template such as \"An editorial illustration for a post titled {title}\"")
    try:
        check_template(text)
    except ValueError as error:
        raise PluginError(f"imagegen: option 'prompt_template' {error}") from None
    return PageTemplate(text.strip(), tuple(globs))


def _style_option(style: str) -> str:
    from mkdocs_imagegen.pages.frontmatter import style_text  # frontmatter -> config: imported when called

    try:
        return style_text(style)
    except ValueError as error:
        raise PluginError(f"imagegen: option 'style' {error}") from None


def _style_reference_option(value: str | list[Any]) -> tuple[str, ...]:
    from mkdocs_imagegen.pages.frontmatter import paths

    try:
        return paths(value)
    except ValueError as error:
        raise PluginError(f"imagegen: option 'style_reference': {error}") from None


def _cache_url_option(url: str | None) -> str | None:
    """`cache_url`, checked now: a wrong URL stops the build with one line (a store that cannot be reached
    only warns, at the build's first look at it)."""
    if not url:
        return None
    from mkdocs_imagegen.cache.backends import split_url
    from mkdocs_imagegen.errors import StoreSetupError

    try:
        split_url(url)
    except StoreSetupError as error:
        raise PluginError(f"imagegen: option 'cache_url': {error}") from None
    return url


def _models_option(models: dict[Any, Any]) -> dict[str, Any]:
    """The `models:` block, checked against the catalogue's schema now rather than on first use."""
    entries = {str(name): entry for name, entry in models.items()}
    try:
        catalogue_with(entries)
    except CatalogueError as error:
        raise PluginError(f"imagegen: {error}") from None
    return entries
