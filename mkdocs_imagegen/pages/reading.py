"""A page file read the way MkDocs reads it, but strictly: the one reader of a site's pages for `plan`,
`prune`, `compare`, `backfill` and `sync`, and the title rule the plugin shares.

MkDocs ignores front matter it cannot parse (the page just has no keys); a command that did the same
would plan one page fewer, or `prune` its banners. So here front matter that is not valid YAML, or not
a mapping, is a FrontMatterError naming the page, and the command stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs_imagegen.errors import FrontMatterError, one_line
from mkdocs_imagegen.pages.frontmatter import BannerSpec, parse_banner
from mkdocs_imagegen.pages.template import PageTemplate, with_template
from mkdocs_imagegen.pages.titles import page_title


@dataclass(frozen=True)
class PageRead:
    src: str  # the page's path relative to docs_dir, as MkDocs names it
    spec: BannerSpec | None  # None: the page asks for no banner
    meta: dict[str, Any]
    title: str
    warnings: tuple[str, ...] = ()  # unknown banner_* keys and the like, for the user
    templated: bool = False  # the prompt is `prompt_template`'s, the page has no banner_prompt
    body: str = ""  # the Markdown after the front matter


def read_page(path: Path, src: str, template: PageTemplate | None = None) -> PageRead:
    """The page's banner request (its own, or `template`'s when it has none and the template names it), front
    matter and title; FrontMatterError (naming `src`) if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise FrontMatterError(one_line(f"{src}: cannot read the page: {error}")) from None
    body, meta = front_matter(text, src)
    spec, warnings = parse_banner(with_template(meta, body, src, template), src)
    templated = spec is not None and meta.get("banner_prompt") is None
    return PageRead(src, spec, meta, page_title(meta, body, src), tuple(warnings), templated, body)


def front_matter(text: str, src: str) -> tuple[str, dict[str, Any]]:
    """(the body, the front matter) as MkDocs' `get_data` finds them, raising where it would give up silently."""
    import yaml
    from mkdocs.utils.meta import YAML_RE, SafeLoader, get_data

    match = YAML_RE.match(text)
    if match is None:  # no --- block: MultiMarkdown-style meta lines, or none
        return get_data(text)
    try:
        data = yaml.load(match.group(1), SafeLoader)  # noqa: S506 - a safe loader, as MkDocs uses
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        reason = getattr(error, "problem", None) or type(error).__name__
        raise FrontMatterError(one_line(f"{src}: front matter is not valid YAML ({reason}{line}); a build would "
                                        "ignore all of it: fix it")) from None
    if not isinstance(data, dict):
        raise FrontMatterError(f"{src}: front matter is not a mapping of keys (it is a {type(data).__name__}); "
                               "a build would ignore all of it: fix it")
    return text[match.end():].lstrip("\n"), data
