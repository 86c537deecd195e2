"""The Responses API (`POST {base}/responses`), for OpenAI text requests; its body and its answer are shared
with Azure AI Foundry's v1 route (foundry_text.py).

The body: `instructions`, then one user message whose `input` holds an `input_text` part (and, for alt
text, an `input_image` part as a base64 data URL); `store: false`, so the provider keeps no copy of it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.errors import TransientError
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.answers import scrub
from mkdocs_imagegen.providers.text import TextAnswer, TextRequest

if TYPE_CHECKING:
    import httpx

    from mkdocs_imagegen.providers.openai import OpenAIProvider


def responses_body(request: TextRequest, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "input_text", "text": request.text}]
    if request.image is not None:
        data = base64.b64encode(request.image).decode("ascii")
        content.append({"type": "input_image", "image_url": f"data:{request.image_mime};base64,{data}"})
    body: dict[str, Any] = {"model": model, "instructions": request.instructions,
                            "input": [{"role": "user", "content": content}], "store": False}
    if request.reasoning_effort:
        body["reasoning"] = {"effort": request.reasoning_effort}
    return body


def answer(response: httpx.Response, *, provider: str, model: str) -> TextAnswer:
    """The `output_text` parts of the answer's messages, or its refusal."""
    payload = common.json_answer(response, provider=provider, model=model, error=TransientError)
    if not isinstance(payload, Mapping):
        raise TransientError("returned an unexpected JSON document", provider=provider, model=model)
    usage = payload.get("usage") if isinstance(payload.get("usage"), Mapping) else {}
    tokens = (_count(usage.get("input_tokens")), _count(usage.get("output_tokens")))
    texts, refusals = [], []
    for item in payload.get("output") or ():
        if not isinstance(item, Mapping) or item.get("type") != "message":
            continue
        for part in item.get("content") or ():
            if isinstance(part, Mapping) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, Mapping) and part.get("type") == "refusal":
                refusals.append(str(part.get("refusal") or ""))
    if refusals and not "".join(texts).strip():
        return TextAnswer(None, "the model refused", *tokens)
    status = payload.get("status")
    if status == "incomplete" and not "".join(texts).strip():
        details = payload.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        why = scrub(str(reason), None, limit=80) if reason else "no reason given"
        return TextAnswer(None, f"the answer is incomplete ({why})", *tokens)
    return TextAnswer("".join(texts), None, *tokens)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ask(provider: OpenAIProvider, request: TextRequest, *, timeout: float) -> TextAnswer:
    secret, source = provider.api_key(request.model)
    response = common.post_json(provider.client(), f"{provider.base_url}/responses",
                                headers={"authorization": f"Bearer {secret}"},
                                body=responses_body(request, request.model), timeout=timeout,
                                provider=provider.name, model=request.model)
    if response.status_code != 200:
        raise provider.error_for(response, request.model, secret, source)
    return answer(response, provider=provider.name, model=request.model)
