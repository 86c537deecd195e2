"""The Jinja templates `sync` writes for a site no MkDocs plugin runs on (Zensical): the banner and the
social tags of each banner page, chosen by its front matter, escaped for both Jinja2 and MiniJinja."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from mkdocs_imagegen.plugin.markup import banner_markup
from mkdocs_imagegen.request import Size

MARKER = "written by mkdocs-imagegen sync"
TEMPLATE_DIR = "imagegen"


@dataclass(frozen=True)
class Shown:
    """One page's banner as the templates show it."""

    meta: dict[str, Any]
    title: str
    alt: str
    uri: str  # site-relative, e.g. assets/banners/<name>.webp
    size: Size
    widths: tuple[tuple[str, int], ...]  # (uri, width), narrowest first
    exact_size: bool  # the rendition is the size asked for (not a page's own `image`)


def _text(value: str) -> str:
    """`value` safe in an HTML attribute of a Jinja template: escaped, and no `{` for Jinja to read."""
    return html.escape(value, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _literal(value: Any) -> str | None:
    """`value` as a Jinja literal both Jinja2 and MiniJinja read, or None if it has none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return None


def _matches(meta: dict[str, Any]) -> str:
    """A Jinja test that is true on exactly the pages whose banner_* front matter is `meta`'s."""
    parts = []
    for key in sorted(k for k in meta if isinstance(k, str) and k.startswith("banner_")):
        literal = _literal(meta[key])
        if literal is not None:
            parts.append(f'page.meta.{key} == {literal}' if key.isidentifier() else f'page.meta["{key}"] == {literal}')
    for key in ("banner_model", "banner_size", "banner_quality", "banner_variant", "banner_alt", "banner_provider"):
        if key not in meta:
            parts.append(f'"{key}" not in page.meta')
    guards = [f'"{key}" in page.meta' for key in sorted(meta) if isinstance(key, str) and key.startswith("banner_")]
    return " and ".join([*guards, *parts])


def _url(uri: str) -> str:
    return "{{ " + json.dumps(uri) + " | url }}"


def _chain(shown: list[Shown], render: Any) -> str:
    """One branch per distinct banner front matter; pages that share it (one prompt on two pages) but
    show differently (their titles, so alt and og:title) get a branch each, on their title, first."""
    by_test: dict[str, list[Shown]] = {}
    for banner in shown:
        by_test.setdefault(_matches(banner.meta), []).append(banner)
    specific: dict[str, str] = {}
    general: dict[str, str] = {}
    for test, banners in by_test.items():
        bodies = {banner.title: render(banner) for banner in banners}
        if len(set(bodies.values())) > 1:
            for title, body in bodies.items():
                specific.setdefault(f"{test} and page.title == {json.dumps(title)}", body)
        general[test] = render(banners[0])
    branches = {**specific, **general}
    if not branches:
        return ""
    lines = []
    for index, (test, body) in enumerate(branches.items()):
        lines.append(f"{{%- {'if' if index == 0 else 'elif'} {test} -%}}\n{body}\n")
    lines.append("{%- endif -%}\n")
    return "".join(lines)


_GUARD = ('{%- if "imagegen" not in config.plugins and page and page.meta and "banner_prompt" in page.meta -%}\n',
          "{%- endif -%}\n")


def head_template(shown: list[Shown], site_url: str | None) -> str:
    """og:/twitter: tags for each banner page (absolute URLs: only with site_url)."""
    def render(banner: Shown) -> str:
        image = _text(site_url.rstrip("/") + "/" + banner.uri) if site_url else ""
        title, alt = _text(banner.title), _text(banner.alt)
        tags = [("property", "og:type", "article"), ("property", "og:title", title), ("property", "og:image", image),
                ("property", "og:image:width", str(banner.size.width)),
                ("property", "og:image:height", str(banner.size.height)), ("property", "og:image:alt", alt),
                ("name", "twitter:card", "summary_large_image"), ("name", "twitter:title", title),
                ("name", "twitter:image", image), ("name", "twitter:image:alt", alt)]
        meta = "\n".join(f'<meta {attr}="{name}" content="{value}">' for attr, name, value in tags)
        return meta + '\n{%- if page.canonical_url %}\n<meta property="og:url" content="{{ page.canonical_url }}">' \
                      "\n{%- endif %}"

    body = _chain(shown, render) if site_url else ""
    return f"{{#- {MARKER}: rewritten by every sync, do not edit -#}}\n{_GUARD[0]}{body}{_GUARD[1]}"


def banner_template(shown: list[Shown], sizes: str) -> str:
    """The banner <img> for each banner page, on top of the page."""
    def render(banner: Shown) -> str:
        srcset = None
        if banner.widths:
            pairs = [*banner.widths, (banner.uri, banner.size.width)]
            srcset = ", ".join(f"{_url(uri)} {width}w" for uri, width in pairs)
        img = banner_markup(_url(banner.uri), _text(banner.alt), banner.size, srcset=srcset, sizes=_text(sizes))
        return f'<div class="md-grid imagegen-banner-grid" style="margin-top:1.2rem;padding:0 .8rem">{img}</div>'

    return f"{{#- {MARKER}: rewritten by every sync, do not edit -#}}\n{_GUARD[0]}{_chain(shown, render)}{_GUARD[1]}"


MAIN_TEMPLATE = f"""{{#- {MARKER} because there was no main.html; yours from now on: keep the two includes -#}}
{{% extends "base.html" %}}
{{% block extrahead %}}{{{{ super() }}}}{{% include "{TEMPLATE_DIR}/head.html" %}}{{% endblock %}}
{{% block tabs %}}{{{{ super() }}}}{{% include "{TEMPLATE_DIR}/banner.html" %}}{{% endblock %}}
"""


