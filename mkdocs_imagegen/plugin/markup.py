"""The HTML the plugin writes: the banner <img> and the social meta tags."""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urljoin

from mkdocs_imagegen.request import Size

_META_NAME = re.compile(r"""<meta\s[^>]*(?:property|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
# What an HTML parser reads up to the real </head>: comments, the raw-text elements (a </head> in a
# <title> or <script> is text, as Material's <title> renders a heading's `</head>` code span), tags whole
# (quoted attribute values too), and the first </head> outside all of them.
_HEAD_TOKEN = re.compile(
    r"""<!--.*?(?:-->|\Z)"""
    r"""|<(title|script|style|textarea|noscript|template)\b[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>.*?(?:</\1\s*>|\Z)"""
    r"""|(</head\s*>)"""
    r"""|<[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>""",
    re.IGNORECASE | re.DOTALL,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def banner_img(src: str, alt: str, size: Size, *, srcset: str | None = None, sizes: str | None = None) -> str:
    """The banner on top of a page: the page's largest element, so fetched first (`fetchpriority`)."""
    return banner_markup(escape(src), escape(alt), size, srcset=escape(srcset) if srcset else None,
                         sizes=escape(sizes) if sizes else None)


def index_banner(href: str, src: str, alt: str, size: Size, *, srcset: str | None = None,
                 sizes: str | None = None) -> str:
    """A post's banner on a blog index, archive or category page: linked to the post, loaded lazily."""
    img = _img(escape(src), escape(alt), size, srcset=escape(srcset) if srcset else None,
               sizes=escape(sizes) if sizes else None, lazy=True)
    return f'<a class="imagegen-index-banner" href="{escape(href)}" tabindex="-1" aria-hidden="true">{img}</a>'


def banner_markup(src: str, alt: str, size: Size, *, srcset: str | None = None, sizes: str | None = None) -> str:
    """`banner_img` from values already safe in an HTML attribute (the `sync` templates pass Jinja
    expressions here)."""
    return f'<p class="imagegen-banner">{_img(src, alt, size, srcset=srcset, sizes=sizes, lazy=False)}</p>'


def _img(src: str, alt: str, size: Size, *, srcset: str | None, sizes: str | None, lazy: bool) -> str:
    responsive = f'srcset="{srcset}" sizes="{sizes}" ' if srcset and sizes else ""
    loading = 'loading="lazy"' if lazy else 'loading="eager" fetchpriority="high"'
    return (
        f'<img src="{src}" alt="{alt}" {responsive}width="{size.width}" height="{size.height}" '
        f'{loading} decoding="async" style="width:100%;height:auto;aspect-ratio:{size.width}/{size.height}">'
    )


def absolute_url(site_url: str, url: str) -> str:
    if _SCHEME.match(url):
        return url
    base = site_url if site_url.endswith("/") else site_url + "/"
    relative = url.lstrip("/")
    if "./" in relative or "?" in relative or "#" in relative:
        return urljoin(base, relative)
    return base + relative  # what urljoin returns for a plain path, without its cost on every page


def head_end(html: str) -> int | None:
    """Where the page's real </head> (any case) starts, or None: not a `</head>` inside the <title>,
    a script, a comment or an attribute value, which a browser reads as text."""
    for token in _HEAD_TOKEN.finditer(html):
        if token.group(2):
            return token.start()
    return None


def social_meta_names(html: str, end: int | None) -> set[str]:
    """The og:* and twitter:* <meta> names already in the page's <head> (before `end`), lower-cased."""
    head = html[:end].lower()
    if "og:" not in head and "twitter:" not in head:
        return set()  # the common case, without a regex over the head of every page
    return {name for name in _META_NAME.findall(head) if name.startswith(("og:", "twitter:"))}


def social_tags(image_url: str, alt: str, size: Size | None, *, title: str, url: str | None,
                description: str | None, present: set[str]) -> str:
    """The page's social meta: the banner, plus title/url/description where nothing set them yet."""
    image, alt, title = escape(image_url), escape(alt), escape(title)
    description = escape(description) if description else None
    tags = [
        ("property", "og:type", "article"),
        ("property", "og:title", title),
        ("property", "og:url", escape(url) if url else None),
        ("property", "og:description", description),
        ("property", "og:image", image),
        ("property", "og:image:width", str(size.width) if size else None),
        ("property", "og:image:height", str(size.height) if size else None),
        ("property", "og:image:alt", alt),
        ("name", "twitter:card", "summary_large_image"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", description),
        ("name", "twitter:image", image),
        ("name", "twitter:image:alt", alt),
    ]
    return "".join(
        f'<meta {attr}="{name}" content="{value}">\n' for attr, name, value in tags if value and name not in present
    )


def inject_head(html: str, tags: str, end: int | None) -> str:
    """`tags` inserted where the <head> ends (`end`, from head_end); no <head>, no change."""
    return html if end is None else html[:end] + tags + html[end:]
