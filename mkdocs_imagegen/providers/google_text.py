"""Gemini text requests through the google-genai SDK: `generateContent` on a text model, the instructions
as the system instruction, the page as a text part (and the banner as an inline image part, for alt text).
The same client, credentials and error mapping as the image requests (google.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.providers.answers import scrub
from mkdocs_imagegen.providers.gemini_answers import NOT_REFUSALS, candidate_parts, first_candidate, parse_body, pick
from mkdocs_imagegen.providers.text import TextAnswer, TextRequest

if TYPE_CHECKING:
    from mkdocs_imagegen.providers.google import GoogleProvider


def contents(request: TextRequest) -> Any:
    from google.genai import types

    parts = []
    if request.image is not None:
        parts.append(types.Part.from_bytes(data=request.image, mime_type=request.image_mime))
    parts.append(types.Part.from_text(text=request.text))
    return [types.Content(role="user", parts=parts)]


def ask(provider: GoogleProvider, request: TextRequest, *, timeout: float) -> TextAnswer:
    from google.genai import types

    config = types.GenerateContentConfig(
        system_instruction=request.instructions,
        http_options=types.HttpOptions(timeout=max(1, math.ceil(timeout * 1000))),  # milliseconds
        should_return_http_response=True,  # the raw body, read by gemini_answers as for images
    )
    try:
        client = provider.client(request.model)
        response = client.models.generate_content(model=request.model, contents=contents(request), config=config)
    except Exception as exc:
        raise provider.error_for(exc, request.model, timeout) from None
    raw = response.sdk_http_response.body if response.sdk_http_response else None
    return answer(parse_body(raw, provider=provider.name, model=request.model))


def answer(payload: Mapping[str, Any]) -> TextAnswer:
    """The text of the first candidate (thought parts left out), or why there is none."""
    usage = pick(payload, "usageMetadata", "usage_metadata")
    tokens_in = _count(pick(usage, "promptTokenCount", "prompt_token_count"))
    tokens_out = _count(pick(usage, "candidatesTokenCount", "candidates_token_count"))
    thoughts = _count(pick(usage, "thoughtsTokenCount", "thoughts_token_count"))
    if tokens_out is not None and thoughts:
        tokens_out += thoughts  # billed as output
    blocked = pick(pick(payload, "promptFeedback", "prompt_feedback"), "blockReason", "block_reason")
    if blocked:
        return TextAnswer(None, f"the request was blocked ({scrub(str(blocked), None, limit=80)})", tokens_in,
                          tokens_out)
    candidate = first_candidate(payload)
    text = "".join(str(part.get("text")) for part in candidate_parts(candidate)
                   if isinstance(part.get("text"), str) and not part.get("thought"))
    finish = str(pick(candidate, "finishReason", "finish_reason") or "")
    if not text.strip() and finish and finish not in NOT_REFUSALS:
        return TextAnswer(None, f"the answer was stopped ({scrub(finish, None, limit=80)})", tokens_in, tokens_out)
    return TextAnswer(text, None, tokens_in, tokens_out)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
