"""MkDocs hook for the project's docs site: the tables a user reads are made from the code at build time.

- `<!-- imagegen:options -->`: every key of the plugin's config schema (`ImagegenConfig`, with the nested
  `providers:` blocks), its type and its default read from the schema; the meaning from `OPTION_MEANINGS`.
- `<!-- imagegen:front-matter -->`: every key of `pages.frontmatter.FIELDS`, in the order they are checked.
- `<!-- imagegen:models -->`: the catalogue's tables, as `mkdocs-imagegen models --markdown` prints them.
- The gallery's images are the example site's screenshots, added to the build from `example_site/`.

A key the code has and this file does not describe (or the reverse) is a build error, so
`mkdocs build --strict` fails until the docs say what the new option or front-matter key means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.pages.frontmatter import FIELDS
from mkdocs_imagegen.plugin.config import ImagegenConfig, PositiveNumber, SizeOption, StrictInt

ROOT = Path(__file__).resolve().parents[2]
GALLERY_SOURCE = ROOT / "example_site"
GALLERY_IMAGES = ("screenshot.png", "blog-index.png", "series.png", "compare-sheet.png")

OPTION_MEANINGS: dict[str, str] = {
    "enabled": "`false` turns the plugin off: no banner, no request, no cache read",
    "model": f"the model for pages without `banner_model`, a name or a nickname (it decides the provider); unset: "
             f"`{DEFAULT_MODEL}`, and a page keeps a banner made under a former default "
             "([when a model ends](../models/deprecations.md))",
    "size": "the exact size of every published banner (a page's `banner_size` wins)",
    "quality": "passed to the providers that take it (a page's `banner_quality` wins)",
    "format": "the published files' format",
    "cache_dir": "the cache folder, relative to `mkdocs.yml`; commit it",
    "concurrency": "provider requests in flight at once",
    "timeout": "seconds one request may take, headers and body",
    "retries": "tries again after a 429, a 5xx, a network error or a broken image",
    "offline": "`true`: never call a provider; missing banners become placeholders",
    "max_new": "the most banners one build generates (`null`: no cap); the rest get placeholders, with one warning",
    "insert": "puts the banner at the top of each page",
    "social_meta": "writes `og:image` and `twitter:image` tags (needs `site_url`)",
    "aliases": "your own names for models, e.g. `{hero: gpt-image-2}`; they win over built-in nicknames",
    "models": "catalogue entries declared or overridden, in the catalogue's schema "
              "([a model released tomorrow](../models/new-models.md))",
    "providers": "routing and provider endpoints, below",
    "providers.order": "the providers asked, in this order, for a model they serve and have credentials for",
    "providers.google": "Google Gemini",
    "providers.google.base_url": "another Gemini endpoint (a proxy, a gateway); default from "
                                 "`GOOGLE_GEMINI_BASE_URL`, else Google's",
    "providers.foundry": "Azure AI Foundry",
    "providers.foundry.endpoint": "the resource endpoint; default from `AZURE_OPENAI_ENDPOINT`",
    "providers.foundry.api_version": "`v1` (default, also from `AZURE_OPENAI_API_VERSION`), `preview`, or a dated "
                                     "version for the older deployment route ([Azure routes](../models/azure.md))",
    "providers.foundry.deployments": "model name → deployment name, where they differ",
    "providers.openai": "OpenAI",
    "providers.openai.base_url": "another OpenAI-compatible endpoint; default from `OPENAI_BASE_URL`, else OpenAI's",
    "serve": "what `mkdocs serve` does about missing banners ([mkdocs serve](../writing/serve.md))",
    "output_dir": "where banners land in the built site (no `?` or `#`)",
    "widths": "narrower copies of each banner for `srcset`, in pixels, e.g. `[480, 960, 1440]`",
    "sizes": "the `sizes` attribute that goes with `srcset`; the default is Material's content column",
    "index_banners": "each post's banner on Material's blog index, archive and category pages",
    "style": "the house style: text sent after every prompt (a page's `banner_style` replaces it)",
    "style_reference": "the house reference image(s), relative to `docs_dir`, sent with every prompt "
                       "(a page's `banner_reference` replaces them)",
    "wait_for_batch": "`false`: a banner pending in a batch job is generated now, at full price",
    "cache_url": "`s3://`, `gs://` or `az://`: a cache shared by many machines "
                 "([teams and fleets](../deploying/shared-cache.md))",
    "cache_lease": "seconds a shared-cache lease lasts unless its holder renews it",
    "prompt_template": "a prompt for pages without `banner_prompt`, from `{title}` and `{description}` "
                       "([drafting prompts](../writing/drafting.md))",
    "template_pages": "the pages `prompt_template` is for: globs relative to `docs_dir` (none by default)",
    "brief_model": "the text model `mkdocs-imagegen brief` drafts prompts with (default: the first ready "
                   "provider's)",
    "alt_model": "the text model, one that takes images, `mkdocs-imagegen alt` drafts alt text with",
    "brief_instructions": "what the text model is told when it drafts a prompt (empty: the packaged instructions)",
    "alt_instructions": "what the text model is told when it drafts alt text (empty: the packaged instructions)",
    "brief_pages": "the pages `brief` drafts for: globs relative to `docs_dir` (default: the blog's posts, or all)",
    "providers.endpoints": "OpenAI-compatible servers you name: a local GPU, a self-hosted one, a gateway "
                           "([banners from your own machine](../models/own-machine.md))",
    "providers.endpoints.<name>.base_url": "where the server answers `/images/generations`",
    "providers.endpoints.<name>.key_env": "the environment variable holding its key (none: a server without keys)",
    "providers.endpoints.<name>.models": "the names it serves: a list, names with a price and size, or `auto` "
                                         "(ask its `GET /models`)",
    "providers.endpoints.<name>.concurrency": "images asked of it at once (unset: the plugin's `concurrency`)",
    "providers.endpoints.<name>.timeout": "seconds one image may take (unset: the plugin's `timeout`)",
    "providers.endpoints.<name>.response_format": "`b64_json` for a server that answers with a link unless asked",
}

FRONT_MATTER: dict[str, tuple[str, str, str]] = {  # key: (type, default, meaning)
    "banner_prompt": ("text, 1–32,000 characters", "—", "a page gets a banner only if this is set"),
    "banner_model": ("text", "option `model`", "a model name or nickname; it decides the provider"),
    "banner_provider": ("`google` \\| `foundry` \\| `openai` \\| `placeholder`", "routed",
                        "forces one provider (an escape hatch)"),
    "banner_size": ('`"WxH"`', "option `size`", "the exact size of this page's published banner"),
    "banner_quality": ("`low` \\| `medium` \\| `high` \\| `auto`, and `xhigh` \\| `max` on the models that take "
                       "them", "option `quality`", "passed to the providers that take it"),
    "banner_alt": ("text", "the page title", "the banner's alt text"),
    "banner_variant": ("whole number ≥ 0", "`0`", "bump it for a fresh image from the same prompt"),
    "banner_style": ('text, up to 4,000 characters; `""`', "option `style`",
                     'replaces the house style text; `""` sends none'),
    "banner_reference": ("an image path, or a list; `[]`", "option `style_reference`",
                         "images sent with the prompt instead of the house ones; `[]` sends none; relative "
                         "to the page, or to `docs_dir` with a leading `/`"),
}


# --- the options table ------------------------------------------------------------------------------


def _schema(config_class: type[base.Config]) -> list[tuple[str, c.BaseConfigOption[Any]]]:
    return list(config_class._schema)  # noqa: SLF001 - MkDocs' own list of (name, option)


def nested_prefix(name: str, option: c.BaseConfigOption[Any]) -> str | None:
    """The prefix of the keys nested in an option: `name.` for a block, `name.<name>.` for a mapping of
    blocks the user names (each with the same keys); None for an option with nothing nested."""
    if getattr(option, "config_class", None) is None:
        return None
    return f"{name}." if isinstance(option, c.SubConfig) else f"{name}.<name>."


def option_rows(config_class: type[base.Config] = ImagegenConfig, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, option) for every key of the schema, nested blocks after their parent."""
    for name, option in _schema(config_class):
        yield prefix + name, option
        nested = nested_prefix(name, option)
        if nested is not None:
            yield from option_rows(option.config_class, prefix + nested)


