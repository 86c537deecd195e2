"""OpenAI ``/v1/images/generations`` and model listing, as the openai SDK sees them.

The models served are the catalogue's (see models.py); each request is validated by its entry's
size rule and qualities. Also the request fields and their validation messages, the rate-limit,
moderation and unverified-organization errors.  Azure OpenAI reuses the validation and the payload
(see azure.py).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.catalogue.lookup import ModelInfo, SizeRule
from mkdocs_imagegen.emulator.edits import average_colour, form_fields, uploaded_images
from mkdocs_imagegen.emulator.wire import (
    Call,
    Job,
    Peek,
    Rejected,
    Reply,
    Route,
    bearer,
    event_stream,
    json_reply,
    response_id,
    retry_headers,
    seconds_text,
)

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host as Emulator

# Fixed and obviously fake, so printed exports keep working across restarts of the emulator.
DEFAULT_KEY = "sk-emulator-mkdocs-imagegen-000000000000"

# Listed by GET /v1/models, so a client's image-model filter is exercised, but not image models.
NON_IMAGE_MODELS = ("gpt-5", "text-embedding-3-large")
MODEL_CREATED = 1767225600  # 2026-01-01, the `created` of every listed model
VERIFY_URL = "https://platform.openai.com/settings/organization/general"
# The request fields the emulator knows (openai-python 3.63.0 `image_generate_params.py`, checked 2026-12-07):
# `safety_identifier` replaces the deprecated `user`; `stream` and `partial_images` (0-3) stream the answer.
OPENAI_FIELDS = frozenset(
    {"model", "prompt", "n", "size", "quality", "output_format", "output_compression",
     "background", "moderation", "user", "safety_identifier", "stream", "partial_images"}
)
MAX_SAFETY_IDENTIFIER = 64  # characters, as for `user`


class OpenAIApi:
    """The OpenAI Images API, with ListModels and GetModel."""

    provider = "openai"
    default_key = DEFAULT_KEY
    size_kinds = ("custom", "fixed")
    permissive_sizes = SizeRule()  # custom sizes, as gpt-image-2
    error_faults = frozenset({"moderation_blocked", "unverified_org"})
    answer_faults: frozenset[str] = frozenset()
    routes = (
        Route("POST", re.compile(r"/v1/images/generations")),
        Route("POST", re.compile(r"/v1/images/edits")),
        Route("GET", re.compile(r"/v1/models/?"), "models", "list_models"),
        Route("GET", re.compile(r"/v1/models/(?P<model>[^/:]+)"), "models", "get_model"),
    )
    formats: tuple[str, ...] = ("png", "jpeg", "webp")

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def model_added(self, name: str) -> None:
        return None

    def env(self, url: str, key: str) -> dict[str, str]:
        return {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": f"{url}/v1"}

    def claims(self, call: Call) -> bool:
        return True  # GET /v1/models without a Gemini key is OpenAI's, whatever its credentials

    def peek(self, call: Call) -> Peek:
        prompt, model = call.object.get("prompt"), call.object.get("model")
        return Peek(prompt if isinstance(prompt, str) else None, model if isinstance(model, str) else None)

    def authorize(self, call: Call) -> None:
        key = bearer(call.headers)
        if not key:
            raise Rejected(openai_error(
                401, "You didn't provide an API key. You need to provide your API key in an"
                " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as"
                " the password field (with blank username) if you're accessing the API from your"
                " browser and are prompted for a username. You can obtain an API key from"
                " https://platform.openai.com/account/api-keys.", None,
            ))
        if key != self.emulator.keys[self.provider]:
            raise Rejected(openai_error(
                401, f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at"
                " https://platform.openai.com/account/api-keys.", "invalid_api_key",
            ))

    def accept(self, call: Call) -> Job:
        self.authorize(call)
        body, images = generation_body(call)
        model = body.get("model")
        if model is None:
            raise Rejected(openai_error(400, "Missing required parameter: 'model'.",
                                          "missing_required_parameter", "model"))
        info = self.emulator.models.get(self.provider, model) if isinstance(model, str) else None
        if info is None:  # retired, or never heard of
            raise Rejected(openai_error(
                404, f"The model `{model}` does not exist or you do not have access to it.",
                "model_not_found",
            ))
        return image_job(self.provider, body, info, self.formats, images)

    def error(self, kind: str, job: Job, retry_after: float) -> Reply:
        if kind == "rate_limit":
            headers = {**retry_headers(retry_after), "x-ratelimit-limit-requests": "5",
                       "x-ratelimit-remaining-requests": "0",
                       "x-ratelimit-reset-requests": seconds_text(retry_after)}
            return openai_error(
                429, f"Rate limit reached for {job.model} in organization org-emulator on images per"
                f" minute (IPM): Limit 5, Used 5, Requested 1. Please try again in"
                f" {seconds_text(retry_after)}. Visit https://platform.openai.com/account/rate-limits"
                " to learn more.", "rate_limit_exceeded", kind="requests", headers=headers,
            )
        if kind == "moderation_blocked":
            return openai_error(
                400, "Your request was rejected by the safety system. If you believe this is an error,"
                " contact us at help.openai.com and include the request ID req_emulator.",
                "moderation_blocked", kind="image_generation_user_error",
            )
        if kind == "overloaded":
            return openai_error(503, "The server is overloaded or not ready yet.", None, kind="server_error")
        if kind == "unverified_org":
            return openai_error(
                403, f"Your organization must be verified to use the model `{job.model}`. Please go to:"
                f" {VERIFY_URL} and click on Verify Organization. If you just verified, it can take up"
                " to 15 minutes for access to propagate.", None,
            )
        return openai_error(
            500, "The server had an error while processing your request. Sorry about that!", None,
            kind="server_error",
        )

    def success(self, job: Job, kind: str | None) -> Reply:
        if job.stream:
            return self.streamed(job, kind)
        return json_reply(200, self.payload(job, kind), {"x-request-id": f"req_{response_id()[:16]}"})

    def streamed(self, job: Job, kind: str | None) -> Reply:
        """`stream: true`: `partial_images` interim images, then the final one, as server-sent events
        (`image_generation.*`, or `image_edit.*` for an edit), each with the answer's fields."""
        payload = self.payload(job, kind)
        prefix = "image_edit" if job.references else "image_generation"
        common = {key: payload[key] for key in ("background", "output_format", "quality", "size")}
        common["created_at"] = payload["created"]
        partial = f"{prefix}.partial_image"
        events = [(partial, {"type": partial, "b64_json": job.image_b64(None, thought=True),
                             "partial_image_index": index, **common}) for index in range(job.partial_images)]
        final = {"type": f"{prefix}.completed", "b64_json": payload["data"][0]["b64_json"], "usage": payload["usage"],
                 **common}
        return event_stream([*events, (f"{prefix}.completed", final)])

    def payload(self, job: Job, kind: str | None) -> dict[str, Any]:
        """The success body (Azure's too)."""
        input_tokens = max(1, len(job.prompt) // 4)
        output_tokens = _image_tokens(job) * job.n
        return {
            "created": int(time.time()),
            "data": [self.image_item(job, kind, i) for i in range(job.n)],
            "background": "transparent" if job.transparent else "opaque",
            "output_format": job.fmt,
            "quality": "medium" if job.quality == "auto" else job.quality,
            "size": f"{job.width}x{job.height}",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": input_tokens},
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }

    def image_item(self, job: Job, kind: str | None, index: int) -> dict[str, Any]:
        """One entry of the body's "data" (Azure adds its content-filter results)."""
        return {"b64_json": job.image_b64(kind, index)}

    def list_models(self, call: Call) -> Reply:
        """The served image models and a few text models (retired ones are gone from the list)."""
        self.authorize(call)
        names = [*self.emulator.models.names(self.provider), *NON_IMAGE_MODELS]
        return json_reply(200, {"object": "list", "data": [_openai_model_info(m) for m in names]})

    def get_model(self, call: Call) -> Reply:
        self.authorize(call)
        name = call.params["model"]
        if self.emulator.models.get(self.provider, name) is None and name not in NON_IMAGE_MODELS:
            return openai_error(404, f"The model '{name}' does not exist", "model_not_found", "model")
        return json_reply(200, _openai_model_info(name))


def _openai_model_info(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}


def _image_tokens(job: Job) -> int:
    per_megapixel = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 7400, "max": 16640}.get(job.quality, 1056)
    return max(16, round(per_megapixel * job.width * job.height / (1024 * 1024)))


