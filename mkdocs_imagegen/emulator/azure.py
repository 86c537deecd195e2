"""Azure OpenAI / AI Foundry image generation: deployment and v1 paths, api-key or Entra ID bearer.

The request body and the image payload are OpenAI's (this API subclasses `OpenAIApi`); what differs
is routing by deployment, api-version checks, the credentials (bearer tokens come from the
managed-identity endpoint, identity.py), Azure's error shapes and the content-filter annotations.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .identity import TOKEN_RESOURCE
from .openai import OPENAI_MODELS, OpenAIApi, openai_error, openai_job, reject_unknown_fields, require_body
from .wire import Call, Job, Rejected, Reply, Route, bearer, json_reply, response_id, retry_headers

# Fixed and obviously fake, so printed exports keep working across restarts of the emulator.
DEFAULT_KEY = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"

AZURE_API_VERSIONS = ("2025-04-01-preview", "2025-03-01-preview", "2024-10-21", "2024-02-01")
AZURE_V1_API_VERSIONS = (None, "v1", "preview")
DEFAULT_DEPLOYMENTS = {m: m for m in OPENAI_MODELS}


class AzureApi(OpenAIApi):
    """Azure OpenAI images: /openai/deployments/{name}/images/generations and /openai/v1/images/generations."""

    provider = "foundry"
    default_key = DEFAULT_KEY
    routes = (
        Route("POST", re.compile(r"/azure/openai/deployments/(?P<deployment>[^/]+)/images/generations")),
        Route("POST", re.compile(r"/azure/openai/v1/images/generations")),
    )
    formats = ("png", "jpeg")

    def env(self, url: str, key: str) -> dict[str, str]:
        return {"AZURE_OPENAI_ENDPOINT": f"{url}/azure", "AZURE_OPENAI_API_KEY": key}

    def peek(self, call: Call) -> tuple[str | None, str | None]:
        prompt, model = super().peek(call)
        deployment = call.params.get("deployment") or model
        return prompt, self.emulator.deployments.get(deployment or "", model)

    def authorize(self, call: Call) -> None:
        if call.headers.get("api-key") == self.emulator.keys[self.provider]:
            return
        token = bearer(call.headers)
        if token and self.emulator.token_valid(token):
            return
        if token:
            raise Rejected(_azure_error(
                401, "401", "Access token is missing, invalid, audience is incorrect"
                f" ({TOKEN_RESOURCE}), or have expired.",
            ))
        raise Rejected(_azure_error(
            401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make"
            " sure to provide a valid key for an active subscription and use a correct regional API"
            " endpoint for your resource.",
        ))

    def accept(self, call: Call) -> Job:
        deployment = call.params.get("deployment")
        version = self._api_version(call, v1=deployment is None)
        self.authorize(call)
        body = require_body(call)
        reject_unknown_fields(body)
        deployment, model = self._deployment(body, deployment)
        job = openai_job(self.provider, body, model, self.formats)
        job.deployment, job.api_version = deployment, version
        return job

    @staticmethod
    def _api_version(call: Call, v1: bool) -> str:
        version = call.query.get("api-version")
        if v1:
            if version not in AZURE_V1_API_VERSIONS:
                raise Rejected(_azure_error(400, "BadRequest", "API version not supported"))
            return version or "v1"
        if version not in AZURE_API_VERSIONS:
            raise Rejected(_azure_error(404, "404", "Resource not found"))
        return version

    def _deployment(self, body: dict[str, Any], deployment: str | None) -> tuple[str, str]:
        """(deployment name, base model) for the request, or the Azure error."""
        sent = body.get("model")
        if deployment is None:  # v1 path: the body's model names the deployment
            if not isinstance(sent, str):
                raise Rejected(openai_error(400, "Missing required parameter: 'model'.",
                                              "missing_required_parameter", "model"))
            deployment, sent = sent, None
        base = self.emulator.deployments.get(deployment)
        if base is None:
            raise Rejected(_azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist. If"
                " you created the deployment within the last 5 minutes, please wait a moment and try"
                " again.",
            ))
        if sent is not None and sent != base:
            raise Rejected(_azure_error(400, "BadRequest", f"The model '{sent}' does not exist."))
        if base not in OPENAI_MODELS:
            raise Rejected(_azure_error(
                400, "OperationNotSupported", "The imagesGenerate operation does not work with the"
                f" specified model, {base}. Please choose different model and try again.",
            ))
        return deployment, base

    def error(self, kind: str, job: Job, retry_after: float) -> Reply:
        if kind == "rate_limit":
            seconds = max(1, math.ceil(retry_after))
            return _azure_error(
                429, "429", "Requests to the Images_Generations Operation under Azure OpenAI API"
                f" version {job.api_version} have exceeded call rate limit of your current AIServices"
                f" S0 pricing tier. Please retry after {seconds} second{'s' if seconds != 1 else ''}."
                " Please contact Azure support service if you would like to further increase the"
                " default rate limit.", retry_headers(retry_after),
            )
        if kind == "content_policy_violation":
            return json_reply(400, {"error": {
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

    def success(self, job: Job, kind: str | None) -> Reply:
        return json_reply(200, self.payload(job, kind), {"apim-request-id": response_id()})

    def image_item(self, job: Job, kind: str | None, index: int) -> dict[str, Any]:
        return {"b64_json": job.image_b64(kind, index), "content_filter_results": _content_filter(False)}


def _content_filter(filtered: bool) -> dict[str, Any]:
    safe = {"filtered": False, "severity": "safe"}
    return {
        "hate": safe, "self_harm": safe, "sexual": safe,
        "violence": {"filtered": True, "severity": "high"} if filtered else safe,
    }


def _azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": message}}, headers)
