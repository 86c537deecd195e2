"""Azure OpenAI / AI Foundry image generation: deployment, v1 and MAI paths; api-key or bearer credentials.

The request body and the image payload are OpenAI's (this API subclasses `OpenAIApi`); what differs
is routing by deployment (`Emulator.deployments`: deployment name -> model, by default every live
Foundry model under its own name), api-version checks, the credentials (an `api-key` header, an
Entra ID bearer token from the managed-identity endpoint in identity.py, or on the v1 routes the
API key as a bearer, as the OpenAI client sends it), Azure's error shapes and the content-filter
annotations. The MAI models answer only on the MAI route (mai.py), the others only on the OpenAI ones.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.catalogue.lookup import ModelInfo
from mkdocs_imagegen.emulator.identity import TOKEN_RESOURCE
from mkdocs_imagegen.emulator.mai import MAI_EDIT_PATH, MAI_PATH, mai_edit_job, mai_job, mai_payload
from mkdocs_imagegen.emulator.openai import MODEL_CREATED, OpenAIApi, generation_body, image_job, openai_error
from mkdocs_imagegen.emulator.wire import (
    Call,
    Job,
    Peek,
    Rejected,
    Reply,
    Route,
    bearer,
    json_reply,
    response_id,
    retry_headers,
)

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host as Emulator

# Fixed and obviously fake, so printed exports keep working across restarts of the emulator.
DEFAULT_KEY = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"

AZURE_API_VERSIONS = ("2025-04-01-preview", "2025-03-01-preview", "2024-10-21", "2024-02-01")
AZURE_V1_API_VERSIONS = (None, "v1", "preview")
_DEPLOYMENT_PATH = re.compile(r"/azure/openai/deployments/(?P<deployment>[^/]+)/images/(?:generations|edits)")


class AzureApi(OpenAIApi):
    """Azure OpenAI images (deployments and v1 paths), MAI images, and the two model lists."""

    provider = "foundry"
    default_key = DEFAULT_KEY
    error_faults = frozenset({"content_policy_violation"})
    routes = (
        Route("POST", _DEPLOYMENT_PATH),
        Route("POST", re.compile(r"/azure/openai/v1/images/(?:generations|edits)")),
        Route("POST", re.compile(re.escape(MAI_PATH))),
        Route("POST", re.compile(re.escape(MAI_EDIT_PATH))),
        Route("GET", re.compile(r"/azure/openai/v1/models/?"), "models", "list_deployments"),
        Route("GET", re.compile(r"/azure/openai/models/?"), "models", "list_base_models"),
    )
    formats = ("png", "jpeg")

    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator)
        emulator.deployments.update(default_deployments(emulator.models.names(self.provider)))

    def model_added(self, name: str) -> None:
        self.emulator.deployments.setdefault(name, name)

    def env(self, url: str, key: str) -> dict[str, str]:
        return {"AZURE_OPENAI_ENDPOINT": f"{url}/azure", "AZURE_OPENAI_API_KEY": key}

    def peek(self, call: Call) -> Peek:
        prompt, model, _ = super().peek(call)
        path_deployment = call.params.get("deployment")
        deployment = path_deployment or model  # v1 and MAI: the body's model names the deployment
        deployed = self.emulator.deployments.get(deployment or "")
        return Peek(prompt, deployed or model or deployment, deployment)

    def authorize(self, call: Call, key_bearer: bool = False) -> None:
        """An `api-key`, an Entra ID token for Cognitive Services, or (key_bearer) the key as a bearer."""
        key = self.emulator.keys[self.provider]
        if call.headers.get("api-key") == key:
            return
        token = bearer(call.headers)
        if token and ((key_bearer and token == key) or self.emulator.token_valid(token)):
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
        if call.path in (MAI_PATH, MAI_EDIT_PATH):
            return self._accept_mai(call)
        deployment = call.params.get("deployment")
        v1 = deployment is None
        version = self._api_version(call, v1=v1)
        self.authorize(call, key_bearer=v1)
        body, images = generation_body(call)
        deployment, info = self._deployment(body, deployment)
        job = image_job(self.provider, body, info, self.formats, images)
        job.deployment, job.api_version = deployment, version
        return job

    def _accept_mai(self, call: Call) -> Job:
        self.authorize(call)
        edit = call.path == MAI_EDIT_PATH
        if edit and not call.form:
            raise Rejected(_azure_error(400, "BadRequest", "Image edits take multipart/form-data."))
        if call.bad_json or not isinstance(call.body, dict):
            raise Rejected(_azure_error(400, "BadRequest", "Invalid JSON in the request body."))
        deployment = call.body.get("model")
        if not isinstance(deployment, str) or not deployment:
            raise Rejected(_azure_error(400, "BadRequest", "Missing required parameter: model"))
        info = self._deployed(deployment)
        if info.api != "mai":
            raise _not_supported(info.name)
        return mai_edit_job(call, info, deployment) if edit else mai_job(call.body, info, deployment)

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

    def _deployed(self, deployment: str) -> ModelInfo:
        """The served model behind a deployment; DeploymentNotFound if none, or if its model is not live."""
        model = self.emulator.deployments.get(deployment)
        info = self.emulator.models.get(self.provider, model) if model is not None else None
        if info is None:
            raise Rejected(_azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist. If"
                " you created the deployment within the last 5 minutes, please wait a moment and try"
                " again.",
            ))
        return info

    def _deployment(self, body: dict[str, Any], deployment: str | None) -> tuple[str, ModelInfo]:
        """(deployment name, model entry) for an OpenAI-route request, or the Azure error."""
        sent = body.get("model")
        if deployment is None:  # v1 path: the body's model names the deployment
            if not isinstance(sent, str):
                raise Rejected(openai_error(400, "Missing required parameter: 'model'.",
                                              "missing_required_parameter", "model"))
            deployment, sent = sent, None
        info = self._deployed(deployment)
        if sent is not None and sent != info.name:
            raise Rejected(_azure_error(400, "BadRequest", f"The model '{sent}' does not exist."))
        if info.api == "mai":
            raise _not_supported(info.name)
        return deployment, info

    # -- listing --------------------------------------------------------------------------------

    def list_deployments(self, call: Call) -> Reply:
        """v1 `GET /openai/v1/models`: the resource's deployments (of live models), by deployment name."""
        self._api_version(call, v1=True)
        self.authorize(call, key_bearer=True)
        served = self.emulator.models
        data = [{"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}
                for name, model in self.emulator.deployments.items() if served.get(self.provider, model)]
        return json_reply(200, {"object": "list", "data": data})

    def list_base_models(self, call: Call) -> Reply:
        """Dated `GET /openai/models?api-version=`: the base models (the MAI ones are not Azure OpenAI's)."""
        if call.query.get("api-version") not in AZURE_API_VERSIONS:
            return _azure_error(404, "404", "Resource not found")
        self.authorize(call)
        data = [_base_model(info) for info in self.emulator.models.served(self.provider).values()
                if info.api != "mai"]
        return json_reply(200, {"data": data, "object": "list"})

    # -- response side --------------------------------------------------------------------------

    def error(self, kind: str, job: Job, retry_after: float) -> Reply:
        if kind == "rate_limit":
            seconds = max(1, math.ceil(retry_after))
            if job.route in ("mai", "mai-edit"):
                return _azure_error(429, "429", f"Rate limit is exceeded. Try again in {seconds} seconds.",
                                    retry_headers(retry_after))
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
        if job.stream and job.route is None:
            reply = self.streamed(job, kind)
            reply.headers["apim-request-id"] = response_id()
            return reply
        payload = mai_payload(job, kind) if job.route in ("mai", "mai-edit") else self.payload(job, kind)
        return json_reply(200, payload, {"apim-request-id": response_id()})

    def image_item(self, job: Job, kind: str | None, index: int) -> dict[str, Any]:
        return {"b64_json": job.image_b64(kind, index), "content_filter_results": _content_filter(False)}


def default_deployments(models: list[str]) -> dict[str, str]:
    """Every live Foundry model deployed under its own name."""
    return {name: name for name in models}


def _base_model(info: ModelInfo) -> dict[str, Any]:
    return {
        "id": info.name, "object": "model", "created_at": MODEL_CREATED, "status": "succeeded",
        "capabilities": {"fine_tune": False, "inference": True, "completion": False, "chat_completion": False,
                         "embeddings": False},
        "lifecycle_status": "generally-available",
    }


def _not_supported(model: str) -> Rejected:
    return Rejected(_azure_error(
        400, "OperationNotSupported", "The imagesGenerate operation does not work with the"
        f" specified model, {model}. Please choose different model and try again.",
    ))


def _content_filter(filtered: bool) -> dict[str, Any]:
    safe = {"filtered": False, "severity": "safe"}
    return {
        "hate": safe, "self_harm": safe, "sexual": safe,
        "violence": {"filtered": True, "severity": "high"} if filtered else safe,
    }


def _azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": message}}, headers)
