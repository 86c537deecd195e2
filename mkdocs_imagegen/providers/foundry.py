"""Azure AI Foundry / Azure OpenAI image generation (httpx).

Three routes, chosen by model and `api_version` (Microsoft's image how-to shows only the v1 route,
so that is the default): v1 `{endpoint}/openai/v1/images/generations` with the deployment as
`model`; the dated `{endpoint}/openai/deployments/{deployment}/images/generations?api-version=`;
and, for the MAI models, `{resource}.services.ai.azure.com/mai/v1/images/generations` with
`width` and `height`.

Auth is an `api-key` header when AZURE_OPENAI_API_KEY (or a stored key) is set, else an
Entra ID bearer token from `DefaultAzureCredential`, asked for lazily on the first
generation and cached until five minutes before it expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx

from mkdocs_imagegen.errors import AuthenticationError, BadRequestError, ImagegenError
from mkdocs_imagegen.provider_table import SPECS
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.base import LiveCheck, Provider, ProviderContext, ProviderImage, ProviderStatus, safe_url
from mkdocs_imagegen.request import GenerationRequest

KEY_VARIABLE = SPECS["foundry"].key_variables[0]
ENDPOINT_VARIABLE = "AZURE_OPENAI_ENDPOINT"
API_VERSION_VARIABLE = "AZURE_OPENAI_API_VERSION"
DEFAULT_API_VERSION = "v1"
OUTPUT_FORMATS = ("png", "jpeg")  # `output_format` on Azure: no webp (PROVIDERS.md), so webp is encoded here
V1_VERSIONS = ("v1", "preview")  # the v1 route; "preview" adds ?api-version=preview for preview features
# The MAI image models live on the resource's AI Services host, the OpenAI models on either host.
AI_SERVICES_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")
TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
TOKEN_REFRESH_MARGIN = 300.0  # seconds before expires_on when a cached token is renewed
RESPONSE_HEADERS = ("x-request-id", "apim-request-id", "x-ms-region")
NO_CREDENTIAL = ("no Azure credential: set AZURE_OPENAI_API_KEY, or run `az login` / use a managed identity "
                 "(DefaultAzureCredential found none) (see docs: troubleshooting#no-credentials)")
ENTRA_SOURCE = "the Entra ID token from DefaultAzureCredential"


@dataclass(frozen=True)
class Auth:
    headers: dict[str, str]
    secret: str  # kept out of every message
    source: str  # where the credential came from, for messages
    kind: str  # api-key | entra-id


class TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class EntraToken:
    """A thread-safe, lazily fetched, cached bearer token. A failure is remembered for good."""

    def __init__(self, credential: TokenCredential | None = None) -> None:
        self._credential = credential
        self._owns_credential = credential is None
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0
        self._failure: str | None = None

    def get(self, *, provider: str, model: str) -> str:
        with self._lock:
            if self._failure is not None:
                raise AuthenticationError(self._failure, provider=provider, model=model)
            if self._token is None or time.time() >= self._expires_on - TOKEN_REFRESH_MARGIN:
                self._fetch(provider=provider, model=model)
            assert self._token is not None
            return self._token

    def _fetch(self, *, provider: str, model: str) -> None:
        try:
            access = self._credential_or_default().get_token(TOKEN_SCOPE)
            token, expires_on = str(access.token), float(access.expires_on)
        except Exception as exc:  # every azure-identity failure means "no usable credential"
            self._failure = failure_message(exc)
            raise AuthenticationError(self._failure, provider=provider, model=model) from None
        self._token, self._expires_on = token, expires_on

    def _credential_or_default(self) -> TokenCredential:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential  # heavy: only when Entra ID is needed

            # When no credential is found, azure-identity logs a 15-line chain report; our
            # AuthenticationError already says what to set, in one line.
            logging.getLogger("azure.identity").setLevel(logging.ERROR)
            self._credential = DefaultAzureCredential()
        return self._credential

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def close(self) -> None:
        with self._lock:
            credential = self._credential
            if self._owns_credential:
                self._credential = None
        close = getattr(credential, "close", None)
        if self._owns_credential and callable(close):
            close()


def failure_message(exc: Exception) -> str:
    if type(exc).__name__ == "CredentialUnavailableError":
        return NO_CREDENTIAL
    return f"{NO_CREDENTIAL}; the last one failed with {type(exc).__name__}"


def normalise_endpoint(endpoint: str) -> str:
    """Accept `https://x.openai.azure.com`, with or without a trailing `/` or `/openai[/v1]`."""
    endpoint = endpoint.strip().rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if endpoint.endswith(suffix):
            return endpoint[: -len(suffix)]
    return endpoint


def mai_endpoint(endpoint: str) -> str:
    """The resource's AI Services endpoint, where the MAI models are served."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    for suffix in AI_SERVICES_HOSTS:
        if host.endswith(suffix):
            return urlunsplit((parts.scheme, host[: -len(suffix)] + ".services.ai.azure.com", "", "", ""))
    return endpoint


