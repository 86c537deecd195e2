"""A loopback fake of the three image APIs mkdocs-imagegen talks to.

The emulator speaks the real wire protocols of Google Gemini (``generateContent``), OpenAI
(``/v1/images/generations``) and Azure OpenAI / AI Foundry (deployment and v1 paths, api-key or
Entra ID bearer tokens from an App Service style managed-identity endpoint), so the real SDKs and
HTTP clients can be tested end to end without a network.  Faults reproduce the byte-level shapes
the real services produce when things go wrong (rate limits, overload, refusals, broken images,
dropped connections).

Only the standard library and Pillow are used here.  The server binds to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import json
import math
import re
import secrets
import shlex
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import Image, ImageDraw, ImageFont

HOST = "127.0.0.1"
PROVIDERS = ("google", "openai", "foundry")

# Fixed, obviously fake credentials: exports printed by `mkdocs-imagegen emulator` keep working
# across restarts of the emulator.
DEFAULT_KEYS = {
    "google": "AIzaSyEmulator-mkdocs-imagegen-0000000",
    "openai": "sk-emulator-mkdocs-imagegen-000000000000",
    "foundry": "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e",
}
IDENTITY_SECRET = "emulator-identity-header-secret"
TOKEN_RESOURCE = "https://cognitiveservices.azure.com"
TOKEN_LIFETIME = 3600

# ---------------------------------------------------------------------------------------------
# Model facts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GeminiModel:
    display: str
    mime: str
    sizes: tuple[str, ...]
    honours_size: bool = True
    image_tokens: int = 1120


_FLASH_31 = _GeminiModel("Nano Banana 2 (Gemini 3.1 Flash Image)", "image/jpeg", ("512", "1K", "2K", "4K"))
GEMINI_MODELS = {
    "gemini-3.1-flash-image-preview": _FLASH_31,
    "gemini-3.1-flash-image": _FLASH_31,
    "gemini-2.5-flash-image": _GeminiModel(
        "Nano Banana (Gemini 2.5 Flash Image)", "image/png", ("1K", "2K", "4K"), False, 1290
    ),
    "gemini-3-pro-image-preview": _GeminiModel(
        "Nano Banana Pro (Gemini 3 Pro Image)", "image/png", ("1K", "2K", "4K")
    ),
}
# Output size of the 1K tier by aspect ratio; 2K doubles, 4K quadruples, 512 halves.
GEMINI_1K = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
}
GEMINI_SIZE_FACTORS = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}

OPENAI_MODELS = ("gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini")
FIXED_SIZES = ("1024x1024", "1024x1536", "1536x1024")
OPENAI_FIELDS = frozenset(
    {"model", "prompt", "n", "size", "quality", "output_format", "output_compression",
     "background", "moderation", "user"}
)
QUALITIES = ("low", "medium", "high", "auto")
AZURE_API_VERSIONS = ("2025-04-01-preview", "2025-03-01-preview", "2024-10-21", "2024-02-01")
AZURE_V1_API_VERSIONS = (None, "v1", "preview")
DEFAULT_DEPLOYMENTS = {m: m for m in OPENAI_MODELS}

# ---------------------------------------------------------------------------------------------
# Faults and records
# ---------------------------------------------------------------------------------------------

# Kinds answered at once with an error (or a dropped connection).
_ERROR_KINDS = frozenset(
    {"rate_limit", "quota_zero", "server_error", "overloaded", "reset",
     "moderation_blocked", "content_policy_violation"}
)
_GEMINI_ONLY = frozenset({"quota_zero", "thought_images", "block_reason", "image_safety", "text_only"})
FAULT_KINDS = _ERROR_KINDS | _GEMINI_ONLY | {"slow", "truncated_b64", "not_image", "bomb"}
_KIND_PROVIDERS: dict[str, frozenset[str]] = {
    **{kind: frozenset({"google"}) for kind in _GEMINI_ONLY},
    "moderation_blocked": frozenset({"openai"}),
    "content_policy_violation": frozenset({"foundry"}),
}


@dataclass
class Fault:
    """A scripted failure for matching image-generation requests.

    provider: "google" | "openai" | "foundry" | None (any provider the kind exists for).
    times: how many matching requests it applies to; -1 means forever.
    match: substring the prompt must contain (None: any prompt).
    retry_after: seconds advertised by rate-limit kinds.  delay: seconds added by "slow".
    """

    provider: str | None = None
    kind: str = "rate_limit"
    times: int = 1
    match: str | None = None
    retry_after: float = 1.0
    delay: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; known: {PROVIDERS}")
        allowed = _KIND_PROVIDERS.get(self.kind)
        if self.provider and allowed and self.provider not in allowed:
            raise ValueError(f"fault {self.kind!r} exists only for {sorted(allowed)}")
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be a positive count or -1 (forever)")

    def applies(self, provider: str, prompt: str) -> bool:
        if self.provider not in (None, provider):
            return False
        if provider not in _KIND_PROVIDERS.get(self.kind, PROVIDERS):
            return False
        return self.match is None or self.match in prompt


@dataclass
class RecordedRequest:
    """One request the emulator answered.

    kind is "image" (image generation), "models", "token" or "unknown".  status is 0 when the
    connection was dropped without an answer ("reset" fault, or the emulator stopping).  fault is
    the fault kind applied, or "max_in_flight" when refused for exceeding ``max_in_flight``.
    """

    provider: str | None
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None
    prompt: str | None = None
    model: str | None = None
    status: int = 0
    started: float = 0.0
    finished: float = 0.0
    fault: str | None = None
    kind: str = "unknown"
    deployment: str | None = None


# ---------------------------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: str | None = None  # "reset": TCP RST, "drop": plain close; both without an answer


class _Rejected(Exception):
    """Raised by request validation: carries the provider's error reply."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    body = json.dumps(payload).encode()
    return _Reply(status, body, {"content-type": "application/json", **(headers or {})})