def option_type(option: c.BaseConfigOption[Any]) -> str:
    if isinstance(option, c.Optional):
        return f"{option_type(option.option)}, or `null`"
    if isinstance(option, c.SubConfig):
        return "mapping (below)"
    if getattr(option, "config_class", None) is not None:
        return "mapping of names to blocks (below)"
    if isinstance(option, c.Choice):
        return " \\| ".join(f"`{choice}`" for choice in option.choices)
    if isinstance(option, c.ListOfItems):
        return f"list of {option_type(option.option_type)}"
    if isinstance(option, c.DictOfItems):
        return "mapping of text to text"
    if isinstance(option, SizeOption):
        return '`"WxH"`'
    if isinstance(option, StrictInt):
        upper = f"–{option.maximum:,}" if option.maximum is not None else " or more"
        return f"whole number {option.minimum:,}{upper}"
    if isinstance(option, PositiveNumber):
        upper = f", at most {option.maximum:,g}" if option.maximum is not None else ""
        return f"seconds over 0{upper}"
    if isinstance(option, c.URL):
        return "URL"
    if isinstance(option, c.Type):
        kinds = option._type if isinstance(option._type, tuple) else (option._type,)  # noqa: SLF001
        names = {bool: "`true` \\| `false`", str: "text", int: "whole number", dict: "mapping", list: "list"}
        return " or ".join(names.get(kind, kind.__name__) for kind in kinds)
    # An option class of our own: its docstring's first line says what it takes.
    doc = (type(option).__doc__ or "").strip().splitlines()
    if not doc:
        raise PluginError(f"docs hook: {type(option).__name__} has no docstring to describe its type")
    return doc[0]