def mai_call(base: str, request: GenerationRequest, deployment: str, size: str) -> tuple[str, str, dict[str, Any]]:
    """(route, URL, body) of Foundry's MAI image routes. The edit route (one reference image, multipart) takes
    no size: its answer is fitted to the banner's size like any other."""
    if request.references:
        return "mai-edit", f"{base}/mai/v1/images/edits", {"model": deployment, "prompt": request.sent_prompt}
    width, _, height = size.partition("x")
    body: dict[str, Any] = {"model": deployment, "prompt": request.sent_prompt, "width": int(width),
                            "height": int(height)}
    return "mai", f"{base}/mai/v1/images/generations", body


class FoundryProvider(Provider):
    name = "foundry"
    label = "Azure AI Foundry"

    def __init__(self, context: ProviderContext | None = None, credential: TokenCredential | None = None, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(context)
        self._http = common.HttpClientHolder(transport)
        self._entra = EntraToken(credential)

    # --- configuration -----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str | None:
        endpoint = self.options.get("endpoint") or self.credentials.env(ENDPOINT_VARIABLE)
        return normalise_endpoint(str(endpoint)) if endpoint else None

    @property
    def api_version(self) -> str:
        return str(self.options.get("api_version") or self.credentials.env(API_VERSION_VARIABLE)
                   or DEFAULT_API_VERSION)

    def deployment(self, model: str) -> str:
        deployments = self.options.get("deployments") or {}
        if isinstance(deployments, Mapping) and deployments.get(model):
            return str(deployments[model])
        return model

    @property
    def endpoint_url(self) -> str | None:
        return self.endpoint

    def is_authenticated(self) -> bool:
        # With an endpoint but no key, Entra ID is assumed; the token is only asked for on first use.
        return self.endpoint is not None

    def status(self) -> ProviderStatus:
        key = self._key()
        if self.endpoint is None and key is not None:
            return ProviderStatus(self.name, self.label, False,
                                  f"set {ENDPOINT_VARIABLE} (or providers.foundry.endpoint in mkdocs.yml); "
                                  f"{key[1]} is set but a key needs the resource's endpoint")
        return super().status()

    def _status_parts(self) -> list[str]:
        parts = super()._status_parts()
        if self._key() is None:
            parts[0] = "Entra ID (DefaultAzureCredential: az login or a managed identity; checked on first request)"
        return parts

    def auth_hint(self) -> str:
        return (f"set {ENDPOINT_VARIABLE} and {KEY_VARIABLE}, or `az login` (Entra ID), "
                "or run `mkdocs-imagegen keys set foundry`")

    # --- generation --------------------------------------------------------------------------------

    def prepare(self, model: str) -> None:
        self._http.get()

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        return self.generate_variants([request], timeout=timeout)[0]

    def variants_per_request(self, model: str) -> int:
        info = self.context.catalogue.get(model)
        return 1 if info is not None and info.api == "mai" else common.MAX_N  # the MAI route takes no `n`

    def generate_variants(self, requests: list[GenerationRequest], *, timeout: float) -> list[ProviderImage]:
        """One request with `n` = len(requests) (at most MAX_N); they differ only in `variant`."""
        if len(requests) > self.variants_per_request(requests[0].model):
            return super().generate_variants(requests, timeout=timeout)
        request = requests[0]
        endpoint = self.endpoint
        if endpoint is None:
            raise AuthenticationError(f"no endpoint: {self.auth_hint()} (see docs: troubleshooting#no-credentials)",
                                      provider=self.name, model=request.model)
        deployment = self.deployment(request.model)
        auth = self.auth(request.model)
        size = common.wire_size(self.context.catalogue.get(request.model), request.size)
        route, url, body = self._call(endpoint, request, deployment, size)
        if len(requests) > 1:
            body["n"] = len(requests)
        files = common.reference_files(request)
        response = common.post_json(self._http.get(), url, headers=auth.headers, body=body, timeout=timeout,
                                    provider=self.name, model=request.model, files=files)
        if response.status_code != 200:
            raise self.error_for(response, request.model, deployment, auth)
        images = common.decode_images(response, provider=self.name, model=request.model, count=len(requests))
        requested = {"deployment": deployment, "route": route}
        if route != "mai-edit":  # MAI's edit route takes no size: its answer is fitted like any other
            requested["size"] = size
        if not route.startswith("mai"):
            requested.update(quality=request.quality, output_format=body["output_format"], api_version=self.api_version)
        headers = common.header_details(response, RESPONSE_HEADERS)
        return [ProviderImage(data=image.data, provider=self.name, model=request.model, mime_type=image.mime_type,
                              requested=requested, details={**image.details, **headers, "auth": auth.kind})
                for image in images]

    def _call(self, endpoint: str, request: GenerationRequest, deployment: str,
              size: str) -> tuple[str, str, dict[str, Any]]:
        """(route, URL, JSON body) for the model and the configured api_version."""
        info = self.context.catalogue.get(request.model)
        if info is not None and info.api == "mai":
            return mai_call(mai_endpoint(endpoint), request, deployment, size)
        path = common.image_path(request)
        fmt = common.output_format(request, size, OUTPUT_FORMATS)
        if self.api_version in V1_VERSIONS:
            query = "" if self.api_version == "v1" else f"?api-version={quote(self.api_version, safe='')}"
            return ("v1", f"{endpoint}/openai/v1/{path}{query}",
                    common.edit_fields(info, request, common.request_body(request, size, model=deployment, fmt=fmt)))
        return ("deployments", f"{endpoint}/openai/deployments/{quote(deployment, safe='')}/{path}"
                f"?api-version={quote(self.api_version, safe='')}",
                common.edit_fields(info, request, common.request_body(request, size, fmt=fmt)))

    def live(self, *, timeout: float = 20.0) -> LiveCheck:
        """v1: `GET /openai/v1/models` lists the resource's deployments. A dated api_version is checked with
        `GET /openai/models?api-version=`, which says whether the endpoint takes that version."""
        endpoint = self.endpoint
        if endpoint is None:
            return LiveCheck(False, f"not set up: {self.status().detail}")
        try:
            auth = self.auth("")
        except ImagegenError as error:
            return LiveCheck(False, error.message)
        v1 = self.api_version in V1_VERSIONS
        url = f"{endpoint}/openai/v1/models" if v1 else (
            f"{endpoint}/openai/models?api-version={quote(self.api_version, safe='')}")
        try:
            response = common.send(self._http.get(), "GET", url, headers=auth.headers, body=None, timeout=timeout,
                                   provider=self.name, model=None)
        except ImagegenError as error:
            return LiveCheck(False, f"{error.message}: check {ENDPOINT_VARIABLE} or providers.foundry.endpoint")
        if response.status_code == 401:
            return LiveCheck(False, self._auth_error(common.parse_error(response), "", auth).message)
        if response.status_code != 200:
            return LiveCheck(False, (
                f"GET {safe_url(url)} answered {response.status_code} "
                f"({common.describe(common.parse_error(response), auth.secret)}): check {ENDPOINT_VARIABLE} "
                f"(or providers.foundry.endpoint) and providers.foundry.api_version ({self.api_version})"))
        ids = common.listed_ids(response)
        where = f"{auth.source.removeprefix('the ')} accepted at {safe_url(endpoint)}, api_version {self.api_version}"
        if not v1:  # the dated route lists base models, not deployments
            return LiveCheck(True, f"{where}; deployments are listed only with api_version v1")
        return LiveCheck(True, where, self._served_models(ids), tuple(ids))

    def _served_models(self, deployments: list[str]) -> tuple[str, ...]:
        """Deployment names as model names, through the `deployments` map."""
        by_deployment = {str(name): str(model) for model, name in (self.options.get("deployments") or {}).items()}
        return self.image_models(by_deployment.get(name, name) for name in deployments)

    def missing_deployments(self, check: LiveCheck) -> list[str]:
        """Deployments named in `providers.foundry.deployments` that the resource's listing lacks."""
        if not check.ok or self.api_version not in V1_VERSIONS:  # only the v1 listing names deployments
            return []
        deployments = self.options.get("deployments") or {}
        return [f"{model} -> {name}" for model, name in deployments.items() if str(name) not in check.listed]

    def auth(self, model: str) -> Auth:
        """The request headers for `model`: the API key if one is set, else a Microsoft Entra ID token."""
        key = self._key()
        if key is not None:
            return Auth({"api-key": key[0]}, key[0], f"the API key from {key[1]}", "api-key")
        token = self._entra.get(provider=self.name, model=model)
        return Auth({"authorization": f"Bearer {token}"}, token, ENTRA_SOURCE, "entra-id")

    def client(self) -> httpx.Client:
        return self._http.get()

    # --- errors ------------------------------------------------------------------------------------

    def error_for(self, response: httpx.Response, model: str, deployment: str, auth: Auth) -> ImagegenError:
        error = common.parse_error(response)
        if error.status == 401:
            return self._auth_error(error, model, auth)
        if error.status == 404:
            return self._not_found(error, model, deployment, auth.secret)
        mapped = common.common_error(error, provider=self.name, model=model, secret=auth.secret,
                                     headers=response.headers)
        if mapped is not None:
            return mapped
        return common.bad_request(error, provider=self.name, model=model, secret=auth.secret)

    def _auth_error(self, error: common.ApiError, model: str, auth: Auth) -> AuthenticationError:
        """Built from codes only: Azure's own text is never echoed here."""
        reason = error.code or "401"
        if auth.kind == "entra-id":
            self._entra.invalidate()
            fix = (f"give the identity the 'Cognitive Services OpenAI User' role on the resource, "
                   f"or set {KEY_VARIABLE}")
        else:
            fix = f"set a valid key in {KEY_VARIABLE} or run `mkdocs-imagegen keys set foundry`"
        return AuthenticationError(f"Azure rejected {auth.source} ({reason}): {fix}"
                                   " (see docs: troubleshooting#refused-key)",
                                   provider=self.name, model=model)

    def _not_found(self, error: common.ApiError, model: str, deployment: str,
                   secret: str | None) -> ImagegenError:
        if "deploymentnotfound" in error.codes:
            return self.model_not_found(model, (
                f"no deployment {deployment!r} at {safe_url(self.endpoint or '')}; if your deployment of {model} "
                f"has another name, set `providers.foundry.deployments: {{{model}: <your deployment name>}}` "
                "in mkdocs.yml"))
        return BadRequestError(
            f"404 with api-version {self.api_version}: check {ENDPOINT_VARIABLE} (or providers.foundry.endpoint) "
            f"and providers.foundry.api_version ({common.describe(error, secret)})",
            provider=self.name, model=model)

    def close(self) -> None:
        self._http.close()
        self._entra.close()
