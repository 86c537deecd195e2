"""Google Gemini ``generateContent`` and model listing, as the google-genai SDK sees them.

The models served are the catalogue's (see models.py), each validated by its size rule (aspect
ratios and imageSize tiers); what the catalogue does not hold (the MIME type a model answers
with, its output pixels and token counts) is `GEMINI_FACTS` here. Also API-key errors, the quota
and overload bodies, and the fault kinds only Gemini has (thought images, block reasons, safety
stops, text-only answers).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.catalogue.lookup import ModelInfo, SizeRule
from mkdocs_imagegen.emulator.edits import gemini_tint
from mkdocs_imagegen.emulator.wire import Call, Job, Peek, Rejected, Reply, Route, json_reply, response_id, seconds_text

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host as Emulator

# Fixed and obviously fake, so printed exports keep working across restarts of the emulator.
DEFAULT_KEY = "AIzaSyEmulator-mkdocs-imagegen-0000000"


# Emulator-only facts the catalogue does not hold: what each model returns, and what it is billed.
@dataclass(frozen=True)
class GeminiFacts:
    display: str | None = None  # displayName in ListModels (None: the model name)
    mime: str = "image/png"
    image_tokens: Mapping[str, int] = field(default_factory=lambda: {"1K": 1120})  # output tokens per tier
    pixels: Mapping[str, tuple[int, int]] | None = None  # 1K output size per ratio (None: GEMINI_1K)


_JPEG = "image/jpeg"
GEMINI_FACTS: dict[str, GeminiFacts] = {
    # Google's token counts per tier: 747 (512), 1120 (1K), 1680 (2K), 2520 (4K).
    "gemini-3.1-flash-image": GeminiFacts("Nano Banana 2 (Gemini 3.1 Flash Image)", _JPEG,
                                          {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}),
    "gemini-nano-banana-2.1": GeminiFacts("Nano Banana 2.1", _JPEG, {"1K": 1120, "2K": 1680, "4K": 2520}),
    "gemini-3.1-flash-lite-image": GeminiFacts("Nano Banana 2 Lite (Gemini 3.1 Flash-Lite Image)", _JPEG),
    # 1120 tokens at 1K and 2K, 2000 at 4K: the catalogue's $0.134 and $0.24 at $120 per 1M output tokens.
    "gemini-3-pro-image": GeminiFacts("Nano Banana Pro (Gemini 3 Pro Image)", "image/png",
                                      {"1K": 1120, "2K": 1120, "4K": 2000}),
    # Its own 1K sizes (4:3 is 1184x864 where the Gemini 3 models give 1200x896).
    "gemini-2.5-flash-image": GeminiFacts("Nano Banana (Gemini 2.5 Flash Image)", "image/png", {"1K": 1290}, {
        "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
        "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672),
    }),
}
DEFAULT_FACTS = GeminiFacts()
# Output size of the 1K tier by aspect ratio (Gemini 3 models); 2K doubles, 4K quadruples, 512 halves.
GEMINI_1K = {
    "1:1": (1024, 1024), "1:4": (512, 2048), "1:8": (352, 2816), "2:3": (848, 1264), "3:2": (1264, 848),
    "3:4": (896, 1200), "4:1": (2048, 512), "4:3": (1200, 896), "4:5": (928, 1152), "5:4": (1152, 928),
    "8:1": (2816, 352), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
}
GEMINI_SIZE_FACTORS = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
# Listed, so a client's image-model filter is exercised, but not image models.
NON_IMAGE_MODELS: dict[str, dict[str, Any]] = {
    "gemini-3-flash": {"displayName": "Gemini 3 Flash", "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                       "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent",
                                                      "batchGenerateContent"]},
    "text-embedding-005": {"displayName": "Text Embedding 005", "inputTokenLimit": 2048, "outputTokenLimit": 1,
                           "supportedGenerationMethods": ["embedContent"]},
}
PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000  # ListModels: 50 per page unless pageSize says, at most 1000


def facts(model: str) -> GeminiFacts:
    return GEMINI_FACTS.get(model, DEFAULT_FACTS)


_VERSION = r"/(?P<version>v1|v1beta)"
_MODEL = r"/models/(?P<model>[^/:]+)"


class GeminiApi:
    """The Gemini API: generation, ListModels and GetModel under /v1 and /v1beta."""

    provider = "google"
    default_key = DEFAULT_KEY
    size_kinds = ("tiers",)
    permissive_sizes = SizeRule(kind="tiers", aspect_ratios=tuple(GEMINI_1K), image_sizes=("1K", "2K", "4K"))
    error_faults = frozenset({"quota_zero"})
    answer_faults = frozenset({"thought_images", "block_reason", "image_safety", "text_only"})
    routes = (
        Route("POST", re.compile(_VERSION + _MODEL + ":generateContent")),
        Route("GET", re.compile(_VERSION + r"/models/?"), "models", "list_models"),
        Route("GET", re.compile(_VERSION + _MODEL), "models", "get_model"),
    )

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def model_added(self, name: str) -> None:
        return None

    def env(self, url: str, key: str) -> dict[str, str]:
        return {"GEMINI_API_KEY": key, "GOOGLE_GEMINI_BASE_URL": url}

    def claims(self, call: Call) -> bool:
        """GET /v1/models is OpenAI's too: it is Gemini's when it carries a Gemini API key."""
        return "x-goog-api-key" in call.headers or "key" in call.query

    # -- request side ---------------------------------------------------------------------------

    def peek(self, call: Call) -> Peek:
        return Peek(_gemini_prompt(call.object), call.params.get("model"))

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

    def model(self, call: Call) -> ModelInfo | None:
        """The served entry; None for a listed text model; Google's 404 for a retired or unknown name."""
        name = call.params["model"]
        info = self.emulator.models.get(self.provider, name)
        if info is not None:
            return info
        if "generateContent" in NON_IMAGE_MODELS.get(name, {}).get("supportedGenerationMethods", ()):
            return None
        raise Rejected(_gemini_error(
            404, "NOT_FOUND",
            f"models/{name} is not found for API version {call.params['version']}, or is not"
            " supported for generateContent. Call ListModels to see the list of available"
            " models and their supported methods.",
        ))

    def accept(self, call: Call) -> Job:
        self.authorize(call)
        info = self.model(call)
        if call.bad_json or not isinstance(call.body, dict):
            raise _invalid_argument("Invalid JSON payload received. Unexpected token.")
        prompt = _gemini_prompt(call.body)
        if prompt is None:
            raise _invalid_argument("* GenerateContentRequest.contents: contents is not specified\n")
        config = _pick(call.body, "generationConfig", "generation_config") or {}
        image_config = _pick(config, "imageConfig", "image_config") or {}
        model = call.params["model"]
        default = ["TEXT", "IMAGE"] if info is not None else ["TEXT"]
        modalities = tuple(str(m).upper() for m in _pick(config, "responseModalities", "response_modalities")
                           or default)
        if info is None:  # a text model: no images, whatever the imageConfig says
            if "IMAGE" in modalities:
                raise _invalid_argument("Model does not support the requested response modalities: image")
            return Job("google", model, prompt, 16, 16, "png", modalities=modalities)
        width, height, tier = _gemini_dims(model, info.sizes, image_config)
        fmt = "jpeg" if facts(model).mime == "image/jpeg" else "png"
        tint, references = gemini_tint(call.body, info.references.max_images, _invalid_argument)
        return Job("google", model, prompt, width, height, fmt, modalities=modalities, tier=tier, tint=tint,
                   references=references)

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
        """ListModels: the served image models, then the text models, `pageSize` at a time."""
        self.authorize(call)
        entries = [_gemini_model_info(name) for name in self.emulator.models.names(self.provider)]
        entries += [_gemini_model_info(name) for name in NON_IMAGE_MODELS]
        size, start = _page_size(call.query.get("pageSize")), _page_start(call.query.get("pageToken"))
        payload: dict[str, Any] = {"models": entries[start:start + size]}
        if start + size < len(entries):
            payload["nextPageToken"] = _page_token(start + size)
        return json_reply(200, payload, {"content-type": "application/json; charset=UTF-8"})

    def get_model(self, call: Call) -> Reply:
        self.authorize(call)
        name = call.params["model"]
        if self.emulator.models.get(self.provider, name) is None and name not in NON_IMAGE_MODELS:
            return _gemini_error(404, "NOT_FOUND", f"models/{name} is not found for API version"
                                 f" {call.params['version']}.")
        return json_reply(200, _gemini_model_info(name))


