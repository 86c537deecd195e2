"""Azure AI Foundry text requests: the v1 Responses route, `POST {endpoint}/openai/v1/responses`, with the
deployment as `model` (`providers.foundry.deployments` maps a model to it). The v1 route takes no
api-version. Auth, and the error mapping, are the image requests' (foundry.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mkdocs_imagegen.errors import AuthenticationError
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.openai_text import answer, responses_body
from mkdocs_imagegen.providers.text import TextAnswer, TextRequest

if TYPE_CHECKING:
    from mkdocs_imagegen.providers.foundry import FoundryProvider


def ask(provider: FoundryProvider, request: TextRequest, *, timeout: float) -> TextAnswer:
    endpoint = provider.endpoint
    if endpoint is None:
        raise AuthenticationError(f"no endpoint: {provider.auth_hint()}", provider=provider.name, model=request.model)
    deployment = provider.deployment(request.model)
    auth = provider.auth(request.model)
    response = common.post_json(provider.client(), f"{endpoint}/openai/v1/responses", headers=auth.headers,
                                body=responses_body(request, deployment), timeout=timeout,
                                provider=provider.name, model=request.model)
    if response.status_code != 200:
        raise provider.error_for(response, request.model, deployment, auth)
    return answer(response, provider=provider.name, model=request.model)