def require_body(call: Call) -> dict[str, Any]:
    if call.bad_json or not isinstance(call.body, dict):
        raise Rejected(openai_error(
            400, "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but"
            " what was sent was not valid JSON.)", None,
        ))
    return call.body


def reject_unknown_fields(body: dict[str, Any]) -> None:
    for name in body:
        if name not in OPENAI_FIELDS:
            raise Rejected(openai_error(400, f"Unknown parameter: '{name}'.", "unknown_parameter", name))


EDIT_FIELDS = OPENAI_FIELDS | {"image", "image[]", "input_fidelity"}
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def generation_body(call: Call) -> tuple[dict[str, Any], list[bytes] | None]:
    """The checked body of `images/generations` (JSON), or of `images/edits` with its images (multipart)."""
    if call.path.endswith("/images/edits"):
        return edit_body(call)
    body = require_body(call)
    reject_unknown_fields(body)
    return body, None


def image_job(provider: str, body: dict[str, Any], info: ModelInfo, formats: tuple[str, ...],
              images: list[bytes] | None) -> Job:
    """The Job of a generation, or of an edit drawn in its images' colour."""
    job = openai_job(provider, body, info, formats)
    if images is not None:
        with_references(job, body, info, images)
    return job


def edit_body(call: Call) -> tuple[dict[str, Any], list[bytes]]:
    """The text fields and images of an `images/edits` request (multipart form data), checked as OpenAI does."""
    if not call.form:
        raise Rejected(openai_error(
            400, "Invalid Content-Type header (application/json), expected multipart/form-data. (HINT: If"
            " you're using curl, you can pass -F 'image=@path/to/image.png')", None))
    if call.body is None:
        raise Rejected(openai_error(400, "We could not parse the multipart form body of your request.", None))
    body = form_fields(call, ("n", "output_compression", "partial_images"))
    if isinstance(body.get("stream"), str):  # a form's boolean is text
        body["stream"] = {"true": True, "false": False}.get(str(body["stream"]).lower(), body["stream"])
    for name in [*body, *call.files]:
        if name not in EDIT_FIELDS:
            raise Rejected(openai_error(400, f"Unknown parameter: '{name}'.", "unknown_parameter", name))
    for name, uploads in call.files.items():
        for index, upload in enumerate(uploads):
            if upload.content_type not in IMAGE_TYPES:
                param = f"{name.removesuffix('[]')}[{index}]" if name.endswith("[]") else name
                raise Rejected(openai_error(
                    400, f"Invalid file '{param}': unsupported mimetype ('{upload.content_type}'). Supported file"
                    " formats are 'image/jpeg', 'image/png', and 'image/webp'.", "unsupported_file_mimetype", param))
    images = uploaded_images(call, "image", "image[]")
    if not images:
        raise Rejected(openai_error(400, "Missing required parameter: 'image'.", "missing_required_parameter", "image"))
    return body, images


