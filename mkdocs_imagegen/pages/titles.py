"""A page's title as MkDocs gives it: the one rule the plugin, `prompt_template`, `brief` and `sync` share.

MkDocs takes front matter `title`, else a level-one heading that opens the page (one further down does
not count), else "Home" for the home page, else a title made from the file name (`getting-started.md` is
"Getting started", `guides/index.md` "Index"). A title is part of a templated prompt, so two rules would
make two cache keys for one page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

_ATX = re.compile(r"#[ \t]+(?P<title>.+?)(?:[ \t]+#+)?[ \t]*")  # `# Title`, `# Title #`
_SETEXT = re.compile(r"=+[ \t]*")  # the underline of `Title` + `=====`
_MARKUP = re.compile(r"[*`]|(?<!\w)_|_(?!\w)")  # emphasis and code marks; a snake_case word keeps its _


def page_title(meta: Mapping[str, Any], markdown: str, src: str) -> str:
    """Front matter `title`, else the heading that opens the page (its emphasis and code marks dropped, as MkDocs
    renders it), else `fallback_title`."""
    title = meta.get("title")
    if isinstance(title, (str, int, float)) and not isinstance(title, bool) and str(title).strip():
        return str(title).strip()
    heading = _opening_heading(markdown)
    return heading if heading else fallback_title(src)


def _opening_heading(markdown: str) -> str | None:
    lines = [line.strip() for line in markdown.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return None
    atx = _ATX.fullmatch(lines[0])
    if atx:
        text = atx.group("title")
    elif len(lines) > 1 and _SETEXT.fullmatch(lines[1]):
        text = lines[0]
    else:
        return None
    return _MARKUP.sub("", text).strip() or None


def fallback_title(src: str) -> str:
    """The title MkDocs makes from the file name, for a page with no title and no heading."""
    path = PurePosixPath(src)
    if path.parent == PurePosixPath(".") and path.stem in ("index", "README"):
        return "Home"
    words = path.stem.replace("-", " ").replace("_", " ").strip()
    if not words:
        return src
    return words.capitalize() if words.lower() == words else words  # MkDocs: capitalised only if all lower case