def _invalid_argument(message: str) -> Rejected:
    return Rejected(_gemini_error(400, "INVALID_ARGUMENT", message))


def _page_size(text: str | None) -> int:
    if text is None or text == "":
        return PAGE_SIZE
    try:
        size = int(text)
    except ValueError:
        raise _invalid_argument(f"Invalid value at 'page_size' (TYPE_INT32), \"{text}\"") from None
    return min(size, MAX_PAGE_SIZE) if size > 0 else PAGE_SIZE


def _page_token(start: int) -> str:
    return base64.urlsafe_b64encode(f"models:{start}".encode()).decode()


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, _, start = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix == "models" and start.isdigit():
            return int(start)
    except (ValueError, UnicodeDecodeError):
        pass
    raise _invalid_argument("Invalid page token.")


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


def _one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", or {quoted[-1]}"


def _gemini_dims(model: str, rule: SizeRule, image_config: Any) -> tuple[int, int, str]:
    """(width, height, tier) for the imageConfig, validated by the model's size rule."""
    ratio = _pick(image_config, "aspectRatio", "aspect_ratio")
    size = _pick(image_config, "imageSize", "image_size")
    if ratio is not None and ratio not in rule.aspect_ratios:
        raise _invalid_argument("* GenerateContentRequest.generation_config.image_config.aspect_ratio:"
                                f" aspect_ratio must be one of {_one_of(rule.aspect_ratios)}.\n")
    if size is not None and size not in rule.image_sizes:
        raise _invalid_argument("* GenerateContentRequest.generation_config.image_config.image_size:"
                                f" image_size must be one of {_one_of(rule.image_sizes)}.\n")
    tier = size or ("1K" if "1K" in rule.image_sizes else rule.image_sizes[0])
    ratio = ratio or "1:1"
    width, height = (facts(model).pixels or GEMINI_1K).get(ratio) or GEMINI_1K.get(ratio) or _from_ratio(ratio)
    factor = GEMINI_SIZE_FACTORS.get(tier, 1.0)
    return _even(width * factor), _even(height * factor), tier


