"""OpenAI direct: `POST {base}/images/generations` with a bearer key (httpx)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

from ..errors import AuthenticationError, BadRequestError, ImagegenError
from ..request import GenerationRequest
from . import openai_common as common
from .base import Provider, ProviderContext, ProviderImage

KEY_VARIABLE = "OPENAI_API_KEY"
BASE_URL_VARIABLE = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
RESPONSE_HEADERS = ("x-request-id", "openai-processing-ms")


class OpenAIProvider(Provider):
    name = "openai"
    label = "OpenAI"

    def __init__(self, context: ProviderContext | None = None, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(context)
        self._http = common.HttpClientHolder(transport)

    # --- configuration -----------------------------------------------------------------------------

    def _key(self) -> tuple[str, str] | None:
        return self.credentials.secret(self.name, KEY_VARIABLE)

    @property
    def base_url(self) -> str:
        base = self.options.get("base_url") or self.credentials.env(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
        return str(base).rstrip("/")

    def is_authenticated(self) -> bool:
        return self._key() is not None

    def auth_hint(self) -> str:
        return f"set {KEY_VARIABLE}, or run `mkdocs-imagegen keys set openai`"

    # --- generation --------------------------------------------------------------------------------

    def prepare(self, model: str) -> None:
        self._http.get()

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        key = self._key()
        if key is None:
            raise AuthenticationError(f"no API key: {self.auth_hint()}",
                                      provider=self.name, model=request.model)
        secret, source = key
        size = common.wire_size(self.context.catalogue.get(request.model), request.size)
        body = common.request_body(request, size, model=request.model)
        response = common.post_json(
            self._http.get(), f"{self.base_url}/images/generations",
            headers={"authorization": f"Bearer {secret}"}, body=body, timeout=timeout,
            provider=self.name, model=request.model)
        if response.status_code != 200:
            raise self._error(response, request.model, secret, source)
        image = common.decode_response(response, provider=self.name, model=request.model)
        details = {**image.details, **common.header_details(response, RESPONSE_HEADERS)}
        return ProviderImage(
            data=image.data, provider=self.name, model=request.model, mime_type=image.mime_type,
            requested={"size": size, "quality": request.quality, "output_format": common.OUTPUT_FORMAT},
            details=details)

    def _error(self, response: httpx.Response, model: str, secret: str, source: str) -> ImagegenError:
        error = common.parse_error(response)
        if error.status == 401 or "invalid_api_key" in error.codes:
            reason = error.code or error.status
            return AuthenticationError(
                f"OpenAI rejected the API key from {source} ({reason}): set a valid key",
                provider=self.name, model=model)
        mapped = common.common_error(error, provider=self.name, model=model, secret=secret,
                                     headers=response.headers)
        if mapped is not None:
            return mapped
        if error.status == 404 or "model_not_found" in error.codes:
            return BadRequestError(
                f"model {model!r} is not available to this key at {self.base_url} "
                f"({common.describe(error, secret)})", provider=self.name, model=model)
        return common.bad_request(error, provider=self.name, model=model, secret=secret)

    def close(self) -> None:
        self._http.close()
