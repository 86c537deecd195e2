"""One error taxonomy for every provider.

Each error says which provider and model failed and why, in one line a user can act on.
Messages are built from the provider's own reason text, never from a credential.
"""

from __future__ import annotations


class ImagegenError(Exception):
    """Base class: something the user should read, in one line."""

    retryable = False
    falls_through = False  # True: the provider cannot serve this model; another one may

    def __init__(self, message: str, *, provider: str | None = None, model: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model

    @property
    def message(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        where = " ".join(part for part in (self.provider, self.model) if part)
        return f"{where}: {self.message}" if where else self.message


class ConfigError(ImagegenError):
    """A wrong option, front-matter value or model name: fix the input."""


class UnknownModelError(ConfigError):
    """No provider knows this model."""


class AuthenticationError(ImagegenError):
    """The provider rejected or lacks a credential; the message names what to set."""


class UnverifiedOrganizationError(AuthenticationError):
    """OpenAI's 403: the organization must be verified before it may use this model. Not retried;
    another provider that serves the model is tried instead."""

    falls_through = True


class ContentRefusedError(ImagegenError):
    """The provider refused the prompt or the image (safety). Not retryable."""


class BadRequestError(ImagegenError):
    """The provider rejected the request itself (size, parameter, deployment)."""


class ModelNotFoundError(BadRequestError):
    """The provider has no such model (retired, not deployed, not released to this key). Not retried;
    another provider that serves the model is tried instead."""

    falls_through = True


class QuotaExhaustedError(ImagegenError):
    """A quota that will never allow this request (for example Gemini `limit: 0`)."""


class TransientError(ImagegenError):
    """5xx, timeouts, dropped connections, broken image bytes: worth another try."""

    retryable = True


class RateLimitedError(TransientError):
    """429: retry, but never sooner than `retry_after` seconds when the provider gave a hint."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.retry_after = retry_after


class InvalidImageError(TransientError):
    """The provider answered, but the bytes are not a usable image."""
