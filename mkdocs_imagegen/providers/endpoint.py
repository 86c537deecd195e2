"""A named OpenAI-compatible endpoint (`providers.endpoints.NAME`): a local GPU server, a self-hosted one, a
company gateway. `POST {base_url}/images/generations` (or `images/edits` with reference images), with a
bearer key only when `key_env` names one (httpx).

The servers that exist differ in small ways (emulator/local.py has their sources): stable-diffusion.cpp's
server takes `output_format` and answers `b64_json`, LocalAI answers a `url` unless asked for
`response_format: b64_json`, diffusers' example server answers only a `url`. So `output_format` is always
sent, `response_format` when the endpoint's option sets it, and a `url` answer is fetched, but only from
the endpoint's own origin (scheme, host, port): any other host is refused unasked, as a request forgery.
Whatever size comes back is fitted to the published size by the build, like every answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import httpx

from mkdocs_imagegen.errors import (
    AuthenticationError,
    BadRequestError,
    ImagegenError,
    InvalidImageError,
    ModelNotFoundError,
    TransientError,
)
from mkdocs_imagegen.provider_table import ENDPOINTS, SPECS, ProviderSpec
from mkdocs_imagegen.providers import endpoint_models
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.answers import scrub
from mkdocs_imagegen.providers.base import LiveCheck, Provider, ProviderContext, ProviderImage, safe_url
from mkdocs_imagegen.request import GenerationRequest

OUTPUT_FORMATS = ("png", "jpeg", "webp")  # what stable-diffusion.cpp's `output_format` takes
LISTING_TIMEOUT = 10.0  # seconds `GET {base_url}/models` may take, when `models: auto` asks it


SHOWN_NAMES = 20  # of a server's listing, in a message: the rest are counted


@dataclass(frozen=True)
class Listing:
    """What `GET {base_url}/models` said, once per build: the names, or why there are none."""

    names: tuple[str, ...] = ()
    problem: str | None = None

    def describe(self) -> str:
        if self.problem:
            return self.problem
        if not self.names:
            return "it lists no model"
        shown = ", ".join(scrub(name, None, limit=80) for name in self.names[:SHOWN_NAMES])
        more = f" and {len(self.names) - SHOWN_NAMES} more" if len(self.names) > SHOWN_NAMES else ""
        return f"it lists {shown}{more}"


class EndpointProvider(Provider):
    label = "OpenAI-compatible endpoint"

    def __init__(self, context: ProviderContext | None = None, *, name: str = "endpoint",
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(context)
        self.name = name  # type: ignore[misc] - each endpoint is a provider of its own name
        self.label = endpoint_models.label(name)  # type: ignore[misc]
        self._http = common.HttpClientHolder(transport)
        self._listing: Listing | None = None
        self._listing_lock = threading.Lock()

    # --- configuration -----------------------------------------------------------------------------

    @property
    def spec(self) -> ProviderSpec:
        return SPECS[ENDPOINTS]

    @property
    def base_url(self) -> str:
        return str(self.options.get("base_url") or "").rstrip("/")

    @property
    def endpoint_url(self) -> str:
        return self.base_url

    @property
    def concurrency(self) -> int | None:
        """How many requests it takes at once (a local GPU: one); None: the build's `concurrency`."""
        value = self.options.get("concurrency")
        return int(value) if value else None

    @property
    def max_in_flight(self) -> int | None:
        return self.concurrency  # the build's limiter for this provider holds the rest back

    @property
    def timeout(self) -> float | None:
        value = self.options.get("timeout")
        return float(value) if value else None

    @property
    def key_env(self) -> str | None:
        value = self.options.get("key_env")
        return str(value) if value else None

    def _key(self) -> tuple[str, str] | None:
        if self.key_env is None:
            return None
        secret = self.credentials.env(self.key_env)
        return (secret, self.key_env) if secret else None

    def is_authenticated(self) -> bool:
        return self.key_env is None or self._key() is not None

    def auth_hint(self) -> str:
        return f"set {self.key_env} (providers.{ENDPOINTS}.{self.name}.key_env names it)"

    def _status_parts(self) -> list[str]:
        key = self._key()
        at = f"{self.concurrency} at a time" if self.concurrency else "the build's concurrency"
        return [f"key from {key[1]}" if key else "no key", f"endpoint {safe_url(self.base_url)}", at]

    def model_not_found(self, model: str, detail: str) -> ModelNotFoundError:
        listed = ", ".join(self.models()) or "none (models: auto)"
        return ModelNotFoundError(
            f"{self.label} has no model {model!r} loaded ({detail}); its `models` option names: {listed}; "
            "`mkdocs-imagegen models --live` lists what it serves now", provider=self.name, model=model)

    def _headers(self) -> dict[str, str]:
        key = self._key()
        return {"authorization": f"Bearer {key[0]}"} if key else {}

    def _secret(self) -> str | None:
        key = self._key()
        return key[0] if key else None

    # --- generation --------------------------------------------------------------------------------

    def prepare(self, model: str) -> None:
        self._http.get()

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        if not self.is_authenticated():
            raise AuthenticationError(f"no key: {self.auth_hint()}", provider=self.name, model=request.model)
        timeout = self.timeout or timeout
        info = self.context.catalogue.get(request.model) or endpoint_models.entry(request.model, (self.name,))
        size = common.wire_size(info, request.size)
        fmt = common.output_format(request, size, OUTPUT_FORMATS)
        body: dict[str, Any] = {"model": request.model, "prompt": request.sent_prompt, "n": 1, "size": size,
                                "output_format": fmt}
        if fmt in common.OUTPUT_COMPRESSION:
            body["output_compression"] = common.OUTPUT_COMPRESSION[fmt]
        if request.quality != "auto":
            body["quality"] = request.quality
        if self.options.get("response_format"):
            body["response_format"] = self.options["response_format"]
        url = f"{self.base_url}/{common.image_path(request)}"
        response = self._send("POST", url, body, timeout, request.model, files=common.reference_files(request))
        if response.status_code != 200:
            raise self._error(response, request.model)
        image = self._image(response, request.model, timeout)
        return ProviderImage(data=image.data, provider=self.name, model=request.model, mime_type=image.mime_type,
                             requested={"size": size, "quality": request.quality, "output_format": fmt},
                             details=image.details)

    def _send(self, method: str, url: str, body: dict[str, Any] | None, timeout: float, model: str | None,
              files: list[Any] | None = None) -> httpx.Response:
        try:
            return common.send(self._http.get(), method, url, headers=self._headers(), body=body, timeout=timeout,
                               provider=self.name, model=model, files=files)
        except TransientError as error:
            if "timed out" in error.message:  # a local server may be loading the model, or just slow
                raise TransientError(f"{error.message}: a model may still be loading; a slow machine needs "
                                     f"providers.{ENDPOINTS}.{self.name}.timeout raised",
                                     provider=self.name, model=model) from None
            raise

    def _image(self, response: httpx.Response, model: str, timeout: float) -> common.DecodedImage:
        """The image of a 200 answer: `data[0].b64_json`, or `data[0].url` fetched from this endpoint's origin."""
        payload = common.json_answer(response, provider=self.name, model=model)
        item = common.first_item(payload) if isinstance(payload, dict) else {}
        if item.get("b64_json") or not isinstance(item.get("url"), str):
            return common.decode_payload(payload, provider=self.name, model=model)
        data = self._fetch(item["url"], model, timeout)
        common.check_complete(data, provider=self.name, model=model)
        return common.DecodedImage(data, common.sniff_mime_type(data), common.response_details(payload, item))

    def _fetch(self, location: str, model: str, timeout: float) -> bytes:
        """GET an image URL the endpoint answered, only from its own origin, under the same caps as any answer."""
        url = urljoin(self.base_url + "/", location.strip())
        if origin(url) != origin(self.base_url):
            shown = common.scrub(safe_url(url), self._secret(), 120)
            raise BadRequestError(
                f"answered with an image URL on another origin ({shown}); only {safe_url(origin_url(self.base_url))} "
                "is fetched from: set the server's public URL to the base_url's host, or ask for b64_json "
                f"(providers.{ENDPOINTS}.{self.name}.response_format)", provider=self.name, model=model)
        response = self._send("GET", url, None, timeout, model)
        if response.status_code != 200:
            raise TransientError(f"the image URL it answered with gave HTTP {response.status_code}",
                                 provider=self.name, model=model)
        if not response.content:
            raise InvalidImageError("the image URL it answered with gave an empty body", provider=self.name,
                                    model=model)
        return response.content

    def _error(self, response: httpx.Response, model: str) -> ImagegenError:
        secret = self._secret()
        error = parse_error(response)
        where = safe_url(self.base_url)
        if error.status in (401, 403):
            if self.key_env is None:
                return AuthenticationError(f"{where} asks for a key (HTTP {error.status}): put it in an environment "
                                           f"variable and name it in providers.{ENDPOINTS}.{self.name}.key_env",
                                           provider=self.name, model=model)
            return AuthenticationError(f"{where} refused the key from {self.key_env} (HTTP {error.status}: "
                                       f"{common.describe(error, secret)})", provider=self.name, model=model)
        mapped = common.common_error(error, provider=self.name, model=model, secret=secret, headers=response.headers)
        if mapped is not None:
            return mapped
        if error.status == 404:
            return self.model_not_found(model, f"HTTP 404 at {where}: {common.describe(error, secret)}")
        return common.bad_request(error, provider=self.name, model=model, secret=secret)

    # --- listing -----------------------------------------------------------------------------------

    def listing(self) -> Listing:
        """`GET {base_url}/models`, asked once (bounded by LISTING_TIMEOUT) and kept for the build."""
        with self._listing_lock:
            if self._listing is None:
                self._listing = self._ask_listing(LISTING_TIMEOUT)
            return self._listing

    def _ask_listing(self, timeout: float) -> Listing:
        if not self.is_authenticated():
            return Listing(problem=f"not asked: {self.auth_hint()}")
        url = f"{self.base_url}/models"
        try:
            response = self._send("GET", url, None, timeout, None)
        except ImagegenError as error:
            return Listing(problem=f"GET {safe_url(url)} failed: {error.message}")
        if response.status_code != 200:
            return Listing(problem=f"GET {safe_url(url)} answered HTTP {response.status_code} "
                                   f"({common.describe(parse_error(response), self._secret())})")
        return Listing(tuple(common.listed_ids(response)))

    def live(self, *, timeout: float = 20.0) -> LiveCheck:
        listing = self._ask_listing(timeout)
        if listing.problem:
            return LiveCheck(False, listing.problem)
        key = self._key()
        how = f"key from {key[1]} accepted" if key else "no key"
        return LiveCheck(True, f"{how}; answered at {safe_url(self.base_url)}", listing.names, listing.names)

    def image_models(self, names: Any) -> tuple[str, ...]:
        return tuple(sorted(set(names)))

    def close(self) -> None:
        self._http.close()


def parse_error(response: httpx.Response) -> common.ApiError:
    """The OpenAI shape, plus the ones these servers send: `{"error": "text"}` (stable-diffusion.cpp), with
    `"message"` beside it, or `{"detail": ...}` (FastAPI servers); anything else is quoted as text."""
    error = common.parse_error(response)
    if error.code or error.type or error.inner_code:
        return error
    try:
        payload = response.json()
    except ValueError:
        return error
    if not isinstance(payload, dict):
        return error
    text = payload.get("error") if isinstance(payload.get("error"), str) else None
    detail = payload.get("message") or payload.get("detail")
    message = " ".join(str(part) for part in (text, detail) if part)
    return common.ApiError(status=response.status_code, message=message or error.message)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what "the same origin" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def origin_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
