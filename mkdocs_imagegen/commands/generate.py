"""One banner now, made the way a build makes a page's banner: the Python API's `generate` and the work
behind `mkdocs-imagegen generate`.

The prompt is a page with `banner_prompt: PROMPT` (and `banner_model`, `banner_size`,
`banner_quality`, `banner_reference` from the arguments) going through the same session, pipeline
and cache as a build, so a banner a page uses is a cache hit here, and the other way round.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

from mkdocs_imagegen.build.planning import estimate, placeholder_reason
from mkdocs_imagegen.build.session import BannerSession, PageBanner
from mkdocs_imagegen.build.settings import Settings
from mkdocs_imagegen.cache.files import atomic_write
from mkdocs_imagegen.errors import ArgumentError, ImagegenError, NotAuthenticatedError, PageError
from mkdocs_imagegen.imaging import encode, fit, load_source
from mkdocs_imagegen.pages.frontmatter import BannerSpec
from mkdocs_imagegen.pages.references import ReferenceLoader
from mkdocs_imagegen.request import MAX_PROMPT_CHARS, Size

SOURCE = "generate"  # where a problem is, in the session's words: the call, not a page
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
ARGUMENTS = {"model": "model", "provider": "provider", "quality": "quality", "reference": "references",
             "style": "style"}  # words of a session's front-matter key -> the argument of `generate` it names


@dataclass(frozen=True)
class Banner:
    """One generated (or cached) banner: the published file's bytes, exactly `size`, in `format`."""

    data: bytes
    size: tuple[int, int]  # (width, height), as Pillow's Image.size
    format: str  # webp | png | jpeg: the site's `format` option (default webp)
    model: str  # the model that made it (a retired name's successor, an alias resolved)
    provider: str  # who made it; "cache" when it was already there, "placeholder" for a local placeholder
    cost: float | None  # estimated USD of this call: 0.0 from the cache, None when the price is unknown
    cache_path: Path | None  # the file in the cache (None for a placeholder, which is never cached)
    cache_key: str = ""
    original: Path | None = None  # the provider's image the banner was cut from (for another format)

    def save(self, path: str | Path) -> Path:
        """Write the banner to `path`, in the format its suffix names (.png, .jpg, .jpeg, .webp)."""
        target = Path(path)
        fmt = SUFFIX_FORMATS.get(target.suffix.lower())
        if fmt is None:
            raise ArgumentError("path", f"{str(target)!r} must end in .png, .jpg, .jpeg or .webp (the suffix picks "
                                        "the format)")
        atomic_write(target, self.encoded(fmt))
        return target

    def encoded(self, fmt: str) -> bytes:
        """The banner in `fmt`: the published bytes, or encoded again from the original (never from a lossy copy)."""
        if fmt == self.format:
            return self.data
        source = self.original.read_bytes() if self.original is not None else self.data
        return encode(fit(load_source(source).image, Size(*self.size)), fmt)