def with_references(job: Job, body: dict[str, Any], info: ModelInfo, images: list[bytes]) -> None:
    """Check the edit's images against the model and draw its answer in their average colour."""
    rule = info.references
    if not rule.takes_references:
        raise Rejected(openai_error(400, f"The model '{info.name}' does not support image edits.",
                                      "invalid_model", "model"))
    if "input_fidelity" in body and not rule.fidelity:
        raise Rejected(openai_error(
            400, f"The model '{info.name}' does not support the 'input_fidelity' parameter.",
            "invalid_input_fidelity_model", "input_fidelity", kind="image_generation_user_error"))
    if len(images) > rule.max_images:  # OpenAI documents the limit (16), not this answer: its usual array error
        raise Rejected(openai_error(
            400, f"Invalid 'image': array too long. Expected an array with maximum length {rule.max_images}, but got"
            f" an array with length {len(images)} instead.", "array_above_max_length", "image"))
    job.tint = average_colour(images, lambda index: Rejected(openai_error(
        400, f"Invalid image file or mode for image {index}, please check your image file. If you believe this is"
        " an error, contact us at help.openai.com and include the request ID req_emulator.",
        "invalid_image_file", kind="image_generation_user_error")), modes=("RGB", "RGBA"))
    job.references = len(images)


def _invalid_value(param: str, message: str) -> Rejected:
    return Rejected(openai_error(400, message, "invalid_value", param))


def _choice(body: dict[str, Any], param: str, allowed: tuple[str, ...], default: str) -> str:
    if param not in body:
        return default
    value = body[param]
    if value not in allowed:
        quoted = [f"'{a}'" for a in allowed]
        options = " and ".join(quoted) if len(quoted) == 2 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
        raise _invalid_value(param, f"Invalid value: '{value}'. Supported values are: {options}.")
    return value


