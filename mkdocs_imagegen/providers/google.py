"""Google Gemini image models through the google-genai SDK (Gemini API key or Vertex AI).

The SDK is imported lazily: a fully cached MkDocs build never pays for it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.catalogue.lookup import SizeRule
from mkdocs_imagegen.errors import (
    AuthenticationError,
    BadRequestError,
    ImagegenError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from mkdocs_imagegen.providers.answers import is_redirect, refused_redirect, scrub
from mkdocs_imagegen.providers.base import LiveCheck, Provider, ProviderContext, ProviderImage, safe_url
from mkdocs_imagegen.providers.gemini_answers import (
    error_reasons,
    extract_image,
    is_zero_quota,
    parse_body,
    retry_delay,
)
from mkdocs_imagegen.request import GenerationRequest

if TYPE_CHECKING:
    from google.genai import Client

BASE_URL_VARIABLE = "GOOGLE_GEMINI_BASE_URL"
VERTEX_VARIABLE = "GOOGLE_GENAI_USE_VERTEXAI"
PROJECT_VARIABLE = "GOOGLE_CLOUD_PROJECT"
LOCATION_VARIABLE = "GOOGLE_CLOUD_LOCATION"
DEFAULT_LOCATION = "global"
VERTEX_SOURCE = "the Vertex AI Application Default Credentials"
VERTEX_FIX = ("run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS), "
              "or unset GOOGLE_GENAI_USE_VERTEXAI to use GEMINI_API_KEY")
# What a model with no tiers rule in the catalogue is asked for (every Gemini image model takes these).
GEMINI_SIZES = SizeRule(kind="tiers", aspect_ratios=("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9",
                                                     "21:9"), image_sizes=("1K",))
def contents(request: GenerationRequest) -> Any:
    """The prompt, after the reference images as inline image parts (images first, as Google's examples do)."""
    if not request.references:
        return request.sent_prompt
    from google.genai import types

    return [*(types.Part.from_bytes(data=reference.data, mime_type=reference.mime_type)
              for reference in request.references), request.sent_prompt]


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


# --- the provider ----------------------------------------------------------------------------------


class GoogleProvider(Provider):
    name = "google"
    label = "Google Gemini"

    def __init__(self, context: ProviderContext | None = None, *, transport: Any = None) -> None:
        super().__init__(context)
        self._transport = transport  # an httpx transport, for tests
        self._httpx: Any = None  # our httpx.Client, handed to the SDK
        self._client: Client | None = None
        self._lock = threading.Lock()

    # --- configuration -----------------------------------------------------------------------------

    def vertex(self) -> tuple[str, str] | None:
        """(project, location) when Vertex AI mode is configured."""
        project = self.credentials.env(PROJECT_VARIABLE)
        if truthy(self.credentials.env(VERTEX_VARIABLE)) and project:
            return project, self.credentials.env(LOCATION_VARIABLE) or DEFAULT_LOCATION
        return None

    @property
    def base_url(self) -> str | None:
        return self.options.get("base_url") or self.credentials.env(BASE_URL_VARIABLE)

    @property
    def endpoint_url(self) -> str | None:
        return self.base_url

    def _status_parts(self) -> list[str]:
        vertex = self.vertex()
        if vertex is None:
            return super()._status_parts()
        return [f"Vertex AI, project {vertex[0]} in {vertex[1]} (application default credentials)"]

    def is_authenticated(self) -> bool:
        return self.vertex() is not None or self._key() is not None

    def auth_hint(self) -> str:
        return "set GEMINI_API_KEY (or GOOGLE_API_KEY), or run `mkdocs-imagegen keys set google`"

    def _source(self) -> str:
        if self.vertex() is not None:
            return VERTEX_SOURCE
        key = self._key()
        return key[1] if key else "GEMINI_API_KEY"

    def secret(self) -> str | None:
        key = self._key()
        return key[0] if key and self.vertex() is None else None

    # --- client ------------------------------------------------------------------------------------

    def client(self, model: str) -> Client:
        """The SDK client, made once (each provider keeps one)."""
        with self._lock:
            if self._client is None:
                self._client = self._new_client(model)
            return self._client

    def _new_client(self, model: str, http: Any = None) -> Client:
        from google import genai
        from google.genai import types

        from mkdocs_imagegen.providers.transport import guarded_client

        # Our httpx client instead of the SDK's: `timeout` bounds the whole request, the body is capped
        # (transport.py), and no redirect is followed (the SDK's own client follows one to any host, key
        # included). The SDK leaves a client it was given open: close() closes it.
        if http is None and self._httpx is None:
            self._httpx = guarded_client(self._transport)
        http = http or self._httpx  # another client only for batch results (google_batch.py: a larger cap)
        vertex = self.vertex()
        if vertex is not None:
            http_options = types.HttpOptions(base_url=self.options.get("base_url") or None,
                                             retry_options=types.HttpRetryOptions(attempts=1),
                                             httpx_client=http)
            try:
                return genai.Client(vertexai=True, project=vertex[0], location=vertex[1],
                                    http_options=http_options)
            except Exception as exc:  # google.auth could not find credentials
                raise AuthenticationError(
                    f"cannot use {VERTEX_SOURCE} ({type(exc).__name__}): {VERTEX_FIX}"
                    " (see docs: troubleshooting#no-credentials)",
                    provider=self.name, model=model) from None
        key = self._key()
        if key is None:
            raise AuthenticationError(f"no API key: {self.auth_hint()}"
                                      " (see docs: troubleshooting#no-credentials)", provider=self.name,
                                      model=model)
        http_options = types.HttpOptions(base_url=self.base_url or None,
                                         retry_options=types.HttpRetryOptions(attempts=1),
                                         httpx_client=http)
        return genai.Client(vertexai=False, api_key=key[0], http_options=http_options)

    # --- generation --------------------------------------------------------------------------------

    def requested(self, request: GenerationRequest) -> dict[str, Any]:
        """What we ask Gemini for: the nearest supported ratio and, for multi-tier models, a tier."""
        info = self.context.catalogue.get(request.model)
        rule = info.sizes if info is not None and info.sizes.kind == "tiers" else GEMINI_SIZES
        requested: dict[str, Any] = {"aspect_ratio": rule.nearest_ratio(request.size)}
        if len(rule.image_sizes) > 1:
            requested["image_size"] = rule.tier(request.size)
        return requested

    _batch_api: Any = None  # google_batch.GeminiBatches, made when first asked for

    # --- what its batch API uses (google_batch.GeminiHost) --------------------------------------------

    def contents(self, request: GenerationRequest) -> Any:
        return contents(request)

    def batch_client(self, model: str, *, limit: int) -> tuple[Client, Any]:
        """An SDK client of its own for batch jobs, whose answers may be up to `limit` bytes: (the SDK client,
        the httpx client under it). The caller closes both."""
        from mkdocs_imagegen.providers.transport import guarded_client

        http = guarded_client(self._transport, limit=limit)
        return self._new_client(model, http), http

    def batches(self) -> Any:
        from mkdocs_imagegen.providers.google_batch import GeminiBatches

        if self._batch_api is None:
            self._batch_api = GeminiBatches(self)
        return self._batch_api

    def prepare(self, model: str) -> None:
        from google import genai  # noqa: F401 - importing the SDK is the slow part (about half a second)

        if self.vertex() is None:  # a key client is made locally; Vertex AI looks for credentials first
            self.client(model)

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        from google.genai import types

        requested = self.requested(request)
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=types.ImageConfig(**requested),
            http_options=types.HttpOptions(timeout=max(1, math.ceil(timeout * 1000))),  # milliseconds
            should_return_http_response=True,  # the raw body: see "response parsing" above
        )
        try:
            client = self.client(request.model)
            response = client.models.generate_content(model=request.model, contents=contents(request),
                                                       config=config)
        except Exception as exc:
            raise self.error_for(exc, request.model, timeout) from None
        raw = response.sdk_http_response.body if response.sdk_http_response else None
        payload = parse_body(raw, provider=self.name, model=request.model)
        image = extract_image(payload, provider=self.name, model=request.model, secret=self.secret())
        return ProviderImage(data=image.data, provider=self.name, model=request.model,
                             mime_type=image.mime_type, requested=requested, details=image.details)

    def live(self, *, timeout: float = 20.0) -> LiveCheck:
        """The Gemini models list through the SDK (`GET {base}/v1beta/models`), every page of it."""
        if not self.is_authenticated():
            return LiveCheck(False, f"not set up: {self.auth_hint()}")
        from google.genai import errors as genai_errors
        from google.genai import types

        milliseconds = math.ceil(timeout * 1000)
        config = types.ListModelsConfig(page_size=1000, http_options=types.HttpOptions(timeout=milliseconds))
        try:
            names = [str(model.name or "").removeprefix("models/")
                     for model in self.client("").models.list(config=config)]
        except Exception as exc:
            if isinstance(exc, genai_errors.APIError) and exc.code == 404:
                where = safe_url(self.base_url) if self.base_url else "the default endpoint"
                return LiveCheck(False, f"listing models answered 404 at {where}: "
                                        f"check {BASE_URL_VARIABLE} or providers.google.base_url")
            error = self.error_for(exc, "", timeout)
            suffix = f": check {BASE_URL_VARIABLE} or providers.google.base_url" if error.retryable else ""
            return LiveCheck(False, f"{error.message}{suffix}")
        at = f" at {safe_url(self.base_url)}" if self.base_url else ""
        where = f"{self._source().removeprefix('the ')} accepted{at}"
        return LiveCheck(True, where, self.image_models(names))

    def error_for(self, exc: Exception, model: str, timeout: float) -> ImagegenError:
        from google.genai import errors as genai_errors

        if isinstance(exc, ImagegenError):  # ours, or GuardedTransport's (an answer too large)
            exc.provider, exc.model = exc.provider or self.name, exc.model or model
            return exc
        if isinstance(exc, genai_errors.APIError):
            return self._api_error(exc, model)
        if is_timeout(exc):
            return TransientError(f"timed out after {timeout:g} s ({type(exc).__name__})",
                                  provider=self.name, model=model)
        if is_transport_error(exc):
            detail = scrub(str(exc), self.secret())
            return TransientError(f"connection failed ({type(exc).__name__}: {detail})",
                                  provider=self.name, model=model)
        if is_google_auth_error(exc):
            return AuthenticationError(f"cannot use {VERTEX_SOURCE} ({type(exc).__name__}): {VERTEX_FIX}"
                                       " (see docs: troubleshooting#no-credentials)",
                                       provider=self.name, model=model)
        return TransientError(f"unexpected {type(exc).__name__}: {scrub(str(exc), self.secret())}",
                              provider=self.name, model=model)

    def _api_error(self, exc: Any, model: str) -> ImagegenError:
        code = int(exc.code or 0)
        status = exc.status or ""
        message = scrub(exc.message or "", self.secret())
        where = f"{code} {status}".strip()
        if is_redirect(code):
            location = getattr(getattr(exc, "response", None), "headers", {}).get("location")
            return refused_redirect(code, location, secret=self.secret(),
                                    fix=f"check {BASE_URL_VARIABLE} or providers.google.base_url",
                                    provider=self.name, model=model)
        reasons = error_reasons(exc)
        if "API_KEY_INVALID" in reasons or code in (401, 403):
            return self._auth_error(code, status, reasons, model)
        if code == 429:
            if is_zero_quota(exc):
                return QuotaExhaustedError(
                    f"quota for this model is 0 on this project (429 {status}): enable billing or use "
                    f"another model ({message})"
                    " (see docs: troubleshooting#provider-busy)", provider=self.name, model=model)
            return RateLimitedError(f"rate limited ({where}: {message})", provider=self.name, model=model,
                                    retry_after=retry_delay(exc))
        if code == 404:
            return self.model_not_found(model, f"{where}")
        if code >= 500 or code in (408,):
            return TransientError(f"server error ({where}: {message})", provider=self.name, model=model)
        return BadRequestError(f"rejected the request ({where}: {message})", provider=self.name, model=model)

    def _auth_error(self, code: int, status: str, reasons: Iterable[str], model: str) -> AuthenticationError:
        """Built from codes only: Google's own text is never echoed here."""
        reason = ", ".join(sorted(reasons)) or status or str(code)
        source = self._source()
        if source == VERTEX_SOURCE:
            return AuthenticationError(f"Google rejected {source} ({code} {reason}): check "
                                       f"GOOGLE_CLOUD_PROJECT, or {VERTEX_FIX}"
                                       " (see docs: troubleshooting#refused-key)", provider=self.name, model=model)
        return AuthenticationError(f"Google rejected the API key from {source} ({code} {reason}): "
                                   "set a valid key with access to the Gemini API"
                                   " (see docs: troubleshooting#refused-key)",
                                   provider=self.name, model=model)

    def close(self) -> None:
        if self._batch_api is not None:
            self._batch_api.close()
        with self._lock:
            client, self._client = self._client, None
            http, self._httpx = self._httpx, None
        if client is not None:
            client.close()
        if http is not None:
            http.close()


def _exception_types(*names: str) -> tuple[type[BaseException], ...]:
    """The named exception classes of httpx and httpx2, whichever are installed."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        found.extend(getattr(module, name) for name in names if hasattr(module, name))
    return tuple(found)


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, _exception_types("TimeoutException") + (TimeoutError,))


def is_transport_error(exc: BaseException) -> bool:
    return isinstance(exc, _exception_types("TransportError") + (ConnectionError,))


def is_google_auth_error(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("google.auth") for cls in type(exc).__mro__)
