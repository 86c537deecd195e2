"""What a provider's batch API answers about a job: its state (the google-genai SDK's JobState names, which
every batch API here maps its own onto) and, once done, each request's image or why there is none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mkdocs_imagegen.errors import ImagegenError
from mkdocs_imagegen.providers.base import ProviderImage

# The SDK's JobState names, as the batch's state, and what each means here.
DONE_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
               "JOB_STATE_EXPIRED"}


@dataclass
class BatchPoll:
    """A batch job's state and, once it is done, each request's image or why there is none (by cache key)."""

    state: str
    results: dict[str, ProviderImage | ImagegenError] = field(default_factory=dict)
    # Results read as they arrive (a result file); may raise ImagegenError part way.
    stream: Iterator[tuple[str, ProviderImage | ImagegenError]] | None = None

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def items(self) -> Iterator[tuple[str, ProviderImage | ImagegenError]]:
        return self.stream if self.stream is not None else iter(self.results.items())
