"""Every error mkdocs-imagegen raises, in one hierarchy.

Each says what failed and why, in one line a user can act on. Messages are built from the
provider's own reason text (redacted), never from a credential. The pipeline stamps `provider` and
`model` on whatever a provider raises, so a message names them.

    ImagegenError                   base: one line for the user
    ├── ConfigError                 fix the input (an option, a page's front matter, a model name)
    │   ├── UnknownModelError       no catalogue entry or family knows the model
    │   ├── CatalogueError          a catalogue entry (packaged or `models:`) does not fit the schema
    │   ├── FrontMatterError        a wrong banner_* value, or front matter that is not YAML; names the page
    │   ├── PageError               a page's banner cannot be planned; names the page file and the key
    │   ├── ArgumentError           a wrong argument to `generate` (Python or command line); names it
    │   ├── ReferenceProblem        a reference image that cannot be sent; the caller names the page and key
    │   └── StoreSetupError         a cache_url no store can serve, or its extra is missing; says what to do
    ├── EditError                   front matter `pick` cannot edit safely; says what to set by hand
    ├── CommandStopped              a command ends here: one line and its exit code
    │   ├── SyncError               a site `sync` cannot work on
    │   └── BackfillStopped         `backfill` stops (cost, confirmation, failed banners)
    ├── NotAuthenticatedError       no provider serving the model has credentials; lists each one's fix
    ├── AuthenticationError         a credential is missing or refused; says what to set
    │   └── UnverifiedOrganizationError  OpenAI's 403: verify the organization (falls through)
    ├── ContentRefusedError         a safety refusal of the prompt or the image
    ├── BadRequestError             the provider rejected the request itself
    │   └── ModelNotFoundError      the provider has no such model (falls through)
    ├── QuotaExhaustedError         a quota that will never allow this request
    ├── RetryHintTooLongError       the provider asked to wait longer than a banner waits
    ├── ResponseTooLargeError       the answer was larger than any image answer may be
    ├── CacheEntryError             a cache file that cannot be used; names the file
    ├── BatchJobUnknownError        the provider does not know a recorded batch job; its banners are made again
    └── TransientError              worth another try (retryable)
        ├── RateLimitedError        429, with the provider's retry hint
        └── InvalidImageError       the answer is not a usable image

Not retried unless `retryable`; `falls_through` errors send the banner to the next provider that
serves the model.

Signals outside the tree: they never reach a user as themselves.

    Cancelled                       the pipeline is shutting down (build/jobs.py)
    LeaseTimeout                    another machine held a shared-store lease too long (cache/leases.py)
    Unavailable                     the shared store failed; off for the build, warned once (cache/shared.py)
    Interrupted                     Ctrl-C during `compare`; the command says what was kept (commands/compare.py)
    Rejected                        the emulator's answer to a malformed request (emulator/wire.py)
    Failure                         the command line's rendering of an error, with hints (cli/common.py)
"""

from __future__ import annotations


def one_line(text: object) -> str:
    """`text` on one line, whitespace runs (newlines too) made one space: how every error reaches the user."""
    return " ".join(str(text).split())


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
    """A page's banner cannot be planned: names the page file and the front-matter key (`key`), then why (`reason`)."""

    def __init__(self, page: str, key: str, reason: object) -> None:
        super().__init__(f"{page}: {key}: {reason}")
        self.page, self.key, self.reason = page, key, str(reason)


class ReferenceProblem(ConfigError):
    """Why a reference image cannot be sent; the caller names the page and the key."""


class StoreSetupError(ConfigError):
    """The cache_url names no store this plugin can use, or its extra is not installed: says what to do."""


class EditError(ImagegenError):
    """The front matter cannot be edited safely (`pick`); says what to set by hand."""


class CommandStopped(ImagegenError):
    """A command ends with this one line and `exit_code` (2: fix the input, 1: something failed)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SyncError(CommandStopped):
    """A site `sync` cannot work on."""


class BackfillStopped(CommandStopped):
    """`backfill` stops: over --max-cost, not confirmed, or banners that failed."""


class NotAuthenticatedError(ImagegenError):
    """No provider that serves the model has credentials; `hints` holds each one's fix."""

    def __init__(self, message: str, *, model: str | None = None, hints: tuple[str, ...] = ()) -> None:
        super().__init__(message, model=model)
        self.hints = hints


class ArgumentError(ConfigError):
    """A wrong argument to `generate`: names it (`argument`), then why (`reason`)."""

    def __init__(self, argument: str, reason: object) -> None:
        super().__init__(f"{argument}: {reason}")
        self.argument, self.reason = argument, str(reason)


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
