"""The HTML the plugin writes: the banner <img> and the social meta tags."""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urljoin

from .request import Size

_OG_IMAGE = re.compile(r"""<meta\s[^>]*property\s*=\s*["']og:image["']""", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


def banner_img(src: str, alt: str, size: Size) -> str:
    return (
        f'<p class="imagegen-banner"><img src="{escape(src)}" alt="{escape(alt)}" '
        f'width="{size.width}" height="{size.height}" loading="eager" decoding="async" '
        f'style="width:100%;height:auto;aspect-ratio:{size.width}/{size.height}"></p>'
    )


def absolute_url(site_url: str, url: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        return url
    base = site_url if site_url.endswith("/") else site_url + "/"
    return urljoin(base, url.lstrip("/"))


def has_og_image(html: str) -> bool:
    return _OG_IMAGE.search(html) is not None


def social_tags(image_url: str, alt: str, size: Size | None) -> str:
    tags = [
        ("property", "og:image", image_url),
        ("property", "og:image:alt", alt),
        ("name", "twitter:card", "summary_large_image"),
        ("name", "twitter:image", image_url),
        ("name", "twitter:image:alt", alt),
    ]
    if size is not None:
        tags[1:1] = [("property", "og:image:width", str(size.width)),
                     ("property", "og:image:height", str(size.height))]
    return "".join(f'<meta {attr}="{name}" content="{escape(value)}">\n' for attr, name, value in tags)


def inject_head(html: str, tags: str) -> str:
    match = _HEAD_END.search(html)
    if match is None:
        return html
    return html[: match.start()] + tags + html[match.start():]
