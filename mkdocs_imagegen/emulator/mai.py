"""Foundry's MAI image models: ``POST {endpoint}/mai/v1/images/generations`` with width and height, and
``POST {endpoint}/mai/v1/images/edits`` (multipart: model, prompt and one JPEG or PNG `image`; no size).

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

from mkdocs_imagegen.catalogue.lookup import ModelInfo
from mkdocs_imagegen.emulator.edits import average_colour, form_fields, uploaded_images
from mkdocs_imagegen.emulator.wire import Call, Job, Rejected, json_reply

MAI_PATH = "/azure/mai/v1/images/generations"
MAI_EDIT_PATH = "/azure/mai/v1/images/edits"
MAI_EDIT_TYPES = ("image/png", "image/jpeg")
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


def mai_edit_job(call: Call, info: ModelInfo, deployment: str) -> Job:
    """The Job for a MAI edit (the form's fields already authorized and its deployment found), or Azure's 400.
    The answer keeps the reference's aspect ratio, at most `max_pixels`."""
    rule = info.references
    if not rule.takes_references:
        raise bad_request(f"The model {info.name} does not support image edits.", "OperationNotSupported")
    fields = form_fields(call, ())
    unknown = [name for name in [*fields, *call.files] if name not in (*fields_for(info), "image")
               or name in ("width", "height")]
    if unknown:
        raise bad_request(f"Invalid parameters: {', '.join(unknown)}")
    images = uploaded_images(call, "image")
    if not images:
        raise bad_request("Missing required parameter: image")
    if len(images) > rule.max_images:
        raise bad_request(f"Invalid parameters: image accepts at most {rule.max_images} file(s), got {len(images)}")
    if any(upload.content_type not in MAI_EDIT_TYPES for upload in call.files["image"]):
        raise bad_request("Invalid image: the image must be in JPEG or PNG format", "InvalidImage")
    tint = average_colour(images, lambda index: bad_request(
        "Invalid image: the image could not be decoded; it must be a JPEG or PNG file", "InvalidImage"))
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("Missing required parameter: prompt")
    width, height = _edit_size(images[0], info.sizes.max_pixels)
    job = Job("foundry", info.name, prompt, width, height, "png", quality="auto", deployment=deployment,
              route="mai-edit")
    job.tint, job.references = tint, len(images)
    return job


def _edit_size(reference: bytes, max_pixels: int) -> tuple[int, int]:
    import io

    from PIL import Image

    width, height = Image.open(io.BytesIO(reference)).size
    scale = (max_pixels / (width * height)) ** 0.5
    return max(16, int(width * scale) // 16 * 16), max(16, int(height * scale) // 16 * 16)


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