def openai_job(provider: str, body: dict[str, Any], info: ModelInfo, formats: tuple[str, ...]) -> Job:
    """The Job for a body naming `info`'s model, validated by its size rule and qualities."""
    prompt = body.get("prompt")
    if prompt is None:
        raise Rejected(openai_error(400, "Missing required parameter: 'prompt'.",
                                      "missing_required_parameter", "prompt"))
    if not isinstance(prompt, str):
        raise Rejected(openai_error(400, "Invalid type for 'prompt': expected a string.",
                                      "invalid_type", "prompt"))
    if len(prompt) > 32000:
        raise Rejected(openai_error(
            400, "Invalid 'prompt': string too long. Expected a string with maximum length 32000, but"
            f" got a string with length {len(prompt)} instead.", "string_above_max_length", "prompt",
        ))
    width, height = _openai_size(info.sizes, body.get("size", "auto"))
    fmt = _choice(body, "output_format", formats, "png")
    transparent = _choice(body, "background", ("transparent", "opaque", "auto"), "auto") == "transparent"
    if transparent and fmt == "jpeg":
        raise _invalid_value("background", "Transparent background is not supported for jpeg output format.")
    _choice(body, "moderation", ("low", "auto"), "auto")
    _check_int(body, "output_compression", 0, 100)
    quality = _choice(body, "quality", info.qualities, "auto")
    n = _check_int(body, "n", 1, 10) or 1
    job = Job(provider, info.name, prompt, width, height, fmt, quality, n, transparent)
    _streaming(body, job)
    return job


def _streaming(body: dict[str, Any], job: Job) -> None:
    """Check `stream`, `partial_images` and `safety_identifier`, and note how the answer is sent."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise Rejected(openai_error(400, "Invalid type for 'stream': expected a boolean.", "invalid_type", "stream"))
    identifier = body.get("safety_identifier")
    if identifier is not None and not isinstance(identifier, str):
        raise Rejected(openai_error(400, "Invalid type for 'safety_identifier': expected a string.", "invalid_type",
                                    "safety_identifier"))
    if isinstance(identifier, str) and len(identifier) > MAX_SAFETY_IDENTIFIER:
        raise Rejected(openai_error(
            400, f"Invalid 'safety_identifier': string too long. Expected a string with maximum length "
            f"{MAX_SAFETY_IDENTIFIER}, but got a string with length {len(identifier)} instead.",
            "string_above_max_length", "safety_identifier"))
    job.partial_images = _check_int(body, "partial_images", 0, 3) or 0
    job.stream = bool(stream)


def _check_int(body: dict[str, Any], param: str, low: int, high: int) -> int | None:
    value = body.get(param)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid_value(param, f"Invalid '{param}': expected an integer between {low} and {high},"
                                    f" but got {value!r} instead.")
    return value


def _openai_size(rule: SizeRule, size: Any) -> tuple[int, int]:
    """(width, height) for `size`, if the model's rule takes it ("auto" is a square)."""
    if size == "auto":
        return 1024, 1024
    found = re.fullmatch(r"(\d{1,5})x(\d{1,5})", size) if isinstance(size, str) else None
    width, height = (int(found[1]), int(found[2])) if found else (0, 0)
    if found and rule.accepts(width, height):
        return width, height
    if rule.kind == "fixed":
        sizes = ", ".join(f"'{fixed}'" for fixed in rule.fixed)
        raise _invalid_value("size", f"Invalid value: '{size}'. Supported values are: {sizes}, and 'auto'.")
    short = f", both edges at least {rule.min_edge} pixels" if rule.min_edge > 1 else ""
    raise _invalid_value(
        "size", f"Invalid value: '{size}'. Size must be 'auto' or WIDTHxHEIGHT with both edges multiples of"
        f" {rule.edge_multiple}{short}, the long edge at most {rule.max_edge} pixels, an aspect ratio of at most"
        f" {rule.max_ratio:g}:1 and between {rule.min_pixels} and {rule.max_pixels} pixels in total.",
    )


def openai_error(
    status: int, message: str, code: str | None, param: str | None = None,
    kind: str = "invalid_request_error", headers: dict[str, str] | None = None,
) -> Reply:
    error = {"message": message, "type": kind, "param": param, "code": code}
    return json_reply(status, {"error": error}, headers)


def _mask_key(key: str) -> str:
    """Mask a key like OpenAI's error message does: only the last four characters survive."""
    prefix = "sk-" if key.startswith("sk-") else ""
    hidden = max(len(key) - len(prefix) - 4, 0)
    return prefix + "*" * hidden + key[-4:] if len(key) > 8 else "*" * len(key)