def generate(prompt: str, *, model: str | None = None, size: str | Size | None = None, quality: str | None = None,
             references: Sequence[str | Path] = (), config_file: str | Path | None = None,
             provider: str | None = None, log: logging.Logger | None = None) -> Banner:
    """Generate one banner for `prompt` (or find it in the cache), exactly as a page with that prompt gets it.

    `model`, `size` and `quality` default to the site's options (the plugin's defaults without a
    `config_file`: gemini-3.1-flash-image, 1792x1024, auto). `references` are image files (paths
    relative to the current folder) sent with the prompt. `provider` forces one provider;
    "placeholder" draws a local placeholder and needs no credentials.

    The cache is the site's `cache_dir` when `config_file` names a mkdocs.yml, else `.banners` in
    the current folder (a build's default `cache_dir` for a site there). Credentials come from the
    environment and `mkdocs-imagegen keys`, as for a build. A second call with the same arguments
    is a cache hit and sends nothing.

    Raises ArgumentError (a ConfigError) naming the argument (an unknown model, a quality it does not take, an
    unreadable reference), NotAuthenticatedError (no provider serving the model has credentials;
    `hints` says how to set one up), or the provider's error when the banner could not be made.
    """
    text = prompt.strip()
    if not text or len(text) > MAX_PROMPT_CHARS:
        raise ArgumentError("prompt", f"{'must not be empty' if not text else f'is {len(text):,} characters long'}; "
                                      f"a prompt has 1 to {MAX_PROMPT_CHARS:,} characters")
    settings = _settings(Path(config_file) if config_file is not None else None)
    spec = BannerSpec(prompt=text, model=model, provider=provider, size=_size(size), quality=quality,
                      references=tuple(str(path) for path in references) or None)
    given = ReferenceLoader(None, log, anywhere=True)
    with BannerSession(settings, log=log or logging.getLogger("mkdocs_imagegen.generate"),
                       given_references=given) as session:
        session.started_generating = True  # one banner: no "generating new banners ... the count follows" line
        try:
            banner = session.add(spec, SOURCE)
        except PageError as error:
            raise ArgumentError(_argument(error.key), error.reason) from None
        session.news.tell(session.log)  # a retired or uncatalogued name: what is sent instead, before it is sent
        return _finished(session, banner, forced=provider)


def _finished(session: BannerSession, banner: PageBanner, forced: str | None) -> Banner:
    """Wait for the banner's job, then the banner, or why there is none."""
    job = banner.job
    assert job is not None
    session.pipeline.wait([job])
    outcome = job.outcome()
    request = banner.request
    fmt = session.settings.fmt
    if outcome.error is not None:
        raise outcome.error
    if outcome.rendition is not None:
        original = outcome.original or session.cache.original(request.cache_key)
        made_by = str(original.provenance.get("provider", "")) if original is not None else ""
        cost = (estimate(session, request) if outcome.generated else 0.0)
        return Banner(outcome.rendition.read_bytes(), (request.size.width, request.size.height), fmt, request.model,
                      made_by if outcome.generated else "cache", cost, outcome.rendition, request.cache_key,
                      original.path if original is not None else None)
    route = job.route
    if route is not None and forced == "placeholder":  # asked for: drawn here, never cached
        image = route.provider.generate(request, timeout=session.settings.timeout)
        data = encode(fit(load_source(image.data).image, request.size), fmt)
        return Banner(data, (request.size.width, request.size.height), fmt, request.model, "placeholder", 0.0, None,
                      request.cache_key)
    if route is not None and route.unauthenticated:
        hints = tuple(f"{p.name}: {p.auth_hint()}" for p in route.unauthenticated)
        raise NotAuthenticatedError(f"no provider that serves {request.model} is authenticated; set one up (or "
                                    f"pass provider='placeholder' for a local placeholder image): {'; '.join(hints)}",
                                    model=request.model, hints=hints)
    why = placeholder_reason(route, session.settings) if route is not None else job.kind
    raise ImagegenError(f"{request.model}: no banner made: {why}")


def _settings(config_file: Path | None) -> Settings:
    """The site's settings (no `max_new`: this is asked for by name), else the plugin's defaults for this folder."""
    if config_file is not None:
        from mkdocs_imagegen.commands.site import load_settings

        return load_settings(config_file, unlimited=True, warn=lambda line: None)[1]
    from mkdocs_imagegen.plugin.config import ImagegenConfig, settings_from

    here = Path.cwd() / "mkdocs.yml"  # `cache_dir` (.banners) is relative to the folder of the config file
    options = ImagegenConfig(config_file_path=str(here))
    options.load_dict({})
    options.validate()
    return replace(settings_from(options, SimpleNamespace(config_file_path=str(here), docs_dir=None)),
                   max_new=None)


def _size(size: str | Size | None) -> Size | None:
    if size is None or isinstance(size, Size):
        return size
    try:
        return Size.parse(size)
    except ValueError as error:
        raise ArgumentError("size", error) from None


def _argument(key: str) -> str:
    """The argument a session's "front matter key 'banner_model'" stands for here."""
    return next((argument for word, argument in ARGUMENTS.items() if word in key), key)