def _gemini_error(code: int, status: str, message: str, details: list[Any] | None = None) -> _Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return _json_reply(code, {"error": error}, {"content-type": "application/json; charset=UTF-8"})


def _openai_error(
    status: int, message: str, code: str | None, param: str | None = None,
    kind: str = "invalid_request_error", headers: dict[str, str] | None = None,
) -> _Reply:
    error = {"message": message, "type": kind, "param": param, "code": code}
    return _json_reply(status, {"error": error}, headers)


def _azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _json_reply(status, {"error": {"code": code, "message": message}}, headers)


def _retry_headers(retry_after: float) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(retry_after))),
        "retry-after-ms": str(round(retry_after * 1000)),
    }


def _seconds_text(seconds: float) -> str:
    """29.7 -> "29.7s", 2.0 -> "2s" (the google.protobuf.Duration JSON form)."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

NOT_IMAGE = b"<html><body>not an image</body></html>"


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError, TypeError):  # Pillow without FreeType
        return ImageFont.load_default()


@functools.lru_cache(maxsize=32)
def render_image(
    width: int, height: int, colour: tuple[int, int, int], label: str, fmt: str, transparent: bool = False
) -> bytes:
    """Draw a cheap but real image: a flat colour, two shapes and a label."""
    accent = tuple(255 - c for c in colour)
    middle = (colour[1], colour[2], colour[0])
    if transparent:
        image = Image.new("RGBA", (width, height), (*colour, 0))
        accent, middle = (*accent, 255), (*middle, 255)
    else:
        image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 8, height // 6, width // 2, height * 5 // 6), fill=accent)
    draw.rectangle((width // 2, height // 3, width * 7 // 8, height * 2 // 3), fill=middle)
    draw.text((width // 20, height // 20), label, fill=accent, font=_font(max(10, min(width, height) // 14)))
    return _encode(image, fmt)


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(out, "JPEG", quality=85)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=80, method=0)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1x1 PNG whose IHDR claims width x height pixels (a decompression bomb)."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1), (255, 0, 0)).save(out, "PNG")
    data = bytearray(out.getvalue())
    # Signature (8 bytes), then the IHDR chunk: length (4), b"IHDR" (4), data (13), CRC (4).
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """A validated image-generation request."""

    provider: str
    model: str
    prompt: str
    width: int
    height: int
    fmt: str  # png | jpeg | webp
    quality: str = "medium"
    n: int = 1
    transparent: bool = False
    deployment: str | None = None
    api_version: str | None = None
    modalities: tuple[str, ...] = ("IMAGE",)

    def image_b64(self, kind: str | None, index: int = 0, thought: bool = False) -> str:
        """Base64 of the image to return, broken as the fault kind asks."""
        if kind == "bomb":
            data = bomb_png()
        elif kind == "not_image":
            data = NOT_IMAGE
        else:
            data = self._draw(index, thought)
        text = base64.b64encode(data).decode()
        return text[: len(text) // 2] if kind == "truncated_b64" else text

    def _draw(self, index: int, thought: bool) -> bytes:
        colour = prompt_colour(f"{self.prompt}#{index}" if index else self.prompt)
        width, height, label = self.width, self.height, f"{self.model} {self.width}x{self.height}"
        if thought:  # an interim draft: inverted colour, half size
            colour = (255 - colour[0], 255 - colour[1], 255 - colour[2])
            width, height, label = max(16, width // 2), max(16, height // 2), f"{label} (thought)"
        return render_image(width, height, colour, label, self.fmt, self.transparent)


@dataclass
class _Call:
    """An incoming HTTP request, parsed."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    bad_json: bool
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    @property
    def object(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


def _parse_call(method: str, target: str, headers: dict[str, str], raw: bytes) -> _Call:
    parts = urlsplit(target)
    body, bad_json = None, False
    if raw:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            bad_json = True
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return _Call(method, unquote(parts.path), query, headers, body, bad_json)


def _pick(mapping: Any, *names: str) -> Any:
    """First present field among names (proto JSON accepts camelCase and snake_case)."""
    if not isinstance(mapping, dict):
        return None
    for name in names:
        if name in mapping:
            return mapping[name]
    return None


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _mask_key(key: str) -> str:
    """Mask a key like OpenAI's error message does: only the last four characters survive."""
    prefix = "sk-" if key.startswith("sk-") else ""
    hidden = max(len(key) - len(prefix) - 4, 0)
    return prefix + "*" * hidden + key[-4:] if len(key) > 8 else "*" * len(key)


def _response_id() -> str:
    return secrets.token_urlsafe(16)


# ---------------------------------------------------------------------------------------------
# Google Gemini
# ---------------------------------------------------------------------------------------------


class _GeminiApi:
    provider = "google"

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # -- request side ---------------------------------------------------------------------------

    def peek(self, call: _Call) -> tuple[str | None, str | None]:
        return _gemini_prompt(call.object), call.params.get("model")

    def authorize(self, call: _Call) -> None:
        key = call.headers.get("x-goog-api-key") or call.query.get("key")
        if not key:
            raise _Rejected(_gemini_error(
                403, "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity)."
                " Please use API Key or other form of API consumer identity to call this API.",
            ))
        if key != self.emulator.keys["google"]:
            raise _Rejected(_gemini_error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                  "domain": "googleapis.com",
                  "metadata": {"service": "generativelanguage.googleapis.com"}}],
            ))

    def model(self, call: _Call) -> _GeminiModel:
        name = call.params["model"]
        spec = GEMINI_MODELS.get(name)
        if spec is None:
            raise _Rejected(_gemini_error(
                404, "NOT_FOUND",
                f"models/{name} is not found for API version {call.params['version']}, or is not"
                " supported for generateContent. Call ListModels to see the list of available"
                " models and their supported methods.",
            ))
        return spec

    def accept(self, call: _Call) -> _Job:
        self.authorize(call)
        spec = self.model(call)
        if call.bad_json or not isinstance(call.body, dict):
            raise _invalid_argument("Invalid JSON payload received. Unexpected token.")
        prompt = _gemini_prompt(call.body)
        if prompt is None:
            raise _invalid_argument("* GenerateContentRequest.contents: contents is not specified\n")
        config = _pick(call.body, "generationConfig", "generation_config") or {}
        image_config = _pick(config, "imageConfig", "image_config") or {}
        width, height = _gemini_dims(call.params["model"], spec, image_config)
        fmt = "jpeg" if spec.mime == "image/jpeg" else "png"
        modalities = _pick(config, "responseModalities", "response_modalities") or ["TEXT", "IMAGE"]
        return _Job("google", call.params["model"], prompt, width, height, fmt,
                    modalities=tuple(str(m).upper() for m in modalities))

    # -- response side --------------------------------------------------------------------------

    def error(self, kind: str, job: _Job, retry_after: float) -> _Reply:
        if kind in ("rate_limit", "quota_zero"):
            return _gemini_quota(job.model, 0 if kind == "quota_zero" else 10, retry_after)
        if kind == "overloaded":
            return _gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        return _gemini_error(
            500, "INTERNAL", "An internal error has occurred. Please retry or report in"
            " https://developers.generativeai.google/guide/troubleshooting",
        )

    def success(self, job: _Job, kind: str | None) -> _Reply:
        payload: dict[str, Any] = {}
        if kind == "block_reason":
            payload["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT"}
            payload["usageMetadata"] = _gemini_usage(job, 0)
        else:
            candidate = _gemini_candidate(job, kind)
            images = sum(1 for p in candidate.get("content", {}).get("parts", []) if "inlineData" in p)
            payload["candidates"] = [candidate]
            payload["usageMetadata"] = _gemini_usage(job, images)
        payload["modelVersion"] = job.model
        payload["responseId"] = _response_id()
        return _json_reply(200, payload, {"content-type": "application/json; charset=UTF-8"})

    # -- listing --------------------------------------------------------------------------------

    def list_models(self, call: _Call) -> _Reply:
        self.authorize(call)
        return _json_reply(200, {"models": [_gemini_model_info(name) for name in GEMINI_MODELS]})

    def get_model(self, call: _Call) -> _Reply:
        self.authorize(call)
        name = call.params["model"]
        if name not in GEMINI_MODELS:
            return _gemini_error(404, "NOT_FOUND", f"models/{name} is not found for API version"
                                 f" {call.params['version']}.")
        return _json_reply(200, _gemini_model_info(name))


