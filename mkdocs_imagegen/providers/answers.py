"""What every provider does with an answer, whatever its protocol: quote provider text safely,
refuse image bytes cut short, read retry headers, and refuse redirects.

Provider-neutral: no provider is named here, and nothing here imports httpx or an SDK.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mkdocs_imagegen.errors import BadRequestError, InvalidImageError
from mkdocs_imagegen.providers.base import safe_url

MAX_QUOTED_CHARS = 300
REDACTED = "[redacted]"


def scrub(text: str, secret: str | None, limit: int = MAX_QUOTED_CHARS) -> str:
    """Provider text made safe to show: one line, never the secret, never a wall of text."""
    text = " ".join(str(text).split())
    if secret:
        text = text.replace(secret, REDACTED)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_complete(data: bytes, *, provider: str, model: str) -> bytes:
    """Refuse PNG/JPEG bytes cut short (base64 truncated on a 4-character boundary still decodes).

    Anything else is left for the core's full image check.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" not in data[-16:]:
        raise InvalidImageError("returned a truncated PNG (no IEND chunk)", provider=provider, model=model)
    if data.startswith(b"\xff\xd8\xff") and b"\xff\xd9" not in data[-32:]:
        raise InvalidImageError("returned a truncated JPEG (no end-of-image marker)",
                                provider=provider, model=model)
    return data


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` (preferred) or `retry-after` (seconds); None if absent."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value.strip()) / scale
        except ValueError:
            continue  # an HTTP date: rare for these APIs, let the pipeline's backoff decide
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def is_redirect(status: int) -> bool:
    return 300 <= status < 400


def refused_redirect(status: int, location: str | None, *, fix: str, secret: str | None, provider: str | None,
                     model: str | None) -> BadRequestError:
    """A 3xx is never followed: the request carries the key, and the new host would receive it."""
    to = f" to {scrub(safe_url(location), secret, 120)}" if location else ""
    return BadRequestError(f"answered HTTP {status}, a redirect{to}; redirects are not followed (the request "
                           f"carries the key): {fix}", provider=provider, model=model)
