"""Foundry's MAI image models: ``POST {endpoint}/mai/v1/images/generations`` with width and height.

The body is `{model (the deployment), prompt, width, height}` (plus `auto_aspect_ratio` and
`web_grounding` on MAI-Image-2.6 and 2.6-Flash only); each edge must be at least the model rule's
`min_edge` (768) and width x height at most its `max_pixels` (1,048,576); the answer is always PNG.
Routing, credentials and faults are `AzureApi`'s (azure.py); this module validates the body and
builds the answer. Microsoft documents the 400 causes but not the bodies: the messages here name the
limit or the parameter, in Azure's `{"error": {"code", "message"}}` shape.
"""

from __future__ import annotations

import time
from typing import Any

from ..catalogue import ModelInfo
from .wire import Job, Rejected, json_reply

MAI_PATH = "/azure/mai/v1/images/generations"
MAI_FIELDS = ("model", "prompt", "width", "height")
MAI_26_FIELDS = ("auto_aspect_ratio", "web_grounding")  # booleans, documented for the 2.6 models only
MAI_26_MODELS = ("MAI-Image-2.6", "MAI-Image-2.6-Flash")
MAX_PROMPT_CHARS = 128_000  # "Maximum context length: 32,000 tokens", about four characters a token


def bad_request(message: str, code: str = "BadRequest") -> Rejected:
    return Rejected(json_reply(400, {"error": {"code": code, "message": message}}))


def fields_for(info: ModelInfo) -> tuple[str, ...]:
    """The body fields the model takes (a model the catalogue does not know is given every field)."""
    extra = MAI_26_FIELDS if info.name in MAI_26_MODELS or not info.known else ()
    return (*MAI_FIELDS, *extra)


def mai_job(body: dict[str, Any], info: ModelInfo, deployment: str) -> Job:
    """The Job for a MAI generation body whose deployment serves `info`, or Azure's 400."""
    allowed = fields_for(info)
    unknown = [name for name in body if name not in allowed]
    if unknown:
        raise bad_request(f"Invalid parameters: {', '.join(unknown)}")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("Missing required parameter: prompt" if prompt is None
                          else "Invalid parameters: prompt must be a non-empty string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise bad_request("Invalid parameters: prompt exceeds the maximum context length of 32000 tokens")
    for flag in MAI_26_FIELDS:
        if flag in body and not isinstance(body[flag], bool):
            raise bad_request(f"Invalid parameters: {flag} must be a boolean")
    width, height = _edge(body, "width"), _edge(body, "height")
    rule = info.sizes
    if min(width, height) < rule.min_edge:
        raise bad_request(f"Invalid size {width}x{height}: width and height must each be at least"
                          f" {rule.min_edge} pixels")
    if width * height > rule.max_pixels:
        raise bad_request(f"Invalid size {width}x{height}: width x height ({width * height:,} pixels) must not"
                          f" exceed {rule.max_pixels:,} pixels")
    return Job("foundry", info.name, prompt, width, height, "png", quality="auto", deployment=deployment,
               route="mai")


def _edge(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        raise bad_request(f"Missing required parameter: {name}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Invalid parameters: {name} must be an integer")
    return value


def mai_payload(job: Job, kind: str | None) -> dict[str, Any]:
    """The success body: one PNG, exactly width x height (broken as the fault kind asks)."""
    return {"created": int(time.time()), "data": [{"b64_json": job.image_b64(kind)}]}