def _invalid_argument(message: str) -> _Rejected:
    return _Rejected(_gemini_error(400, "INVALID_ARGUMENT", message))


def _gemini_prompt(body: dict[str, Any]) -> str | None:
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        return None
    texts = []
    for content in contents:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts)


def _gemini_dims(model: str, spec: _GeminiModel, image_config: Any) -> tuple[int, int]:
    ratio = _pick(image_config, "aspectRatio", "aspect_ratio")
    size = _pick(image_config, "imageSize", "image_size")
    if ratio is not None and ratio not in GEMINI_1K:
        raise _invalid_argument(
            f"Unsupported aspect ratio: {ratio}. Supported values are: {', '.join(GEMINI_1K)}."
        )
    if size is not None and size not in spec.sizes:
        raise _invalid_argument(
            f"Unsupported image size: {size} for model {model}. Supported values are:"
            f" {', '.join(spec.sizes)}."
        )
    width, height = GEMINI_1K[ratio or "1:1"]
    factor = GEMINI_SIZE_FACTORS[size or "1K"] if spec.honours_size else 1.0
    return _even(width * factor), _even(height * factor)


def _even(value: float) -> int:
    return 2 * round(value / 2)


def _gemini_candidate(job: _Job, kind: str | None) -> dict[str, Any]:
    if kind == "image_safety":
        return {
            "finishReason": "IMAGE_SAFETY",
            "finishMessage": "Unable to show the generated image. The image was filtered out because"
            " it violated Google's Generative AI Prohibited Use policy. You will not be charged for"
            " blocked images. Try rephrasing the prompt.",
            "index": 0,
        }
    if kind == "text_only":
        text = "I can't generate that image. Could you describe the banner you want differently?"
        parts: list[dict[str, Any]] = [{"text": text}]
    else:
        parts = _gemini_parts(job, kind)
    return {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}


