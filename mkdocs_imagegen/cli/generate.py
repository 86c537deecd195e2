"""`generate`: one banner now, routed by model name like a page."""

from __future__ import annotations

import time
from pathlib import Path

import click

from mkdocs_imagegen.cli import common
from mkdocs_imagegen.cli.common import (
    SUFFIX_FORMATS,
    Failure,
    SizeType,
    _stderr_logger,
)
from mkdocs_imagegen.defaults import DEFAULT_MODEL, DEFAULT_SIZE
from mkdocs_imagegen.errors import ArgumentError, ImagegenError, NotAuthenticatedError
from mkdocs_imagegen.provider_table import PROVIDER_CHOICES, SPECS
from mkdocs_imagegen.request import MAX_PROMPT_CHARS, QUALITIES, Size

# --- generate -------------------------------------------------------------------------------------------

OPTIONS = {"model": "'-m' / '--model'", "provider": "'--provider'", "quality": "'--quality'",
           "references": "'--reference'", "size": "'--size'", "prompt": "PROMPT"}


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
    from mkdocs_imagegen.commands.generate import generate as make

    prompt = _check_prompt(prompt)
    fmt = _output_format(out)
    terminal = common._stderr_is_terminal()
    if terminal:
        click.echo(f"generating with {model}...", err=True)
    started = time.monotonic()
    try:
        banner = make(prompt, model=model, size=size, quality=quality, references=references, provider=provider,
                      log=_stderr_logger())
    except ArgumentError as error:
        raise click.BadParameter(error.reason, param_hint=OPTIONS.get(error.argument, error.argument)) from None
    except NotAuthenticatedError as error:
        raise Failure(f"no provider that serves {error.model} is authenticated; set one up "
                      "(or pass --provider placeholder for a local placeholder image; "
                      "see docs: troubleshooting#no-credentials):", hints=error.hints) from None
    except ImagegenError as error:
        raise Failure(f"{error.provider or 'the provider'} could not generate {error.model or model}: "
                      f"{error.message}") from None
    target = out if out is not None else Path(f"banner-{banner.cache_key[:8]}.png")
    try:
        banner.save(target)
    except OSError as error:
        raise Failure(f"cannot write {target}: {error.strerror or error}") from None
    if terminal:
        spec = SPECS.get(banner.provider)
        how = "from the cache" if banner.provider == "cache" else f"via {spec.label if spec else banner.provider}"
        click.echo(f"{banner.model} {how}: {size} {fmt} in {time.monotonic() - started:.1f}s", err=True)
    click.echo(str(target))


# --- models ---------------------------------------------------------------------------------------------


