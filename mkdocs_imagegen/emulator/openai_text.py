"""OpenAI's Responses API, `POST /v1/responses`: `instructions`, and one user message of `input_text` and
`input_image` (a base64 data URL) parts. An image costs 85 tokens plus 170 per 512-pixel tile of the image
scaled to fit 2048 and then to 768 on its shorter side. A refusal is a `refusal` content part."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.emulator.text import decode, draft, faulty, image_size, text_tokens
from mkdocs_imagegen.emulator.wire import Call, Rejected, Reply, Route, bearer, json_reply, response_id, retry_headers

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.text import TextService

REFUSAL = "I'm sorry, but I can't help with that."


def openai_image_tokens(width: int, height: int) -> int:
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    return 85 + 170 * math.ceil(width * scale / 512) * math.ceil(height * scale / 512)


class OpenAIText:
    """`POST /v1/responses`."""

    provider = "openai"
    routes = (Route("POST", re.compile(r"/v1/responses"), "text", "respond"),)

    def __init__(self, service: TextService) -> None:
        self.service = service

    def claims(self, call: Call) -> bool:
        return True

    def authorized(self, call: Call) -> bool:
        return bearer(call.headers) == self.service.emulator.keys[self.provider]

    def model(self, name: Any) -> str | None:
        return name if name in self.service.models(self.provider) else None

    def respond(self, call: Call) -> Reply:
        if not self.authorized(call):
            return _openai_error(401, "Incorrect API key provided.", "invalid_api_key")
        body = call.object
        model = self.model(body.get("model"))
        if model is None:
            return _openai_error(404, f"The model `{body.get('model')}` does not exist or you do not have access "
                                 "to it.", "model_not_found")
        try:
            text, image = self._read(body)
        except Rejected as bad:
            return bad.reply
        fault = self.service.take_fault(self.provider, text)
        kind = fault.kind if fault is not None else None
        if kind == "server_error":
            return _openai_error(500, "The server had an error while processing your request. Sorry about that!",
                                 None, kind="server_error")
        if kind == "rate_limit":
            return _openai_error(429, "Rate limit reached for requests", "rate_limit_exceeded",
                                 kind="requests", headers=retry_headers(fault.retry_after if fault else 1.0))
        tokens_in = text_tokens(text) + (openai_image_tokens(*image_size(image)) if image else 0)
        if kind == "refusal":
            part: dict[str, Any] = {"type": "refusal", "refusal": REFUSAL}
            answer = REFUSAL
        else:
            answer = faulty(kind, draft(text, image))
            part = {"type": "output_text", "text": answer, "annotations": []}
        tokens_out = text_tokens(answer)
        return json_reply(200, {
            "id": f"resp_{response_id()}", "object": "response", "status": "completed", "model": body["model"],
            "output": [{"id": f"msg_{response_id()}", "type": "message", "status": "completed",
                        "role": "assistant", "content": [part]}],
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}})

    @staticmethod
    def _read(body: dict[str, Any]) -> tuple[str, bytes | None]:
        instructions = [body["instructions"]] if isinstance(body.get("instructions"), str) else []
        texts: list[str] = []
        image = None
        items = body.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": [{"type": "input_text", "text": items}]}]
        for item in items if isinstance(items, list) else []:
            for part in item.get("content") or [] if isinstance(item, dict) else []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "input_text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "input_image":
                    url = str(part.get("image_url") or "")
                    prefix, _, data = url.partition(";base64,")
                    if not prefix.startswith("data:image/"):
                        raise Rejected(_openai_error(400, "Invalid 'input[0].content[1].image_url'. Expected a "
                                                 "base64-encoded data URL with an image MIME type.",
                                                 "invalid_value", "input[0].content[1].image_url"))
                    image = decode(data, lambda: _openai_error(400, "The image data you provided does not "
                                                                "represent a valid image.", "invalid_image"))
        if not texts:
            raise Rejected(_openai_error(400, "Missing required parameter: 'input'.", "missing_required_parameter",
                                     "input"))
        return "\n".join([*instructions, *texts]), image


def _openai_error(status: int, message: str, code: str | None, param: str | None = None,
                  kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, headers)
