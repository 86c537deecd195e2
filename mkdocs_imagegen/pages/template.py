"""A prompt for pages that have none: the `prompt_template` option, rendered from a page's own title and
description, for the pages `template_pages` names (globs relative to docs_dir; none by default).

A build, `plan` and every command read a page through `with_template`, so they agree on each page's
prompt, and so on its cache key: a page's title is part of its prompt, so a new title is a new banner.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mkdocs_imagegen.pages.titles import page_title
from mkdocs_imagegen.request import MAX_PROMPT_CHARS

FIELDS = ("title", "description")


@dataclass(frozen=True)
class PageTemplate:
    """`prompt_template` and the globs of `template_pages`."""

    text: str
    globs: tuple[str, ...]

    def applies(self, src: str) -> bool:
        return bool(self.text) and any(glob_match(pattern, src) for pattern in self.globs)


def check_template(text: str) -> str:
    """`text` if every `{field}` in it is one we fill; ValueError naming the first that is not."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ValueError(f"is not a template ({error}); write a literal brace as {{{{ or }}}}") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in FIELDS or spec or conversion:
            raise ValueError(f"has {{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}; "
                             f"the fields are {', '.join('{' + name + '}' for name in FIELDS)}")
    return text


def glob_match(pattern: str, src: str) -> bool:
    """A docs-relative path against a glob: `*` and `?` stay within one folder, `**` spans any number."""
    return _match(PurePosixPath(pattern.strip().lstrip("/")).parts, PurePosixPath(src).parts)


def _match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    from fnmatch import fnmatchcase

    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[index:]) for index in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:], parts[1:])


def render(text: str, meta: Mapping[str, Any], markdown: str, src: str) -> str:
    """The template filled in for one page, on one line; "" when nothing is left of it."""
    description = meta.get("description")
    values = {"title": page_title(meta, markdown, src),
              "description": str(description).strip() if isinstance(description, (str, int, float)) else ""}
    filled = text.format_map(values)
    return " ".join(filled.split())[:MAX_PROMPT_CHARS]


def with_template(meta: Mapping[str, Any], markdown: str, src: str, template: PageTemplate | None) -> Mapping[str, Any]:
    """`meta`, plus the template's `banner_prompt` when the page has none and `template_pages` names it."""
    if template is None or meta.get("banner_prompt") is not None or not template.applies(src):
        return meta
    prompt = render(template.text, meta, markdown, src)
    return {**meta, "banner_prompt": prompt} if prompt else meta

