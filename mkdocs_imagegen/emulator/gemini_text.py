"""Gemini `generateContent` on a text model, as google-genai sends it: the system instruction, text parts and
an inline image part. An image costs 258 tokens per 768-pixel tile (258 when both sides are at most 384
pixels). A refusal is a prompt blocked for SAFETY: no candidate, `promptFeedback.blockReason`."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.emulator.text import decode, draft, faulty, image_size, text_tokens
from mkdocs_imagegen.emulator.wire import Call, Rejected, Reply, Route, json_reply, response_id

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.text import TextService


def gemini_image_tokens(width: int, height: int) -> int:
    if width <= 384 and height <= 384:
        return 258
    return 258 * math.ceil(width / 768) * math.ceil(height / 768)


class GeminiText:
    """`POST /v1beta/models/{model}:generateContent` on a text model (image models are GeminiApi's)."""

    provider = "google"
    routes = (Route("POST", re.compile(r"/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+):generateContent"),
                    "text", "respond"),)

    fallback = False  # a call it does not claim (an image model) is the image API's, whatever its key

    def __init__(self, service: TextService) -> None:
        self.service = service

    def claims(self, call: Call) -> bool:
        return call.params.get("model") in self.service.models(self.provider)

    def respond(self, call: Call) -> Reply:
        key = call.headers.get("x-goog-api-key") or call.query.get("key")
        if not key:
            return _gemini_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers "
                                 "without established identity). Please use API Key or other form of API "
                                 "consumer identity to call this API.")
        if key != self.service.emulator.keys[self.provider]:
            return _gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        try:
            text, image = self._read(call.object)
        except Rejected as bad:
            return bad.reply
        fault = self.service.take_fault(self.provider, text)
        kind = fault.kind if fault is not None else None
        if kind == "server_error":
            return _gemini_error(500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                                 "https://developers.generativeai.google/guide/troubleshooting")
        if kind == "rate_limit":
            return _gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
        tokens_in = text_tokens(text) + (gemini_image_tokens(*image_size(image)) if image else 0)
        usage = {"promptTokenCount": tokens_in}
        if kind == "refusal":
            return json_reply(200, {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage,
                                    "modelVersion": call.params["model"], "responseId": response_id()})
        answer = faulty(kind, draft(text, image))
        usage.update(candidatesTokenCount=text_tokens(answer), totalTokenCount=tokens_in + text_tokens(answer))
        return json_reply(200, {
            "candidates": [{"content": {"parts": [{"text": answer}], "role": "model"}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": usage, "modelVersion": call.params["model"], "responseId": response_id()})

    @staticmethod
    def _read(body: dict[str, Any]) -> tuple[str, bytes | None]:
        texts: list[str] = []
        image = None
        system = body.get("systemInstruction") or body.get("system_instruction") or {}
        for content in [system, *(body.get("contents") or [])]:
            for part in (content.get("parts") or []) if isinstance(content, dict) else []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                blob = part.get("inlineData") or part.get("inline_data") if isinstance(part, dict) else None
                if isinstance(blob, dict):
                    image = decode(blob.get("data"), lambda: _gemini_error(
                        400, "INVALID_ARGUMENT", "Unable to process input image. Please retry or report in "
                        "https://developers.generativeai.google/guide/troubleshooting"))
        if not texts:
            raise Rejected(_gemini_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not "
                                     "specified"))
        return "\n".join(texts), image


def _gemini_error(code: int, status: str, message: str) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "status": status}},
                      {"content-type": "application/json; charset=UTF-8"})
