"""`generate`: one banner now, routed by model name like a page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mkdocs_imagegen.defaults import DEFAULT_MODEL, DEFAULT_SIZE
from mkdocs_imagegen.errors import ImagegenError
from mkdocs_imagegen.provider_table import PROVIDER_CHOICES
from mkdocs_imagegen.request import MAX_PROMPT_CHARS, QUALITIES, Size

if TYPE_CHECKING:
    from mkdocs_imagegen.catalogue.lookup import Resolution
    from mkdocs_imagegen.providers.registry import Registry, Route
    from mkdocs_imagegen.request import GenerationRequest, Reference


from mkdocs_imagegen.cli import common
from mkdocs_imagegen.cli.common import (
    SUFFIX_FORMATS,
    Failure,
    SizeType,
    _registry,
    _stderr_logger,
)

# --- generate -------------------------------------------------------------------------------------------


def _check_prompt(prompt: str) -> str:
    text = prompt.strip()
    if not text:
        raise click.BadParameter("must not be empty", param_hint="PROMPT")
    if len(text) > MAX_PROMPT_CHARS:
        raise click.BadParameter(f"is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,}",
                                 param_hint="PROMPT")
    return text


def _output_format(out: Path | None) -> str:
    if out is None:
        return "png"
    fmt = SUFFIX_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise click.BadParameter(f"{str(out)!r} must end in .png, .jpg, .jpeg or .webp (the suffix picks the format)",
                                 param_hint="'-o' / '--out'")
    return fmt


def _route_one(registry: Registry, prompt: str, model: str, size: Size, quality: str,
               provider: str | None, references_given: tuple[str, ...] = ()) -> tuple[GenerationRequest, Route]:
    """The request and route, as the plugin would make them; a placeholder only when asked for."""
    from mkdocs_imagegen.request import GenerationRequest

    found = registry.lookup(model)
    canonical, info = found.name, found.info
    if found.retired is not None:
        click.echo(f"note: model {found.written!r} was retired on {found.retired.shutdown}; sending its "
                   f"successor {canonical!r}", err=True)
    elif not info.known:
        click.echo(f"note: model {canonical!r} is not in the catalogue; sending it as written to "
                   f"{' or '.join(info.providers)}", err=True)
    if not info.takes_quality(quality):
        raise click.BadParameter(f"model {canonical!r} does not take quality {quality!r}; it takes "
                                 f"{', '.join(info.qualities)}", param_hint="'--quality'")
    references = _references(references_given, found)
    route = registry.route(canonical, provider)
    if route.is_placeholder and provider != "placeholder":
        raise Failure(f"no provider that serves {canonical} is authenticated; set one up "
                      "(or pass --provider placeholder for a local placeholder image; "
                      "see docs: troubleshooting#no-credentials):",
                      hints=[f"{p.name}: {p.auth_hint()}" for p in route.unauthenticated])
    return GenerationRequest(prompt, canonical, size, quality, references=references), route


def _references(paths: tuple[str, ...], found: Resolution) -> tuple[Reference, ...]:
    """`--reference` files (relative to the current folder), checked and fitted as a build does."""
    from mkdocs_imagegen.pages.references import ReferenceLoader, ReferenceProblem

    if not paths:
        return ()
    rule = found.info.references
    if not rule.takes_references:
        raise click.BadParameter(f"model {found.name!r} takes no reference images", param_hint="'--reference'")
    if len(paths) > rule.max_images:
        raise click.BadParameter(f"{len(paths)} images given; model {found.name!r} takes at most {rule.max_images}",
                                 param_hint="'--reference'")
    try:
        return ReferenceLoader(None, anywhere=True).load(paths, rule)
    except ReferenceProblem as problem:
        raise click.BadParameter(f"{problem}"
                                 " (see docs: troubleshooting#reference-refused)", param_hint="'--reference'") from None


def _write_image(request: GenerationRequest, route: Route, target: Path, fmt: str) -> None:
    from mkdocs_imagegen.build.sending import generate_with_retries
    from mkdocs_imagegen.build.settings import PipelineSettings
    from mkdocs_imagegen.cache.files import atomic_write
    from mkdocs_imagegen.imaging import encode, fit

    defaults = PipelineSettings()
    try:
        _, source = generate_with_retries(request, route, retries=defaults.retries, timeout=defaults.timeout,
                                          log=_stderr_logger())
    except ImagegenError as error:
        raise Failure(f"{route.provider.name} could not generate {request.model}: {error.message}") from None
    data = encode(fit(source.image, request.size), fmt)
    try:
        atomic_write(target, data)
    except OSError as error:
        raise Failure(f"cannot write {target}: {error.strerror or error}") from None


@click.command()
@click.argument("prompt")
@click.option("-m", "--model", default=DEFAULT_MODEL, show_default=True,
              help="Model name or alias; it picks the provider.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write; its suffix (.png, .jpg, .jpeg, .webp) picks the format.  "
                   "[default: banner-<hash>.png in the current directory]")
@click.option("--size", type=SizeType(), default=DEFAULT_SIZE, show_default=True, metavar="WxH",
              help="Exact size of the written image (cropped and resized from what the model makes).")
@click.option("--quality", type=click.Choice(QUALITIES), default="auto", show_default=True,
              help="Passed to the providers that take it.")
@click.option("--provider", type=click.Choice(PROVIDER_CHOICES),
              help="Force one provider instead of routing by model; 'placeholder' draws a local image.")
@click.option("--reference", "references", multiple=True, metavar="PATH",
              help="An image sent with the prompt, \"in the style of this\" (repeatable).")
def generate(prompt: str, model: str, out: Path | None, size: Size, quality: str, provider: str | None,
             references: tuple[str, ...]) -> None:
    """Generate one image for PROMPT and write it at exactly --size.

    The first provider in order (google, foundry, openai) that serves the model and has
    credentials makes it; providers are retried on rate limits and server errors like in a
    build. The path of the written file is the last line on stdout.
    """
    prompt = _check_prompt(prompt)
    fmt = _output_format(out)
    registry = _registry()
    try:
        request, route = _route_one(registry, prompt, model, size, quality, provider, references)
        target = out if out is not None else Path(f"banner-{request.cache_key[:8]}.png")
        terminal = common._stderr_is_terminal()
        if terminal:
            click.echo(f"generating with {request.model} via {route.provider.label}...", err=True)
        started = time.monotonic()
        _write_image(request, route, target, fmt)
        if terminal:
            click.echo(f"{request.model} via {route.provider.label}: {size} {fmt} "
                       f"in {time.monotonic() - started:.1f}s", err=True)
    finally:
        registry.close()
    click.echo(str(target))


# --- models ---------------------------------------------------------------------------------------------


