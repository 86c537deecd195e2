"""OpenAI direct: `POST {base}/images/generations` (or `images/edits` with reference images) with a bearer
key (httpx)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from mkdocs_imagegen.errors import AuthenticationError, ImagegenError, UnverifiedOrganizationError
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.base import LiveCheck, Provider, ProviderContext, ProviderImage, safe_url
from mkdocs_imagegen.request import GenerationRequest

BASE_URL_VARIABLE = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
RESPONSE_HEADERS = ("x-request-id", "openai-processing-ms")
VERIFY_URL = "https://platform.openai.com/settings/organization/general"
OUTPUT_FORMATS = ("png", "jpeg", "webp")  # `output_format` of every GPT image model (the images API reference)


class OpenAIProvider(Provider):
    name = "openai"
    label = "OpenAI"
    _batch_api: Any = None  # openai_batch.OpenAIBatches, made when first asked for

    def __init__(self, context: ProviderContext | None = None, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(context)
        self._http = common.HttpClientHolder(transport)

    # --- configuration -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        base = self.options.get("base_url") or self.credentials.env(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
        return str(base).rstrip("/")

    @property
    def endpoint_url(self) -> str:
        return self.base_url

    def is_authenticated(self) -> bool:
        return self._key() is not None

    def auth_hint(self) -> str:
        return f"set {self.spec.key_variables[0]}, or run `mkdocs-imagegen keys set openai`"

    # --- generation --------------------------------------------------------------------------------

    def prepare(self, model: str) -> None:
        self._http.get()

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        return self.generate_variants([request], timeout=timeout)[0]

    def variants_per_request(self, model: str) -> int:
        return common.MAX_N

    def generate_variants(self, requests: list[GenerationRequest], *, timeout: float) -> list[ProviderImage]:
        """One request with `n` = len(requests) (at most MAX_N); they differ only in `variant`."""
        request = requests[0]
        key = self._key()
        if key is None:
            raise AuthenticationError(f"no API key: {self.auth_hint()} (see docs: troubleshooting#no-credentials)",
                                      provider=self.name, model=request.model)
        secret, source = key
        info = self.context.catalogue.get(request.model)
        size = common.wire_size(info, request.size)
        fmt = common.output_format(request, size, OUTPUT_FORMATS)
        body = common.edit_fields(info, request, common.request_body(request, size, model=request.model,
                                                                     n=len(requests), fmt=fmt))
        response = common.post_json(
            self._http.get(), f"{self.base_url}/{common.image_path(request)}",
            headers={"authorization": f"Bearer {secret}"}, body=body, timeout=timeout,
            provider=self.name, model=request.model, files=common.reference_files(request))
        if response.status_code != 200:
            raise self.error_for(response, request.model, secret, source)
        images = common.decode_images(response, provider=self.name, model=request.model, count=len(requests))
        headers = common.header_details(response, RESPONSE_HEADERS)
        return [ProviderImage(
            data=image.data, provider=self.name, model=request.model, mime_type=image.mime_type,
            requested={"size": size, "quality": request.quality, "output_format": fmt},
            details={**image.details, **headers}) for image in images]

    def live(self, *, timeout: float = 20.0) -> LiveCheck:
        key = self._key()
        if key is None:
            return LiveCheck(False, f"not set up: {self.auth_hint()}")
        secret, source = key
        url = f"{self.base_url}/models"
        try:
            response = common.send(self._http.get(), "GET", url, headers={"authorization": f"Bearer {secret}"},
                                   body=None, timeout=timeout, provider=self.name, model=None)
        except ImagegenError as error:
            return LiveCheck(False, f"{error.message}: check {BASE_URL_VARIABLE} or providers.openai.base_url")
        if response.status_code in (401, 403):
            return LiveCheck(False, self.error_for(response, "", secret, source).message)
        if response.status_code != 200:
            return LiveCheck(False, f"GET {safe_url(url)} answered {response.status_code} "
                                    f"({common.describe(common.parse_error(response), secret)}): check "
                                    f"{BASE_URL_VARIABLE} or providers.openai.base_url")
        served = self.image_models(common.listed_ids(response))
        return LiveCheck(True, f"key from {source} accepted at {safe_url(self.base_url)}", served)

    def error_for(self, response: httpx.Response, model: str, secret: str, source: str) -> ImagegenError:
        error = common.parse_error(response)
        if error.status == 401 or "invalid_api_key" in error.codes:
            reason = error.code or error.status
            return AuthenticationError(
                f"OpenAI rejected the API key from {source} ({reason}): set a valid key"
                " (see docs: troubleshooting#refused-key)",
                provider=self.name, model=model)
        mapped = common.common_error(error, provider=self.name, model=model, secret=secret,
                                     headers=response.headers)
        if mapped is not None:
            return mapped
        if error.status == 404 or "model_not_found" in error.codes:
            return self.model_not_found(model, f"{error.code or error.status} at {safe_url(self.base_url)}")
        if error.status == 403 and "must be verified" in error.message:
            return UnverifiedOrganizationError(
                f"OpenAI serves {model} only to verified organizations: verify yours at {VERIFY_URL} "
                "(Verify Organization; access can take 15 minutes to arrive)"
                " (see docs: troubleshooting#unverified-organization)", provider=self.name, model=model)
        return common.bad_request(error, provider=self.name, model=model, secret=secret)

    # --- what its batch API uses (openai_batch.OpenAIHost) --------------------------------------------

    def api_key(self, model: str) -> tuple[str, str]:
        """(secret, where it came from); AuthenticationError naming the fix when no key is set."""
        key = self._key()
        if key is None:
            raise AuthenticationError(f"no API key: {self.auth_hint()}", provider=self.name, model=model)
        return key

    def client(self) -> httpx.Client:
        return self._http.get()

    def download_client(self, *, limit: int) -> httpx.Client:
        """A client of its own (the caller closes it) whose answers may be up to `limit` bytes."""
        return self._http.with_limit(limit)

    def batches(self) -> Any:
        from mkdocs_imagegen.providers.openai_batch import OpenAIBatches

        if self._batch_api is None:
            self._batch_api = OpenAIBatches(self)
        return self._batch_api

    def close(self) -> None:
        if self._batch_api is not None:
            self._batch_api.close()
        self._http.close()
