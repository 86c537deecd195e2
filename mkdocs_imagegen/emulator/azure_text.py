"""Azure AI Foundry's v1 Responses route, `POST {endpoint}/openai/v1/responses`: the Responses API body with a
deployment as `model`; an `api-key` or an Entra ID token. Every text model is deployed under its own name."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.emulator.openai_text import OpenAIText
from mkdocs_imagegen.emulator.wire import Call, Reply, Route, bearer, json_reply

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.text import TextService


class AzureText(OpenAIText):
    """`POST {endpoint}/openai/v1/responses`: `model` names a deployment of a text model."""

    provider = "foundry"
    routes = (Route("POST", re.compile(r"/azure/openai/v1/responses"), "text", "respond"),)

    def __init__(self, service: TextService) -> None:
        super().__init__(service)
        service.deployments.update({name: name for name in service.models(self.provider)})

    def authorized(self, call: Call) -> bool:
        emulator = self.service.emulator
        token = bearer(call.headers)
        return call.headers.get("api-key") == emulator.keys[self.provider] or bool(
            token and emulator.token_valid(token))

    def model(self, name: Any) -> str | None:
        return self.service.deployments.get(name) if isinstance(name, str) else None

    def respond(self, call: Call) -> Reply:
        if not self.authorized(call):
            return json_reply(401, {"error": {"code": "401", "message": "Access denied due to invalid subscription "
                                              "key or wrong API endpoint."}})
        if self.model(call.object.get("model")) is None:
            return json_reply(404, {"error": {"code": "DeploymentNotFound", "message": "The API deployment for "
                                              "this resource does not exist."}})
        return super().respond(call)
