"""`emulator`: a local stand-in for the providers' image APIs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


from mkdocs_imagegen.cli.common import (
    Failure,
)


@click.command("emulator", short_help="Run a local fake of the three image APIs.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds each image request takes.")
@click.option("--serve-model", "serve_models", multiple=True, metavar="PROVIDER:NAME",
              help="Also serve a model the catalogue does not know (repeatable), e.g. google:gemini-4-flash-image.")
@click.option("--batch-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="S",
              help="Seconds until a Gemini batch job delivers its results (POST /_emulator/batches:finish ends "
                   "them all at once).")
@click.option("--fault", "faults", multiple=True, metavar="KIND[:MATCH]",
              help="Answer every image request whose prompt contains MATCH (every one, without it) with the fault "
                   "KIND (repeatable), e.g. rate_limit, server_error, moderation_blocked:hero.")
def emulator_command(port: int, latency: float, serve_models: tuple[str, ...], batch_delay: float,
                     faults: tuple[str, ...]) -> None:
    """Run a local fake of the Google, OpenAI and Azure image APIs until Ctrl-C.

    Prints `export` lines that point every provider at it: paste them into the shell where
    you run `mkdocs build` or `mkdocs-imagegen generate`. No real provider is called. It serves
    exactly the models the catalogue says are live today (retired names get each provider's
    real 404), plus any --serve-model.
    """
    from mkdocs_imagegen.emulator import parse_fault_spec, parse_model_specs, run

    try:
        parse_model_specs(serve_models)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--serve-model'") from None
    for spec in faults:
        try:
            parse_fault_spec(spec)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--fault'") from None
    try:
        run(port, latency, extra_models=serve_models, batch_delay=batch_delay, faults=faults)
    except OSError as error:
        raise Failure(f"cannot start the emulator on 127.0.0.1:{port}: {error.strerror or error}") from None
