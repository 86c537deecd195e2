"""Every error mkdocs-imagegen raises, in one hierarchy.

Each says what failed and why, in one line a user can act on. Messages are built from the
provider's own reason text (redacted), never from a credential. The pipeline stamps `provider` and
`model` on whatever a provider raises, so a message names them.

    ImagegenError                   base: one line for the user
    ├── ConfigError                 fix the input (an option, a page's front matter, a model name)
    │   ├── UnknownModelError       no catalogue entry or family knows the model
    │   ├── CatalogueError          a catalogue entry (packaged or `models:`) does not fit the schema
    │   ├── FrontMatterError        a wrong banner_* value; names the page file and the key
    │   └── PageError               a page's banner cannot be planned; names the page file and the key
    ├── AuthenticationError         a credential is missing or refused; says what to set
    │   └── UnverifiedOrganizationError  OpenAI's 403: verify the organization (falls through)
    ├── ContentRefusedError         a safety refusal of the prompt or the image
    ├── BadRequestError             the provider rejected the request itself
    │   └── ModelNotFoundError      the provider has no such model (falls through)
    ├── QuotaExhaustedError         a quota that will never allow this request
    ├── RetryHintTooLongError       the provider asked to wait longer than a banner waits
    ├── ResponseTooLargeError       the answer was larger than any image answer may be
    ├── CacheEntryError             a cache file that cannot be used; names the file
    └── TransientError              worth another try (retryable)
        ├── RateLimitedError        429, with the provider's retry hint
        └── InvalidImageError       the answer is not a usable image

Not retried unless `retryable`; `falls_through` errors send the banner to the next provider that
serves the model.
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


class CatalogueError(ConfigError):
    """A catalogue entry (packaged or from `models:` in mkdocs.yml) that does not fit the schema."""


class FrontMatterError(ConfigError):
    """A wrong banner_* value: one line naming the page file and the key."""


class PageError(ConfigError):
    """A page's banner cannot be planned: names the page file and the front-matter key."""


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


class BatchJobUnknownError(ImagegenError):
    """The provider answers 404 for a recorded batch job: submitted under another key or project, or a record
    that is not ours. Its banners are no longer waited for."""


class RetryHintTooLongError(ImagegenError):
    """The provider asked to wait longer than a banner waits on retry hints: no banner this build."""


class ResponseTooLargeError(ImagegenError):
    """The provider sent more than an image answer may be. Not retried: it would be downloaded again."""


class CacheEntryError(ImagegenError):
    """A cache file that cannot be used (a link, corrupt, inconsistent): names the file. The entry
    then counts as missing."""


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
