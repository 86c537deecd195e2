"""mkdocs-imagegen: an AI-generated banner for every page of a MkDocs site, cached by what decides the image.

The Python API, for scripts and notebooks::

    import mkdocs_imagegen

    banner = mkdocs_imagegen.generate("a lighthouse at dusk", model="gpt-image-2", size="1200x640")
    banner.save("lighthouse.png")
    for row in mkdocs_imagegen.plan("mkdocs.yml"):
        print(row.src, row.status)

`generate` and `plan` are imported when first used: `import mkdocs_imagegen.plugin` (what MkDocs
does for a build) stays as light as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.errors import (
    ArgumentError,
    AuthenticationError,
    BackfillStopped,
    BadRequestError,
    BatchJobUnknownError,
    CacheEntryError,
    CatalogueError,
    CommandStopped,
    ConfigError,
    ContentRefusedError,
    EditError,
    FrontMatterError,
    ImagegenError,
    InvalidImageError,
    ModelNotFoundError,
    NotAuthenticatedError,
    PageError,
    QuotaExhaustedError,
    RateLimitedError,
    ReferenceProblem,
    ResponseTooLargeError,
    RetryHintTooLongError,
    StoreSetupError,
    SyncError,
    TransientError,
    UnknownModelError,
    UnverifiedOrganizationError,
)
from mkdocs_imagegen.request import QUALITIES, GenerationRequest, Reference, Size

if TYPE_CHECKING:
    from mkdocs_imagegen.build.planning import PlannedBanner
    from mkdocs_imagegen.commands.api import Banner, generate, plan

__all__ = [
    "QUALITIES",
    "ArgumentError",
    "AuthenticationError",
    "BadRequestError",
    "Banner",
    "BackfillStopped",
    "BatchJobUnknownError",
    "CacheEntryError",
    "CatalogueError",
    "CommandStopped",
    "ConfigError",
    "ContentRefusedError",
    "EditError",
    "FrontMatterError",
    "GenerationRequest",
    "ImagegenError",
    "InvalidImageError",
    "ModelNotFoundError",
    "NotAuthenticatedError",
    "PageError",
    "PlannedBanner",
    "QuotaExhaustedError",
    "RateLimitedError",
    "Reference",
    "ReferenceProblem",
    "ResponseTooLargeError",
    "RetryHintTooLongError",
    "Size",
    "StoreSetupError",
    "SyncError",
    "TransientError",
    "UnknownModelError",
    "UnverifiedOrganizationError",
    "generate",
    "plan",
]

_LAZY = {"Banner": "mkdocs_imagegen.commands.api", "generate": "mkdocs_imagegen.commands.api",
         "plan": "mkdocs_imagegen.commands.api", "PlannedBanner": "mkdocs_imagegen.build.planning"}


def __getattr__(name: str) -> Any:
    """`generate`, `plan` and their types, imported on first use (they bring the build, httpx and the SDKs)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mkdocs_imagegen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
