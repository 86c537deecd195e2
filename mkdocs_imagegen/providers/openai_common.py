"""Shared code of the two OpenAI-protocol providers (OpenAI direct and Azure AI Foundry).

Both speak the same `images/generations` dialect: the same body, the same `b64_json`
answer, the same retry headers and much the same error JSON. What differs (URL, auth,
how a 401 or a 404 should be explained) stays in `openai.py` and `foundry.py`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # httpx is imported with the first request: a warm build never makes one
    import httpx

from mkdocs_imagegen.catalogue.lookup import ModelInfo, SizeRule
from mkdocs_imagegen.errors import (
    BadRequestError,
    ContentRefusedError,
    ImagegenError,
    InvalidImageError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from mkdocs_imagegen.imaging import JPEG_QUALITY, WEBP_QUALITY
from mkdocs_imagegen.providers.answers import (
    MAX_QUOTED_CHARS,
    REDACTED,
    check_complete,
    is_redirect,
    refused_redirect,
    retry_after,
    scrub,
)
from mkdocs_imagegen.providers.base import safe_url
from mkdocs_imagegen.request import GenerationRequest, Size

__all__ = ["MAX_QUOTED_CHARS", "REDACTED", "check_complete", "retry_after", "scrub"]  # provider-neutral: answers.py

# A wrong aspect ratio costs cropped content; a wrong area only costs a resize.
ASPECT_WEIGHT = 4.0

OUTPUT_FORMAT = "png"  # lossless: what is asked for when the answer is resized or re-encoded here
# `output_compression` (0-100, the API's default 100) for the lossy formats: our own encoder's quality.
OUTPUT_COMPRESSION = {"webp": WEBP_QUALITY, "jpeg": JPEG_QUALITY}


# --- sizes -----------------------------------------------------------------------------------------


def wire_size(info: ModelInfo | None, target: Size) -> str:
    """The `size` string to send: the accepted size nearest the target (the catalogue's size rule)."""
    rule = info.sizes if info is not None else SizeRule()
    if rule.kind == "fixed":
        return str(nearest_fixed_size(rule.fixed, target))
    return str(custom_size(rule, target))


def nearest_fixed_size(sizes: Iterable[Size], target: Size) -> Size:
    """The size whose aspect ratio is nearest the target's, compared in log space."""
    goal = math.log(target.aspect)
    return min(sizes, key=lambda size: (abs(math.log(size.aspect) - goal), -size.pixels))


@functools.lru_cache(maxsize=64)  # a search of ~500 candidates (about 1 ms): once per rule and size, not per request
def custom_size(rule: SizeRule, target: Size) -> Size:
    """A custom size: the target's aspect (clamped to the rule's ratio) and area, within every limit."""
    aspect = min(max(target.aspect, 1 / rule.max_ratio), rule.max_ratio)
    area = min(max(target.pixels, rule.min_pixels), rule.max_pixels)
    step = rule.edge_multiple
    best: tuple[float, Size] | None = None
    for width in range(step, rule.max_edge + 1, step):
        ideal_height = width / aspect / step
        for height in {math.floor(ideal_height) * step, math.ceil(ideal_height) * step}:
            if not rule.accepts(width, height):
                continue
            score = ASPECT_WEIGHT * abs(math.log(width / height / aspect)) + abs(math.log(width * height / area))
            if best is None or score < best[0]:
                best = (score, Size(width, height))
    if best is None:  # a rule no size satisfies (a bad `models:` entry): let the provider say what it takes
        return target
    return best[1]


# --- request and response --------------------------------------------------------------------------


def output_format(request: GenerationRequest, size: str, formats: Iterable[str]) -> str:
    """The `output_format` to ask for: the published format (`request.deliver`) when the provider returns
    it (`formats`) and the answer needs no resize (`size` is the published size), so the answer is the
    published file; else PNG, lossless, for the resize and encode done here."""
    wanted = request.deliver
    return wanted if wanted in formats and size == str(request.size) else OUTPUT_FORMAT


def request_body(request: GenerationRequest, size: str, *, model: str | None = None, n: int = 1,
                 fmt: str = OUTPUT_FORMAT) -> dict[str, Any]:
    """The JSON body of `images/generations` (`n` images) in `fmt`. Never `response_format`: gpt-image models
    reject it."""
    body: dict[str, Any] = {
        "prompt": request.sent_prompt,
        "n": n,
        "size": size,
        "quality": request.quality,
        "output_format": fmt,
    }
    if fmt in OUTPUT_COMPRESSION:
        body["output_compression"] = OUTPUT_COMPRESSION[fmt]
    if model is not None:
        body = {"model": model, **body}
    return body


def image_path(request: GenerationRequest) -> str:
    """`images/edits` when the request carries reference images, else `images/generations`."""
    return "images/edits" if request.references else "images/generations"


def reference_files(request: GenerationRequest) -> list[tuple[str, tuple[str, bytes, str]]] | None:
    """The multipart file parts of `images/edits`: `image` for one reference, `image[]` for several."""
    if not request.references:
        return None
    name = "image[]" if len(request.references) > 1 else "image"
    return [(name, (f"reference-{index + 1}.{reference.mime_type.split('/')[-1]}", reference.data,
                    reference.mime_type)) for index, reference in enumerate(request.references)]


def edit_fields(info: ModelInfo | None, request: GenerationRequest, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON body's fields for `images/edits`, plus `input_fidelity` where the model takes it."""
    if request.references and info is not None and info.references.fidelity:
        return {**body, "input_fidelity": "high"}
    return body


def sniff_mime_type(data: bytes, default: str = f"image/{OUTPUT_FORMAT}") -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return default


@dataclass
class DecodedImage:
    data: bytes
    mime_type: str
    details: dict[str, Any] = field(default_factory=dict)


def json_answer(response: httpx.Response, *, provider: str, model: str,
                error: type[ImagegenError] = InvalidImageError) -> Any:
    """The parsed body of a 200 answer; `error` (an image answer's InvalidImageError by default) if it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise error("returned a response that is not valid JSON (truncated?)", provider=provider,
                    model=model) from None


def decode_response(response: httpx.Response, *, provider: str, model: str) -> DecodedImage:
    """Strictly decode `data[0].b64_json` from a 200 answer; keep the metadata worth keeping."""
    return decode_payload(json_answer(response, provider=provider, model=model), provider=provider, model=model)


def decode_payload(payload: Any, *, provider: str, model: str) -> DecodedImage:
    """Strictly decode `data[0].b64_json` of an answer already parsed (an answer is parsed once: it is large)."""
    if not isinstance(payload, Mapping):
        raise InvalidImageError("returned an unexpected JSON document", provider=provider, model=model)
    return _decode_item(payload, first_item(payload), provider=provider, model=model)


# The most images one `images/generations` request asks for (the API's `n` goes from 1 to 10).
MAX_N = 10


def decode_images(response: httpx.Response, *, provider: str, model: str, count: int) -> list[DecodedImage]:
    """Strictly decode the first `count` images of a 200 answer to a request with `n` = `count`."""
    if count == 1:
        return [decode_response(response, provider=provider, model=model)]
    payload = json_answer(response, provider=provider, model=model)
    data = payload.get("data") if isinstance(payload, Mapping) else None
    items = [item for item in data if isinstance(item, Mapping)] if isinstance(data, list) else []
    if len(items) < count:
        raise InvalidImageError(f"returned {len(items)} image(s) for n={count}", provider=provider, model=model)
    return [_decode_item(payload, item, provider=provider, model=model) for item in items[:count]]


def _decode_item(payload: Mapping[str, Any], item: Mapping[str, Any], *, provider: str, model: str) -> DecodedImage:
    encoded = item.get("b64_json")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidImageError(f"returned no image data ({no_image_reason(item)})",
                                provider=provider, model=model)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError("returned truncated or invalid base64 image data",
                                provider=provider, model=model) from None
    if not data:
        raise InvalidImageError("returned an empty image", provider=provider, model=model)
    check_complete(data, provider=provider, model=model)
    return DecodedImage(data=data, mime_type=sniff_mime_type(data), details=response_details(payload, item))


def first_item(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    data = payload.get("data")
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    return {}


def no_image_reason(item: Mapping[str, Any]) -> str:
    if not item:
        return "empty `data` list"
    if item.get("url"):
        return "a URL instead of b64_json"
    return "no `b64_json` field"


def response_details(payload: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for key in ("created", "usage", "background", "output_format", "quality", "size"):
        if payload.get(key) is not None:
            details[key] = payload[key]
    for key in ("revised_prompt", "content_filter_results"):
        if item.get(key) is not None:
            details[key] = item[key]
    return details


def header_details(response: httpx.Response, names: Iterable[str]) -> dict[str, str]:
    return {name: response.headers[name] for name in names if name in response.headers}


# --- errors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiError:
    """The interesting parts of an OpenAI / Azure OpenAI error answer."""

    status: int
    code: str | None = None
    type: str | None = None
    param: str | None = None
    message: str = ""
    inner_code: str | None = None
    filtered: tuple[str, ...] = ()

    @property
    def codes(self) -> set[str]:
        return {c.lower() for c in (self.code, self.type, self.inner_code) if c}


def parse_error(response: httpx.Response) -> ApiError:
    """Read `{"error": {...}}` (OpenAI and Azure shapes); tolerate anything else."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        text = response.text.strip() if response.content else ""
        return ApiError(status=response.status_code, message=text or response.reason_phrase)
    inner = error.get("inner_error") or error.get("innererror") or {}
    inner = inner if isinstance(inner, Mapping) else {}
    return ApiError(
        status=response.status_code,
        code=text_or_none(error.get("code")),
        type=text_or_none(error.get("type")),
        param=text_or_none(error.get("param")),
        message=str(error.get("message") or response.reason_phrase),
        inner_code=text_or_none(inner.get("code")),
        filtered=filtered_categories(inner.get("content_filter_results")),
    )


def text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def filtered_categories(results: Any) -> tuple[str, ...]:
    if not isinstance(results, Mapping):
        return ()
    return tuple(name for name, result in results.items()
                 if isinstance(result, Mapping) and result.get("filtered"))


def describe(error: ApiError, secret: str | None) -> str:
    """`code: message` for messages that quote the provider."""
    label = error.code or error.type or f"HTTP {error.status}"
    message = scrub(error.message, secret)
    return f"{label}: {message}" if message else label


CONTENT_CODES = {"moderation_blocked", "content_policy_violation", "contentfilter", "content_filter",
                 "responsibleaipolicyviolation"}


def common_error(error: ApiError, *, provider: str, model: str, secret: str | None,
                 headers: Mapping[str, str]) -> ImagegenError | None:
    """The mapping both OpenAI-protocol providers share; None leaves the error to the caller."""
    if error.codes & CONTENT_CODES and error.status < 500:
        return ContentRefusedError(refusal_message(error, secret), provider=provider, model=model)
    if error.status == 429 or "rate_limit_exceeded" in error.codes:
        if "insufficient_quota" in error.codes:
            return QuotaExhaustedError(
                f"quota exhausted, check your plan and billing ({describe(error, secret)})"
                " (see docs: troubleshooting#provider-busy)",
                provider=provider, model=model)
        return RateLimitedError(f"rate limited ({describe(error, secret)})", provider=provider, model=model,
                                retry_after=retry_after(headers))
    if error.status >= 500:
        return TransientError(f"server error {error.status} ({describe(error, secret)})",
                              provider=provider, model=model)
    return None


def refusal_message(error: ApiError, secret: str | None) -> str:
    label = error.code or error.type or "content refused"
    if error.inner_code and error.inner_code != label:
        label = f"{label} ({error.inner_code})"
    if error.filtered:
        label = f"{label}, filtered: {', '.join(error.filtered)}"
    message = scrub(error.message, secret)
    see = " (see docs: troubleshooting#content-refused)"
    return f"{label}: {message}{see}" if message else f"{label}{see}"


def bad_request(error: ApiError, *, provider: str, model: str, secret: str | None) -> BadRequestError:
    param = f" (param {error.param})" if error.param else ""
    return BadRequestError(f"rejected the request with HTTP {error.status}{param}: {describe(error, secret)}",
                           provider=provider, model=model)


# --- transport -------------------------------------------------------------------------------------


class HttpClientHolder:
    """One lazily created, thread-safe `httpx.Client` per provider (no transport retries, no redirects),
    sending through `transport.GuardedTransport`: `timeout` bounds the whole request, the body is capped."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        from mkdocs_imagegen.providers.transport import guarded_client

        with self._lock:
            if self._client is None:
                self._client = guarded_client(self._transport, headers={"user-agent": "mkdocs-imagegen"})
            return self._client

    def with_limit(self, limit: int) -> httpx.Client:
        """Another client through the same transport whose answers may be up to `limit` bytes (the caller closes it)."""
        from mkdocs_imagegen.providers.transport import guarded_client

        return guarded_client(self._transport, limit=limit, headers={"user-agent": "mkdocs-imagegen"})

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def post_json(client: httpx.Client, url: str, *, headers: Mapping[str, str], body: Mapping[str, Any],
              timeout: float, provider: str, model: str, files: list[Any] | None = None) -> httpx.Response:
    """One POST of `body` as JSON, or with `files` as multipart form data (`images/edits`); timeouts and
    connection failures become `TransientError`."""
    return send(client, "POST", url, headers=headers, body=body, timeout=timeout, provider=provider, model=model,
                files=files)


def form_fields(body: Mapping[str, Any]) -> dict[str, str]:
    """A JSON body's fields as multipart text fields."""
    return {name: ("true" if value else "false") if isinstance(value, bool) else str(value)
            for name, value in body.items() if value is not None}


def listed_ids(response: httpx.Response) -> list[str]:
    """The `id`s of a `{"object": "list", "data": [{"id": ...}]}` answer (models, or Azure deployments)."""
    try:
        payload = response.json()
    except ValueError:
        return []
    data = payload.get("data") if isinstance(payload, Mapping) else None
    return [str(item["id"]) for item in data or () if isinstance(item, Mapping) and isinstance(item.get("id"), str)]


def send(client: httpx.Client, method: str, url: str, *, headers: Mapping[str, str],
         body: Mapping[str, Any] | None, timeout: float, provider: str, model: str | None,
         files: list[Any] | None = None) -> httpx.Response:
    """One request, `timeout` its wall-clock limit (GuardedTransport); timeouts and connection failures
    become `TransientError`, a redirect (never followed) or an oversized answer a permanent error."""
    import httpx

    try:
        content: dict[str, Any] = ({"data": form_fields(body or {}), "files": files} if files
                                   else {"json": dict(body) if body is not None else None})
        response = client.request(method, url, headers=dict(headers), timeout=httpx.Timeout(timeout), **content)
    except ImagegenError as error:  # from GuardedTransport: the answer is too large
        error.provider, error.model = error.provider or provider, error.model or model
        raise
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise BadRequestError(f"cannot send a request to {safe_url(url)!r} ({type(exc).__name__}): "
                              "check the configured base URL / endpoint", provider=provider, model=model) from None
    except httpx.TimeoutException as exc:
        raise TransientError(f"timed out after {timeout:g} s ({type(exc).__name__})",
                             provider=provider, model=model) from None
    except httpx.TransportError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__}: {scrub(str(exc), None)})",
                             provider=provider, model=model) from None
    except httpx.RequestError as exc:  # DecodingError and the like: an answer that cannot be read
        raise TransientError(f"sent an answer that cannot be read ({type(exc).__name__}: {scrub(str(exc), None)})",
                             provider=provider, model=model) from None
    if is_redirect(response.status_code):
        # `headers` holds only the credential (`api-key: K` or `authorization: Bearer K`): never quote it back.
        secret = next((value.split()[-1] for value in headers.values() if value.split()), None)
        raise refused_redirect(response.status_code, response.headers.get("location"), secret=secret,
                               fix="check the configured base URL / endpoint", provider=provider, model=model)
    return response
