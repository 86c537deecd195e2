"""What the Gemini API answers, read strictly: the image among the parts, or the reason there is none,
and the retry and quota facts in its errors. Used by `google.py`.

The raw JSON is parsed here rather than through the SDK's types: the SDK's Gemini-API converter
drops `finishMessage`, and broken base64 would surface as a pydantic error from deep inside it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mkdocs_imagegen.errors import ContentRefusedError, ImagegenError, InvalidImageError
from mkdocs_imagegen.providers.answers import check_complete, scrub
from mkdocs_imagegen.providers.answers import retry_after as retry_after_headers

MAX_QUOTED_TEXT = 200
# A finish reason that is not a refusal: an empty answer with one of these is a glitch, not a "no".
NOT_REFUSALS = {"STOP", "MAX_TOKENS", "FINISH_REASON_UNSPECIFIED", "MALFORMED_RESPONSE",
                "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
                "MISSING_THOUGHT_SIGNATURE", "CONTINUATION"}
_DELAY_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s\s*$")
_LIMIT_ZERO_PATTERN = re.compile(r"\blimit:\s*0\b")


# --- response parsing ------------------------------------------------------------------------------


@dataclass
class GeminiImage:
    data: bytes
    mime_type: str
    details: dict[str, Any] = field(default_factory=dict)


def pick(mapping: Any, camel: str, snake: str | None = None) -> Any:
    """A field of a proto-JSON object, in camelCase or snake_case."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(camel)
    return mapping.get(snake) if value is None and snake else value


def parse_body(body: str | bytes | None, *, provider: str, model: str) -> Mapping[str, Any]:
    try:
        payload = json.loads(body or "")
    except ValueError:
        raise InvalidImageError("returned a response that is not valid JSON (truncated?)",
                                provider=provider, model=model) from None
    if not isinstance(payload, Mapping):
        raise InvalidImageError("returned an unexpected JSON document", provider=provider, model=model)
    return payload


