"""A build's settings: the plugin options the build needs, as plain values (MkDocs-free, so the commands,
the public API and the plugin make them alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkdocs_imagegen.pages.template import PageTemplate
from mkdocs_imagegen.request import Size


@dataclass
class PipelineSettings:
    fmt: str = "webp"
    concurrency: int = 4
    timeout: float = 300.0
    retries: int = 4
    max_new: int | None = None
    cache_url: str | None = None  # a shared cache on an object store (shared_store.py)
    cache_lease: float = 60.0  # seconds a lease on it lasts unless its holder renews it


@dataclass(frozen=True)
class Settings:
    """The plugin options this module needs, as plain values."""

    model: str
    size: Size
    quality: str
    fmt: str
    cache_dir: Path
    output_dir: str = "assets/banners"
    offline: bool = False
    concurrency: int = 4
    timeout: float = 300.0
    retries: int = 4
    max_new: int | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # catalogue entries from mkdocs.yml
    providers: dict[str, Any] = field(default_factory=dict)
    serve_mode: str | None = None  # set while `mkdocs serve` runs: background | placeholders | cached
    widths: tuple[int, ...] = ()  # narrower copies of each banner (option `widths`), for srcset
    style: str = ""  # option `style`: appended to every prompt
    style_reference: tuple[str, ...] = ()  # option `style_reference`: images (docs-relative) sent with every prompt
    docs_dir: Path | None = None  # where reference paths are resolved (None: references are refused)
    wait_for_batch: bool = True  # a banner pending in a recorded batch job gets a placeholder, not a request
    cache_url: str | None = None  # a cache shared by many machines on an object store (shared_store.py)
    cache_lease: float = 60.0
    template: PageTemplate | None = None  # options `prompt_template` + `template_pages`
    # No `model:` option: pages that name no model get the plugin's default, and keep banners made under a former one.
    model_from_default: bool = False

    def pipeline_settings(self) -> PipelineSettings:
        return PipelineSettings(fmt=self.fmt, concurrency=self.concurrency, timeout=float(self.timeout),
                                retries=self.retries, max_new=self.max_new,
                                cache_url=None if self.offline else self.cache_url, cache_lease=self.cache_lease)