def _gemini_parts(job: _Job, kind: str | None) -> list[dict[str, Any]]:
    mime = GEMINI_MODELS[job.model].mime
    image: dict[str, Any] = {"inlineData": {"mimeType": mime, "data": job.image_b64(kind)}}
    parts: list[dict[str, Any]] = []
    if kind == "thought_images":
        draft = {"mimeType": mime, "data": job.image_b64(None, thought=True)}
        parts.append({"inlineData": draft, "thought": True})
        parts.append({"text": "**Refining the composition**\n\nBalancing the layout.", "thought": True})
        image["thoughtSignature"] = base64.b64encode(hashlib.sha256(job.prompt.encode()).digest()).decode()
    if "TEXT" in job.modalities:
        parts.append({"text": "Here is the banner you asked for."})
    if "IMAGE" in job.modalities:
        parts.append(image)
    return parts


def _gemini_usage(job: _Job, images: int) -> dict[str, Any]:
    prompt_tokens = max(1, len(job.prompt) // 4)
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "totalTokenCount": prompt_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if images:
        out = GEMINI_MODELS[job.model].image_tokens * images
        usage["candidatesTokenCount"] = out
        usage["totalTokenCount"] = prompt_tokens + out
        usage["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": out}]
    return usage


def _gemini_quota(model: str, limit: int, retry_after: float) -> _Reply:
    per = "Day" if limit == 0 else "Minute"
    delay = _seconds_text(retry_after)
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more"
        " information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
        " To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n"
        "* Quota exceeded for metric: generativelanguage.googleapis.com/"
        f"generate_content_free_tier_requests, limit: {limit}, model: {model}\n"
        f"Please retry in {delay}."
    )
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel-FreeTier",
            "quotaDimensions": {"location": "global", "model": model},
            "quotaValue": str(limit),
        }]},
        {"@type": "type.googleapis.com/google.rpc.Help", "links": [{
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
    return _gemini_error(429, "RESOURCE_EXHAUSTED", message, details)


def _gemini_model_info(name: str) -> dict[str, Any]:
    spec = GEMINI_MODELS[name]
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": spec.display,
        "description": f"{spec.display}: image generation and editing.",
        "inputTokenLimit": 65536,
        "outputTokenLimit": 32768,
        "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
    }


# ---------------------------------------------------------------------------------------------
# OpenAI
# ---------------------------------------------------------------------------------------------


class _OpenAIApi:
    provider = "openai"
    formats: tuple[str, ...] = ("png", "jpeg", "webp")

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def peek(self, call: _Call) -> tuple[str | None, str | None]:
        prompt, model = call.object.get("prompt"), call.object.get("model")
        return (prompt if isinstance(prompt, str) else None), (model if isinstance(model, str) else None)

    def authorize(self, call: _Call) -> None:
        key = _bearer(call.headers)
        if not key:
            raise _Rejected(_openai_error(
                401, "You didn't provide an API key. You need to provide your API key in an"
                " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as"
                " the password field (with blank username) if you're accessing the API from your"
                " browser and are prompted for a username. You can obtain an API key from"
                " https://platform.openai.com/account/api-keys.", None,
            ))
        if key != self.emulator.keys["openai"]:
            raise _Rejected(_openai_error(
                401, f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at"
                " https://platform.openai.com/account/api-keys.", "invalid_api_key",
            ))

    def accept(self, call: _Call) -> _Job:
        self.authorize(call)
        body = _require_body(call)
        _reject_unknown_fields(body)
        model = body.get("model")
        if model is None:
            raise _Rejected(_openai_error(400, "Missing required parameter: 'model'.",
                                          "missing_required_parameter", "model"))
        if model not in OPENAI_MODELS:
            raise _Rejected(_openai_error(
                404, f"The model `{model}` does not exist or you do not have access to it.",
                "model_not_found",
            ))
        return _openai_job(self.provider, body, model, self.formats)

    def error(self, kind: str, job: _Job, retry_after: float) -> _Reply:
        if kind == "rate_limit":
            headers = {**_retry_headers(retry_after), "x-ratelimit-limit-requests": "5",
                       "x-ratelimit-remaining-requests": "0",
                       "x-ratelimit-reset-requests": _seconds_text(retry_after)}
            return _openai_error(
                429, f"Rate limit reached for {job.model} in organization org-emulator on images per"
                f" minute (IPM): Limit 5, Used 5, Requested 1. Please try again in"
                f" {_seconds_text(retry_after)}. Visit https://platform.openai.com/account/rate-limits"
                " to learn more.", "rate_limit_exceeded", kind="requests", headers=headers,
            )
        if kind == "moderation_blocked":
            return _openai_error(
                400, "Your request was rejected by the safety system. If you believe this is an error,"
                " contact us at help.openai.com and include the request ID req_emulator.",
                "moderation_blocked", kind="image_generation_user_error",
            )
        if kind == "overloaded":
            return _openai_error(503, "The server is overloaded or not ready yet.", None, kind="server_error")
        return _openai_error(
            500, "The server had an error while processing your request. Sorry about that!", None,
            kind="server_error",
        )

    def success(self, job: _Job, kind: str | None) -> _Reply:
        return _json_reply(200, self._payload(job, kind), {"x-request-id": f"req_{_response_id()[:16]}"})

    def _payload(self, job: _Job, kind: str | None) -> dict[str, Any]:
        input_tokens = max(1, len(job.prompt) // 4)
        output_tokens = _image_tokens(job) * job.n
        return {
            "created": int(time.time()),
            "data": [self._item(job, kind, i) for i in range(job.n)],
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

    def _item(self, job: _Job, kind: str | None, index: int) -> dict[str, Any]:
        return {"b64_json": job.image_b64(kind, index)}

    def list_models(self, call: _Call) -> _Reply:
        self.authorize(call)
        return _json_reply(200, {"object": "list", "data": [_openai_model_info(m) for m in OPENAI_MODELS]})

    def get_model(self, call: _Call) -> _Reply:
        self.authorize(call)
        name = call.params["model"]
        if name not in OPENAI_MODELS:
            return _openai_error(404, f"The model '{name}' does not exist", "model_not_found", "model")
        return _json_reply(200, _openai_model_info(name))


def _openai_model_info(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1767225600, "owned_by": "system"}


def _image_tokens(job: _Job) -> int:
    per_megapixel = {"low": 272, "medium": 1056, "high": 4160}.get(job.quality, 1056)
    return max(16, round(per_megapixel * job.width * job.height / (1024 * 1024)))


def _require_body(call: _Call) -> dict[str, Any]:
    if call.bad_json or not isinstance(call.body, dict):
        raise _Rejected(_openai_error(
            400, "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but"
            " what was sent was not valid JSON.)", None,
        ))
    return call.body


def _reject_unknown_fields(body: dict[str, Any]) -> None:
    for name in body:
        if name not in OPENAI_FIELDS:
            raise _Rejected(_openai_error(400, f"Unknown parameter: '{name}'.", "unknown_parameter", name))


def _invalid_value(param: str, message: str) -> _Rejected:
    return _Rejected(_openai_error(400, message, "invalid_value", param))


def _choice(body: dict[str, Any], param: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(param, default)
    if value not in allowed:
        quoted = [f"'{a}'" for a in allowed]
        options = " and ".join(quoted) if len(quoted) == 2 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
        raise _invalid_value(param, f"Invalid value: '{value}'. Supported values are: {options}.")
    return value


def _openai_job(provider: str, body: dict[str, Any], model: str, formats: tuple[str, ...]) -> _Job:
    prompt = body.get("prompt")
    if prompt is None:
        raise _Rejected(_openai_error(400, "Missing required parameter: 'prompt'.",
                                      "missing_required_parameter", "prompt"))
    if not isinstance(prompt, str):
        raise _Rejected(_openai_error(400, "Invalid type for 'prompt': expected a string.",
                                      "invalid_type", "prompt"))
    if len(prompt) > 32000:
        raise _Rejected(_openai_error(
            400, "Invalid 'prompt': string too long. Expected a string with maximum length 32000, but"
            f" got a string with length {len(prompt)} instead.", "string_above_max_length", "prompt",
        ))
    width, height = _openai_size(model, body.get("size", "auto"))
    fmt = _choice(body, "output_format", formats, "png")
    transparent = _choice(body, "background", ("transparent", "opaque", "auto"), "auto") == "transparent"
    if transparent and fmt == "jpeg":
        raise _invalid_value("background", "Transparent background is not supported for jpeg output format.")
    _choice(body, "moderation", ("low", "auto"), "auto")
    _check_int(body, "output_compression", 0, 100)
    quality = _choice(body, "quality", QUALITIES, "auto")
    n = _check_int(body, "n", 1, 10) or 1
    return _Job(provider, model, prompt, width, height, fmt, quality, n, transparent)


def _check_int(body: dict[str, Any], param: str, low: int, high: int) -> int | None:
    value = body.get(param)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid_value(param, f"Invalid '{param}': expected an integer between {low} and {high},"
                                    f" but got {value!r} instead.")
    return value


def _openai_size(model: str, size: Any) -> tuple[int, int]:
    if size == "auto":
        return 1024, 1024
    if model != "gpt-image-2":
        if size not in FIXED_SIZES:
            raise _invalid_value("size", f"Invalid value: '{size}'. Supported values are: '1024x1024',"
                                         " '1024x1536', '1536x1024', and 'auto'.")
        width, _, height = size.partition("x")
        return int(width), int(height)
    found = re.fullmatch(r"(\d{1,5})x(\d{1,5})", size) if isinstance(size, str) else None
    width, height = (int(found[1]), int(found[2])) if found else (0, 0)
    if not _flexible_size_ok(width, height):
        raise _invalid_value(
            "size", f"Invalid value: '{size}'. Size must be 'auto' or WIDTHxHEIGHT with both edges"
            " multiples of 16, the long edge at most 3840 pixels, an aspect ratio of at most 3:1 and"
            " between 655360 and 8294400 pixels in total.",
        )
    return width, height


def _flexible_size_ok(width: int, height: int) -> bool:
    if width <= 0 or height <= 0 or width % 16 or height % 16:
        return False
    long, short = max(width, height), min(width, height)
    return long <= 3840 and long <= 3 * short and 655_360 <= width * height <= 8_294_400


# ---------------------------------------------------------------------------------------------
# Azure OpenAI / AI Foundry
# ---------------------------------------------------------------------------------------------


class _AzureApi(_OpenAIApi):
    provider = "foundry"
    formats = ("png", "jpeg")

    def peek(self, call: _Call) -> tuple[str | None, str | None]:
        prompt, model = super().peek(call)
        deployment = call.params.get("deployment") or model
        return prompt, self.emulator.deployments.get(deployment or "", model)

    def authorize(self, call: _Call) -> None:
        if call.headers.get("api-key") == self.emulator.keys["foundry"]:
            return
        token = _bearer(call.headers)
        if token and self.emulator._token_valid(token):
            return
        if token:
            raise _Rejected(_azure_error(
                401, "401", "Access token is missing, invalid, audience is incorrect"
                f" ({TOKEN_RESOURCE}), or have expired.",
            ))
        raise _Rejected(_azure_error(
            401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make"
            " sure to provide a valid key for an active subscription and use a correct regional API"
            " endpoint for your resource.",
        ))

    def accept(self, call: _Call) -> _Job:
        deployment = call.params.get("deployment")
        version = self._api_version(call, v1=deployment is None)
        self.authorize(call)
        body = _require_body(call)
        _reject_unknown_fields(body)
        deployment, model = self._deployment(body, deployment)
        job = _openai_job(self.provider, body, model, self.formats)
        job.deployment, job.api_version = deployment, version
        return job

    @staticmethod
    def _api_version(call: _Call, v1: bool) -> str:
        version = call.query.get("api-version")
        if v1:
            if version not in AZURE_V1_API_VERSIONS:
                raise _Rejected(_azure_error(400, "BadRequest", "API version not supported"))
            return version or "v1"
        if version not in AZURE_API_VERSIONS:
            raise _Rejected(_azure_error(404, "404", "Resource not found"))
        return version

    def _deployment(self, body: dict[str, Any], deployment: str | None) -> tuple[str, str]:
        """(deployment name, base model) for the request, or the Azure error."""
        sent = body.get("model")
        if deployment is None:  # v1 path: the body's model names the deployment
            if not isinstance(sent, str):
                raise _Rejected(_openai_error(400, "Missing required parameter: 'model'.",
                                              "missing_required_parameter", "model"))
            deployment, sent = sent, None
        base = self.emulator.deployments.get(deployment)
        if base is None:
            raise _Rejected(_azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist. If"
                " you created the deployment within the last 5 minutes, please wait a moment and try"
                " again.",
            ))
        if sent is not None and sent != base:
            raise _Rejected(_azure_error(400, "BadRequest", f"The model '{sent}' does not exist."))
        if base not in OPENAI_MODELS:
            raise _Rejected(_azure_error(
                400, "OperationNotSupported", "The imagesGenerate operation does not work with the"
                f" specified model, {base}. Please choose different model and try again.",
            ))
        return deployment, base

    def error(self, kind: str, job: _Job, retry_after: float) -> _Reply:
        if kind == "rate_limit":
            seconds = max(1, math.ceil(retry_after))
            return _azure_error(
                429, "429", "Requests to the Images_Generations Operation under Azure OpenAI API"
                f" version {job.api_version} have exceeded call rate limit of your current AIServices"
                f" S0 pricing tier. Please retry after {seconds} second{'s' if seconds != 1 else ''}."
                " Please contact Azure support service if you would like to further increase the"
                " default rate limit.", _retry_headers(retry_after),
            )
        if kind == "content_policy_violation":
            return _json_reply(400, {"error": {
                "code": "content_policy_violation",
                "message": "Your request was rejected as a result of our safety system. Your prompt"
                " may contain text that is not allowed by our safety system.",
                "param": None, "type": None,
                "inner_error": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_results": _content_filter(filtered=True),
                },
            }})
        if kind == "overloaded":
            return _azure_error(503, "ServiceUnavailable", "The service is temporarily unable to"
                                " process your request. Please try again later.")
        return _azure_error(500, "InternalServerError", "Backend returned unexpected response."
                            " Please contact Microsoft for help.")

    def success(self, job: _Job, kind: str | None) -> _Reply:
        return _json_reply(200, self._payload(job, kind), {"apim-request-id": _response_id()})

    def _item(self, job: _Job, kind: str | None, index: int) -> dict[str, Any]:
        return {"b64_json": job.image_b64(kind, index), "content_filter_results": _content_filter(False)}


def _content_filter(filtered: bool) -> dict[str, Any]:
    safe = {"filtered": False, "severity": "safe"}
    return {
        "hate": safe, "self_harm": safe, "sexual": safe,
        "violence": {"filtered": True, "severity": "high"} if filtered else safe,
    }


# ---------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------

_ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    ("POST", re.compile(r"/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+):generateContent"),
     "image", "_gemini_generate"),
    ("GET", re.compile(r"/(?P<version>v1|v1beta)/models/?"), "models", "_list_models"),
    ("GET", re.compile(r"/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+)"), "models", "_get_model"),
    ("POST", re.compile(r"/v1/images/generations"), "image", "_openai_generate"),
    ("POST", re.compile(r"/azure/openai/deployments/(?P<deployment>[^/]+)/images/generations"),
     "image", "_azure_generate"),
    ("POST", re.compile(r"/azure/openai/v1/images/generations"), "image", "_azure_generate"),
    ("GET", re.compile(r"/msi/token"), "token", "_issue_token"),
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default backlog of 5 drops connections under load tests

    def __init__(self, emulator: Emulator, port: int) -> None:
        self.emulator = emulator
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # client went away, or we are stopping
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Real provider front ends answer without Nagle stalls: headers and body leave in one write, at once.
    disable_nagle_algorithm = True
    server_version = "imagegen-emulator/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.emulator._handle(self.command, self.path, headers, raw)
        if reply.close:
            self._abort(rst=reply.close == "reset")
        else:
            self._send(reply)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self._headers_buffer.append(b"\r\n")  # end_headers() without its flush: one write below
        self._headers_buffer.append(reply.body)
        self.flush_headers()

    def _abort(self, rst: bool) -> None:
        """Close without answering; with rst, an abortive close (the peer sees ECONNRESET)."""
        self.close_connection = True
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The descriptor really closes once finish() closes rfile, which still holds a reference.
        self.connection.close()


# ---------------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------------


class Emulator:
    """Loopback HTTP server speaking the Gemini, OpenAI and Azure OpenAI image protocols."""

    def __init__(self, latency: float = 0.0, max_in_flight: int | None = None, port: int = 0) -> None:
        self.latency = latency
        self.max_in_flight = max_in_flight
        self.port = port
        self.keys = dict(DEFAULT_KEYS)
        self.deployments = dict(DEFAULT_DEPLOYMENTS)
        self.identity_secret = IDENTITY_SECRET
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._records: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (resource, expires_on)
        self._issued = 0
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._max_concurrent = 0
        self._active = 0  # requests between arrival and being recorded
        self.token_requests = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._apis = {"google": _GeminiApi(self), "openai": _OpenAIApi(self), "foundry": _AzureApi(self)}

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stop.clear()
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
            name=f"imagegen-emulator:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()  # wakes handlers waiting on latency or "slow"
        server.shutdown()
        server.server_close()
        with self._cond:  # let woken handlers record their request, so records are final
            self._cond.wait_for(lambda: self._active == 0, timeout=2.0)
            connections = list(self._connections)
        for connection in connections:  # wake handlers blocked reading idle keep-alive connections
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point every provider at this emulator."""
        return {
            "GEMINI_API_KEY": self.keys["google"],
            "GOOGLE_GEMINI_BASE_URL": self.url,
            "OPENAI_API_KEY": self.keys["openai"],
            "OPENAI_BASE_URL": f"{self.url}/v1",
            "AZURE_OPENAI_ENDPOINT": f"{self.url}/azure",
            "AZURE_OPENAI_API_KEY": self.keys["foundry"],
        }

    def managed_identity_env(self) -> dict[str, str]:
        """Environment for azure-identity's App Service managed identity, served by this emulator."""
        return {"IDENTITY_ENDPOINT": f"{self.url}/msi/token", "IDENTITY_HEADER": self.identity_secret}

    def add_fault(self, fault: Fault) -> None:
        with self._cond:
            self._faults.append(replace(fault))  # our copy counts down, not the caller's

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def reset(self) -> None:
        """Forget requests, counters and faults (issued tokens stay valid)."""
        with self._cond:
            self._records.clear()
            self._faults.clear()
            self._max_concurrent = self._in_flight
            self.token_requests = 0
            self._cond.notify_all()

    # -- observation ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._records)

    def image_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "image"]

    @property
    def max_concurrent(self) -> int:
        with self._cond:
            return self._max_concurrent

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least n image requests have been answered (and recorded)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._image_count() >= n, timeout)

    def wait_for_in_flight(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least n image requests are being worked on at once."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight >= n, timeout)

    def _image_count(self) -> int:
        return sum(1 for r in self._records if r.kind == "image")

    # -- request handling -----------------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        with self._cond:
            self._active += 1
        try:
            return self._answer(method, target, headers, raw)
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        call = _parse_call(method, target, headers, raw)
        kind, handler = self._route(call)
        body = call.body if isinstance(call.body, dict) else None
        record = RecordedRequest(None, method, call.path, call.query, headers, body,
                                 started=time.monotonic(), kind=kind)
        try:
            reply = handler(call, record)
        except _Rejected as rejected:
            reply = rejected.reply
        except Exception:  # an emulator bug: answer 500 with the traceback, do not hang the client
            reply = _Reply(500, traceback.format_exc().encode(), {"content-type": "text/plain"})
        record.status = 0 if reply.close else reply.status
        record.finished = time.monotonic()
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()
        return reply

    def _route(self, call: _Call) -> tuple[str, Callable[[_Call, RecordedRequest], _Reply]]:
        for method, pattern, kind, name in _ROUTES:
            found = pattern.fullmatch(call.path)
            if found and method == call.method:
                call.params = {k: v for k, v in found.groupdict().items() if v is not None}
                return kind, getattr(self, name)
        return "unknown", self._not_found

    @staticmethod
    def _not_found(call: _Call, record: RecordedRequest) -> _Reply:
        return _azure_error(404, "404", "Resource not found")

    def _gemini_generate(self, call: _Call, record: RecordedRequest) -> _Reply:
        return self._generate(call, record, self._apis["google"])

    def _openai_generate(self, call: _Call, record: RecordedRequest) -> _Reply:
        return self._generate(call, record, self._apis["openai"])

    def _azure_generate(self, call: _Call, record: RecordedRequest) -> _Reply:
        return self._generate(call, record, self._apis["foundry"])

    def _models_api(self, call: _Call) -> _GeminiApi | _OpenAIApi:
        """GET /v1/models is both Gemini's and OpenAI's: tell them apart by the credentials."""
        google = call.params["version"] == "v1beta" or "x-goog-api-key" in call.headers or "key" in call.query
        return self._apis["google" if google else "openai"]

    def _list_models(self, call: _Call, record: RecordedRequest) -> _Reply:
        api = self._models_api(call)
        record.provider = api.provider
        return api.list_models(call)

    def _get_model(self, call: _Call, record: RecordedRequest) -> _Reply:
        api = self._models_api(call)
        record.provider = api.provider
        return api.get_model(call)

    def _generate(self, call: _Call, record: RecordedRequest, api: Any) -> _Reply:
        """Validate, apply faults and the in-flight limit, wait the latency, answer."""
        record.provider = api.provider
        record.prompt, record.model = api.peek(call)
        job: _Job = api.accept(call)
        record.model, record.deployment = job.model, job.deployment
        if not self._admit():
            record.fault = "max_in_flight"
            return api.error("rate_limit", job, 1.0)
        try:
            fault = self._take_fault(api.provider, job.prompt)
            record.fault = fault.kind if fault else None
            if fault and fault.kind == "reset":
                return _Reply(0, close="reset")
            if fault and fault.kind in _ERROR_KINDS:
                return api.error(fault.kind, job, fault.retry_after)
            wait = self.latency + (fault.delay if fault and fault.kind == "slow" else 0.0)
            if wait > 0 and self._stop.wait(wait):
                return _Reply(0, close="drop")  # stopping: hang up rather than answer late
            return api.success(job, fault.kind if fault else None)
        finally:
            self._release()

    def _admit(self) -> bool:
        with self._cond:
            limit = self.max_in_flight
            if limit is not None and self._in_flight >= limit:
                return False
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            self._cond.notify_all()
            return True

    def _release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def _take_fault(self, provider: str, prompt: str) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.applies(provider, prompt):
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # -- managed identity -----------------------------------------------------------------------

    def _issue_token(self, call: _Call, record: RecordedRequest) -> _Reply:
        """App Service managed identity (api-version 2019-08-01), as azure-identity/msal call it."""
        record.provider = "msi"
        if call.headers.get("x-identity-header") != self.identity_secret:
            return _json_reply(401, {"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER"
                                     " header is missing or does not match IDENTITY_HEADER."})
        if call.query.get("api-version") != "2019-08-01":
            return _json_reply(400, {"statusCode": 400, "message": "Unsupported api-version"
                                     f" {call.query.get('api-version')!r}; expected 2019-08-01."})
        resource = call.query.get("resource")
        if not resource:
            return _json_reply(400, {"statusCode": 400, "message": "Missing the resource parameter."})
        return _json_reply(200, self._new_token(resource))

    def _new_token(self, resource: str) -> dict[str, str]:
        expires_on = int(time.time()) + TOKEN_LIFETIME
        with self._cond:
            self._issued += 1
            self.token_requests += 1
            token = f"emu-token-{self._issued}"
            self._tokens[token] = (resource.rstrip("/"), expires_on)
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": "00000000-0000-0000-0000-00000000e0e0",
        }

    def _token_valid(self, token: str) -> bool:
        """Issued by us, for the Cognitive Services audience, and not expired."""
        with self._cond:
            resource, expires_on = self._tokens.get(token, ("", 0.0))
        return resource == TOKEN_RESOURCE and expires_on > time.time()


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while serving (only possible on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(port: int = 8765, latency: float = 0.0) -> None:
    """Serve until interrupted, after printing the exports that point providers at the emulator."""
    emulator = Emulator(latency=latency, port=port).start()
    try:
        with _sigterm_interrupts():
            for name, value in emulator.env().items():
                print(f"export {name}={shlex.quote(value)}", flush=True)
            print(
                f"mkdocs-imagegen emulator on {emulator.url} (latency {latency:g}s; managed identity"
                f" at {emulator.url}/msi/token); Ctrl-C to stop", file=sys.stderr, flush=True,
            )
            emulator._stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
