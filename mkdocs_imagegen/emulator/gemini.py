"""Google Gemini ``generateContent`` and model listing, as the google-genai SDK sees them.

Models, their output sizes by aspect ratio and image-size tier, API-key errors, the quota and
overload bodies, and the fault kinds only Gemini has (thought images, block reasons, safety stops,
text-only answers).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .wire import Call, Job, Rejected, Reply, Route, json_reply, response_id, seconds_text

if TYPE_CHECKING:
    from .server import Emulator

# Fixed and obviously fake, so printed exports keep working across restarts of the emulator.
DEFAULT_KEY = "AIzaSyEmulator-mkdocs-imagegen-0000000"


@dataclass(frozen=True)
class GeminiModel:
    display: str
    mime: str
    sizes: tuple[str, ...]
    honours_size: bool = True
    image_tokens: int = 1120


_FLASH_31 = GeminiModel("Nano Banana 2 (Gemini 3.1 Flash Image)", "image/jpeg", ("512", "1K", "2K", "4K"))
GEMINI_MODELS = {
    "gemini-3.1-flash-image-preview": _FLASH_31,
    "gemini-3.1-flash-image": _FLASH_31,
    "gemini-2.5-flash-image": GeminiModel(
        "Nano Banana (Gemini 2.5 Flash Image)", "image/png", ("1K", "2K", "4K"), False, 1290
    ),
    "gemini-3-pro-image-preview": GeminiModel(
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

_VERSION = r"/(?P<version>v1|v1beta)"
_MODEL = r"/models/(?P<model>[^/:]+)"


class GeminiApi:
    """The Gemini API: generation, ListModels and GetModel under /v1 and /v1beta."""

    provider = "google"
    default_key = DEFAULT_KEY
    routes = (
        Route("POST", re.compile(_VERSION + _MODEL + ":generateContent")),
        Route("GET", re.compile(_VERSION + r"/models/?"), "models", "list_models"),
        Route("GET", re.compile(_VERSION + _MODEL), "models", "get_model"),
    )

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def env(self, url: str, key: str) -> dict[str, str]:
        return {"GEMINI_API_KEY": key, "GOOGLE_GEMINI_BASE_URL": url}

    def claims(self, call: Call) -> bool:
        """GET /v1/models is OpenAI's too: it is Gemini's when it carries a Gemini API key."""
        return "x-goog-api-key" in call.headers or "key" in call.query

    # -- request side ---------------------------------------------------------------------------

    def peek(self, call: Call) -> tuple[str | None, str | None]:
        return _gemini_prompt(call.object), call.params.get("model")

    def authorize(self, call: Call) -> None:
        key = call.headers.get("x-goog-api-key") or call.query.get("key")
        if not key:
            raise Rejected(_gemini_error(
                403, "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity)."
                " Please use API Key or other form of API consumer identity to call this API.",
            ))
        if key != self.emulator.keys[self.provider]:
            raise Rejected(_gemini_error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                  "domain": "googleapis.com",
                  "metadata": {"service": "generativelanguage.googleapis.com"}}],
            ))

    def model(self, call: Call) -> GeminiModel:
        name = call.params["model"]
        spec = GEMINI_MODELS.get(name)
        if spec is None:
            raise Rejected(_gemini_error(
                404, "NOT_FOUND",
                f"models/{name} is not found for API version {call.params['version']}, or is not"
                " supported for generateContent. Call ListModels to see the list of available"
                " models and their supported methods.",
            ))
        return spec

    def accept(self, call: Call) -> Job:
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
        return Job("google", call.params["model"], prompt, width, height, fmt,
                    modalities=tuple(str(m).upper() for m in modalities))

    # -- response side --------------------------------------------------------------------------

    def error(self, kind: str, job: Job, retry_after: float) -> Reply:
        if kind in ("rate_limit", "quota_zero"):
            return _gemini_quota(job.model, 0 if kind == "quota_zero" else 10, retry_after)
        if kind == "overloaded":
            return _gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        return _gemini_error(
            500, "INTERNAL", "An internal error has occurred. Please retry or report in"
            " https://developers.generativeai.google/guide/troubleshooting",
        )

    def success(self, job: Job, kind: str | None) -> Reply:
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
        payload["responseId"] = response_id()
        return json_reply(200, payload, {"content-type": "application/json; charset=UTF-8"})

    # -- listing --------------------------------------------------------------------------------

    def list_models(self, call: Call) -> Reply:
        self.authorize(call)
        return json_reply(200, {"models": [_gemini_model_info(name) for name in GEMINI_MODELS]})

    def get_model(self, call: Call) -> Reply:
        self.authorize(call)
        name = call.params["model"]
        if name not in GEMINI_MODELS:
            return _gemini_error(404, "NOT_FOUND", f"models/{name} is not found for API version"
                                 f" {call.params['version']}.")
        return json_reply(200, _gemini_model_info(name))


def _invalid_argument(message: str) -> Rejected:
    return Rejected(_gemini_error(400, "INVALID_ARGUMENT", message))


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


def _gemini_dims(model: str, spec: GeminiModel, image_config: Any) -> tuple[int, int]:
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


def _gemini_candidate(job: Job, kind: str | None) -> dict[str, Any]:
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


def _gemini_parts(job: Job, kind: str | None) -> list[dict[str, Any]]:
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


def _gemini_usage(job: Job, images: int) -> dict[str, Any]:
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


def _gemini_quota(model: str, limit: int, retry_after: float) -> Reply:
    per = "Day" if limit == 0 else "Minute"
    delay = seconds_text(retry_after)
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


def _gemini_error(code: int, status: str, message: str, details: list[Any] | None = None) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return json_reply(code, {"error": error}, {"content-type": "application/json; charset=UTF-8"})


def _pick(mapping: Any, *names: str) -> Any:
    """First present field among names (proto JSON accepts camelCase and snake_case)."""
    if not isinstance(mapping, dict):
        return None
    for name in names:
        if name in mapping:
            return mapping[name]
    return None
