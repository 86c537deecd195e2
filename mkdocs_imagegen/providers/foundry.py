"""Azure AI Foundry / Azure OpenAI: the deployment-path `images/generations` API (httpx).

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

from ..errors import AuthenticationError, BadRequestError, ImagegenError
from ..request import GenerationRequest
from . import openai_common as common
from .base import Provider, ProviderContext, ProviderImage

KEY_VARIABLE = "AZURE_OPENAI_API_KEY"
ENDPOINT_VARIABLE = "AZURE_OPENAI_ENDPOINT"
API_VERSION_VARIABLE = "AZURE_OPENAI_API_VERSION"
DEFAULT_API_VERSION = "2025-04-01-preview"
TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"
TOKEN_REFRESH_MARGIN = 300.0  # seconds before expires_on when a cached token is renewed
RESPONSE_HEADERS = ("x-request-id", "apim-request-id", "x-ms-region")
NO_CREDENTIAL = ("no Azure credential: set AZURE_OPENAI_API_KEY, or run `az login` / use a managed identity "
                 "(DefaultAzureCredential found none)")
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

    def _key(self) -> tuple[str, str] | None:
        return self.credentials.secret(self.name, KEY_VARIABLE)

    def is_authenticated(self) -> bool:
        # With an endpoint but no key, Entra ID is assumed; the token is only asked for on first use.
        return self.endpoint is not None

    def auth_hint(self) -> str:
        return (f"set {ENDPOINT_VARIABLE} and {KEY_VARIABLE}, or `az login` (Entra ID), "
                "or run `mkdocs-imagegen keys set foundry`")

    # --- generation --------------------------------------------------------------------------------

    def prepare(self, model: str) -> None:
        self._http.get()

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        endpoint = self.endpoint
        if endpoint is None:
            raise AuthenticationError(f"no endpoint: {self.auth_hint()}",
                                      provider=self.name, model=request.model)
        deployment = self.deployment(request.model)
        auth = self._auth(request.model)
        size = common.wire_size(self.context.catalogue.get(request.model), request.size)
        response = common.post_json(
            self._http.get(), self._url(endpoint, deployment), headers=auth.headers,
            body=common.request_body(request, size), timeout=timeout, provider=self.name, model=request.model)
        if response.status_code != 200:
            raise self._error(response, request.model, deployment, auth)
        image = common.decode_response(response, provider=self.name, model=request.model)
        requested = {"size": size, "quality": request.quality, "output_format": common.OUTPUT_FORMAT,
                     "deployment": deployment, "api_version": self.api_version}
        details = {**image.details, **common.header_details(response, RESPONSE_HEADERS), "auth": auth.kind}
        return ProviderImage(data=image.data, provider=self.name, model=request.model,
                             mime_type=image.mime_type, requested=requested, details=details)

    def _url(self, endpoint: str, deployment: str) -> str:
        return (f"{endpoint}/openai/deployments/{quote(deployment, safe='')}/images/generations"
                f"?api-version={quote(self.api_version, safe='')}")

    def _auth(self, model: str) -> Auth:
        key = self._key()
        if key is not None:
            return Auth({"api-key": key[0]}, key[0], f"the API key from {key[1]}", "api-key")
        token = self._entra.get(provider=self.name, model=model)
        return Auth({"authorization": f"Bearer {token}"}, token, ENTRA_SOURCE, "entra-id")

    # --- errors ------------------------------------------------------------------------------------

    def _error(self, response: httpx.Response, model: str, deployment: str, auth: Auth) -> ImagegenError:
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
        return AuthenticationError(f"Azure rejected {auth.source} ({reason}): {fix}",
                                   provider=self.name, model=model)

    def _not_found(self, error: common.ApiError, model: str, deployment: str,
                   secret: str | None) -> BadRequestError:
        if "deploymentnotfound" in error.codes:
            return BadRequestError(
                f"deployment {deployment!r} not found at {self.endpoint}: if your deployment of {model} has "
                f"another name, set `providers.foundry.deployments: {{{model}: <your deployment name>}}` "
                "in mkdocs.yml", provider=self.name, model=model)
        return BadRequestError(
            f"404 for /openai/deployments/{deployment}/images/generations with api-version "
            f"{self.api_version}: check {ENDPOINT_VARIABLE} (or providers.foundry.endpoint) and "
            f"providers.foundry.api_version ({common.describe(error, secret)})",
            provider=self.name, model=model)

    def close(self) -> None:
        self._http.close()
        self._entra.close()