def first_candidate(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    candidates = payload.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        return candidates[0]
    return {}


def candidate_parts(candidate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = pick(pick(candidate, "content"), "parts")
    return [part for part in parts if isinstance(part, Mapping)] if isinstance(parts, list) else []


def inline_image(part: Mapping[str, Any]) -> Mapping[str, Any] | None:
    blob = pick(part, "inlineData", "inline_data")
    if not isinstance(blob, Mapping):
        return None
    mime_type = str(pick(blob, "mimeType", "mime_type") or "image/png")
    return blob if mime_type.startswith("image/") else None


def decode_base64(text: Any, *, provider: str, model: str) -> bytes:
    """Strict base64 (standard or URL-safe alphabet); anything truncated or invalid is refused."""
    if not isinstance(text, str) or not text:
        raise InvalidImageError("returned an image part with no bytes", provider=provider, model=model)
    for altchars in (None, b"-_"):
        try:
            data = base64.b64decode(text, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if not data:
            break
        return check_complete(data, provider=provider, model=model)
    raise InvalidImageError("returned truncated or invalid base64 image data", provider=provider, model=model)


def extract_image(payload: Mapping[str, Any], *, provider: str, model: str,
                  secret: str | None = None) -> GeminiImage:
    """The last non-thought inline image; otherwise the refusal or glitch that explains its absence.

    `secret` (the API key) is redacted from every piece of the model's text that is quoted."""
    parts = candidate_parts(first_candidate(payload))
    finals = [part for part in parts if not part.get("thought") and inline_image(part) is not None]
    if not finals:
        raise no_image_error(payload, parts, provider=provider, model=model, secret=secret)
    blob = inline_image(finals[-1])
    assert blob is not None
    data = decode_base64(pick(blob, "data"), provider=provider, model=model)
    skipped = sum(1 for part in parts if part.get("thought") and inline_image(part) is not None)
    return GeminiImage(data=data, mime_type=str(pick(blob, "mimeType", "mime_type") or "image/png"),
                       details=response_details(payload, parts, skipped=skipped, secret=secret))


def no_image_error(payload: Mapping[str, Any], parts: list[Mapping[str, Any]], *, provider: str,
                   model: str, secret: str | None = None) -> ImagegenError:
    feedback = pick(payload, "promptFeedback", "prompt_feedback")
    block = pick(feedback, "blockReason", "block_reason")
    if block and block != "BLOCKED_REASON_UNSPECIFIED":
        text = pick(feedback, "blockReasonMessage", "block_reason_message")
        message = f": {quote_text(text, secret)}" if text else ""
        return ContentRefusedError(f"refused the prompt: blockReason {block}{message}"
                                   " (see docs: troubleshooting#content-refused)",
                                   provider=provider, model=model)
    candidate = first_candidate(payload)
    finish = pick(candidate, "finishReason", "finish_reason")
    if finish and finish not in NOT_REFUSALS:
        text = pick(candidate, "finishMessage", "finish_message")
        message = f": {quote_text(text, secret)}" if text else ""
        return ContentRefusedError(f"returned no image: finishReason {finish}{message}"
                                   " (see docs: troubleshooting#content-refused)",
                                   provider=provider, model=model)
    text = answer_text(parts)
    if text:
        return ContentRefusedError(f"answered with text instead of an image: {quote_text(text, secret)!r}"
                                   " (see docs: troubleshooting#content-refused)",
                                   provider=provider, model=model)
    reason = f" (finishReason {finish})" if finish else ""
    return InvalidImageError(f"returned no image and no reason{reason}", provider=provider, model=model)


def answer_text(parts: list[Mapping[str, Any]]) -> str:
    """The model's visible text (thought summaries left out)."""
    return " ".join(str(part["text"]) for part in parts
                    if part.get("text") and not part.get("thought")).strip()


def quote_text(text: Any, secret: str | None = None, limit: int = MAX_QUOTED_TEXT) -> str:
    """The model's own words, fit to quote: one line, shortened, the key redacted."""
    return scrub(str(text or ""), secret, limit)


def response_details(payload: Mapping[str, Any], parts: list[Mapping[str, Any]], *,
                     skipped: int, secret: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for camel, key in (("responseId", "response_id"), ("modelVersion", "model_version"),
                       ("usageMetadata", "usage")):
        value = pick(payload, camel, key if key != "usage" else "usage_metadata")
        if value is not None:
            details[key] = value
    finish = pick(first_candidate(payload), "finishReason", "finish_reason")
    if finish:
        details["finish_reason"] = finish
    text = answer_text(parts)
    if text:
        details["text"] = quote_text(text, secret)
    if skipped:
        details["thought_images_skipped"] = skipped
    return details


# --- error mapping ---------------------------------------------------------------------------------


def error_body(exc: Any) -> Mapping[str, Any]:
    """The `error` object of an SDK APIError (its `.details` is the whole JSON answer)."""
    details = getattr(exc, "details", None)
    if isinstance(details, Mapping):
        inner = details.get("error")
        return inner if isinstance(inner, Mapping) else details
    return {}


def error_details(exc: Any) -> list[Mapping[str, Any]]:
    details = error_body(exc).get("details")
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def error_reasons(exc: Any) -> set[str]:
    return {str(d["reason"]) for d in error_details(exc) if d.get("reason")}


def retry_delay(exc: Any) -> float | None:
    """RetryInfo `retryDelay` ("29.7s"), else a Retry-After header, else None."""
    for detail in error_details(exc):
        match = _DELAY_PATTERN.match(str(detail.get("retryDelay") or ""))
        if match:
            return float(match.group(1))
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None:
        try:
            return retry_after_headers({k.lower(): v for k, v in headers.items()})
        except AttributeError:
            return None
    return None


def is_zero_quota(exc: Any) -> bool:
    if _LIMIT_ZERO_PATTERN.search(str(getattr(exc, "message", "") or "")):
        return True
    for detail in error_details(exc):
        for violation in detail.get("violations") or ():
            if isinstance(violation, Mapping) and str(violation.get("quotaValue", "")).strip() == "0":
                return True
    return False