def _from_ratio(ratio: str) -> tuple[int, int]:
    """About a megapixel at a ratio no table has (an extra model's own)."""
    across, _, down = ratio.partition(":")
    aspect = int(across) / int(down)
    return _even(1024 * aspect ** 0.5), _even(1024 / aspect ** 0.5)


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
    mime = facts(job.model).mime
    parts: list[dict[str, Any]] = []
    if "IMAGE" not in job.modalities:
        return [{"text": "Here is the banner you asked for."}]
    image: dict[str, Any] = {"inlineData": {"mimeType": mime, "data": job.image_b64(kind)}}
    if kind == "thought_images":
        draft = {"mimeType": mime, "data": job.image_b64(None, thought=True)}
        parts.append({"inlineData": draft, "thought": True})
        parts.append({"text": "**Refining the composition**\n\nBalancing the layout.", "thought": True})
        image["thoughtSignature"] = base64.b64encode(hashlib.sha256(job.prompt.encode()).digest()).decode()
    if "TEXT" in job.modalities:
        parts.append({"text": "Here is the banner you asked for."})
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
        tokens = facts(job.model).image_tokens
        out = tokens.get(job.tier or "1K", tokens.get("1K", 1120)) * images
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
    text = NON_IMAGE_MODELS.get(name)
    display = text["displayName"] if text else (facts(name).display or name)
    info: dict[str, Any] = {
        "name": f"models/{name}",
        "version": "001",
        "displayName": display,
        "description": f"{display}: {'text generation' if text else 'image generation and editing'}.",
        "inputTokenLimit": 65536,
        "outputTokenLimit": 32768,
        "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
    }
    info.update({k: v for k, v in (text or {}).items() if k != "displayName"})
    return info


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