def option_default(option: c.BaseConfigOption[Any]) -> str:
    if isinstance(option, c.SubConfig):
        return "—"
    if getattr(option, "config_class", None) is not None and not option.default:
        return "`{}`"
    default = option.default
    if isinstance(option, c.Optional) and default is None:
        default = option.option.default
    return f"`{json.dumps(default, ensure_ascii=False)}`"


def options_table() -> str:
    rows = list(option_rows())
    _same_keys("option", {name for name, _ in rows}, OPTION_MEANINGS)
    lines = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for name, option in rows:
        anchor = name.replace(".<name>.", "-").replace(".", "-")
        lines.append(f"| `{name}`{{ #{anchor} }} | {option_type(option)} | {option_default(option)} | "
                     f"{OPTION_MEANINGS[name]} |")
    return "\n".join(lines) + "\n"


def options_yaml() -> str:
    """Every option at its default, as it would be written in mkdocs.yml."""

    def block(config_class: type[base.Config], indent: int) -> list[str]:
        out = []
        for name, option in _schema(config_class):
            if isinstance(option, c.SubConfig):
                out.append(" " * indent + f"{name}:")
                out += block(option.config_class, indent + 2)
            elif getattr(option, "config_class", None) is not None:
                out.append(" " * indent + f"{name}: {{}}" + "   # NAME: {...} per block, keys in the table")
            else:
                value = option_default(option).strip("`")
                out.append(" " * indent + f"{name}: {value}")
        return out

    return "```yaml\nplugins:\n  - imagegen:\n" + "\n".join(block(ImagegenConfig, 6)) + "\n```\n"


# --- front matter --------------------------------------------------------------------------------------


def front_matter_table() -> str:
    _same_keys("front-matter key", set(FIELDS), FRONT_MATTER)
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in FIELDS:
        kind, default, meaning = FRONT_MATTER[key]
        lines.append(f"| `{key}`{{ #{key} }} | {kind} | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def _same_keys(what: str, in_code: set[str], described: dict[str, Any]) -> None:
    undocumented = sorted(in_code - set(described))
    stale = sorted(set(described) - in_code)
    if undocumented or stale:
        raise PluginError(f"docs hook: the code's {what}s and docs/hooks/generated.py disagree: "
                          f"undocumented {undocumented}, no longer in the code {stale}")


# --- models --------------------------------------------------------------------------------------------


def models_tables() -> str:
    from mkdocs_imagegen.commands.modeltable import markdown
    from mkdocs_imagegen.providers.registry import Registry

    registry = Registry.from_options()
    try:
        return markdown(registry)
    finally:
        registry.close()


GENERATED = {
    "<!-- imagegen:options -->": options_table,
    "<!-- imagegen:options-yaml -->": options_yaml,
    "<!-- imagegen:front-matter -->": front_matter_table,
    "<!-- imagegen:models -->": models_tables,
}


# --- MkDocs events ------------------------------------------------------------------------------------


def on_files(files: Files, config: Any) -> Files:
    for name in GALLERY_IMAGES:
        source = GALLERY_SOURCE / name
        if source.is_file():
            files.append(File.generated(config, f"assets/gallery/{name}", abs_src_path=str(source)))
    return files


# Tags the CLI page really has; anything else in <angle brackets> is a placeholder of a help text (`<hash>`).
HTML_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
})
PLACEHOLDER = re.compile(r"<(/?)([a-z_]+)>")


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    """The CLI page as `--help` reads: no default where click has none (mkdocs-click prints click's internal
    `Sentinel.UNSET` for those), and placeholders such as `<hash>` shown, not taken for HTML tags."""
    if page.file.src_uri != "reference/cli.md":
        return html
    html = html.replace("<code>Sentinel.UNSET</code>", "")
    return PLACEHOLDER.sub(lambda m: m.group(0) if m.group(2) in HTML_TAGS else f"&lt;{m.group(1)}{m.group(2)}&gt;",
                           html)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    for marker, make in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown

