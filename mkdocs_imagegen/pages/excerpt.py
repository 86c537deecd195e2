"""What `brief` and `alt` send about a page: its title, `description`, tags and categories, and the first words
of its body as plain text. Nothing else of the front matter leaves the machine.

The body is read as plain text: code blocks, HTML (comments included), images, link targets, footnotes,
attribute lists and Markdown markup are taken out before the words are counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mkdocs_imagegen.pages.titles import page_title

EXCERPT_WORDS = 400
MAX_LIST_ITEMS = 20
MAX_FIELD_CHARS = 300
SENT_FIELDS = ("title", "description", "tags", "categories")  # the front matter a brief request carries

_RULES: tuple[tuple[str, int, str], ...] = (
    (r"^[ \t]*(`{3,}|~{3,}).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL, " "),  # fenced code
    (r"<!--.*?-->", re.DOTALL, " "),  # HTML comments, <!-- more --> too
    (r"<(script|style|pre|code)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE, " "),  # code-like HTML, content too
    (r"</?[A-Za-z][^>]*>", 0, " "),  # other HTML tags (their text stays)
    (r"!\[[^\]]*\]\([^)]*\)", 0, " "),  # images
    (r"\[\^[^\]]+\](?::.*)?", 0, " "),  # footnote references and definitions
    (r"^[ \t]*\[[^\]]+\]:[ \t]*\S+.*$", re.MULTILINE, " "),  # link reference definitions
    (r"\[([^\]]*)\]\([^)]*\)", 0, r"\1"),  # inline links: their text
    (r"\[([^\]]*)\]\[[^\]]*\]", 0, r"\1"),  # reference links: their text
    (r"\{:?[ \t]*[#.][^}]*\}", 0, " "),  # attribute lists
    (r"^[ \t]*(?:!!!|\?\?\?\+?)[ \t]*\w+(?:[ \t]+\"([^\"]*)\")?", re.MULTILINE, r"\1"),  # admonitions: title
    (r"^[ \t]*-{2}8<-{2}.*$", re.MULTILINE, " "),  # snippets
    (r"^[ \t]*#{1,6}[ \t]*", re.MULTILINE, ""),  # heading markers
    (r"^[ \t]*>[ \t]?", re.MULTILINE, ""),  # block quotes
    (r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.MULTILINE, ""),  # list markers, task boxes
    (r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE, " "),  # rules
    (r"^[ \t]*\|?[ \t:|-]+\|[ \t:|-]*$", re.MULTILINE, " "),  # table separator rows
    (r"`+([^`]*)`+", 0, r"\1"),  # inline code: its text
    (r"(\*{1,3}|_{2,3}|~~|==|\^\^)(?=\S)(.+?)(?<=\S)\1", 0, r"\2"),  # emphasis, strike, mark, insert
    (r"\|", 0, " "),  # table cells
)
_SUBSTITUTIONS = tuple((re.compile(pattern, flags), replacement) for pattern, flags, replacement in _RULES)


def plain_text(markdown: str) -> str:
    """The body's words, without markup, on one line."""
    text = markdown
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def excerpt(markdown: str, title: str, words: int = EXCERPT_WORDS) -> str:
    """The first `words` words of the body (a leading heading that repeats the title left out)."""
    text = plain_text(markdown)
    if title and text.startswith(title):
        text = text[len(title):].lstrip()
    found = text.split()
    return " ".join(found[:words]) + (" …" if len(found) > words else "")


def _field(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return " ".join(str(value).split())[:MAX_FIELD_CHARS]


def _items(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return [item for item in (_field(v) for v in values[:MAX_LIST_ITEMS]) if item]


def brief_text(meta: Mapping[str, Any], markdown: str, src: str) -> str:
    """The text a brief request sends for a page: the fields of SENT_FIELDS that are set, then the excerpt."""
    title = page_title(meta, markdown, src)
    lines = [f"Title: {_field(title)}"]
    description = _field(meta.get("description"))
    if description:
        lines.append(f"Description: {description}")
    for name in ("tags", "categories"):
        items = _items(meta.get(name))
        if items:
            lines.append(f"{name.title()}: {', '.join(items)}")
    lines.append(f"Excerpt: {excerpt(markdown, title)}")
    return "\n".join(lines)


def alt_text_request(meta: Mapping[str, Any], markdown: str, src: str, prompt: str) -> str:
    """The text an alt request sends with the banner: the page's title and the banner's prompt."""
    return f"Title: {_field(page_title(meta, markdown, src))}\nPrompt: {' '.join(prompt.split())}"
