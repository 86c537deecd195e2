"""What every command of the command line shares: exit codes, one-line errors, the group class, the size
type, and the site loader."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mkdocs_imagegen.errors import ConfigError, ImagegenError, one_line
from mkdocs_imagegen.provider_table import PROVIDERS
from mkdocs_imagegen.request import Size

if TYPE_CHECKING:
    from mkdocs_imagegen.commands.site import Site
    from mkdocs_imagegen.providers.registry import Registry


PROG = "mkdocs-imagegen"
EXIT_FAILED = 1
EXIT_USAGE = 2
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --- errors: one line on stderr, the contract's exit codes ------------------------------------------


class Failure(click.ClickException):
    """What the user reads: one line on stderr (plus optional hint lines), and the exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, hints: Sequence[str] = ()) -> None:
        super().__init__(one_line(message))
        self.exit_code = exit_code
        self.hints = tuple(hints)

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.message}", err=True)
        for hint in self.hints:
            click.echo(f"  {hint}", err=True)


def _usage_line(error: click.UsageError) -> str:
    where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return f"Error: {one_line(error.format_message()).rstrip('.')}{where}"


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class ImagegenGroup(click.Group):
    """Commands listed in workflow order; every error ends as one line and the contract's exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as error:
            error.show()
            sys.exit(EXIT_USAGE)
        except click.UsageError as error:
            click.echo(_usage_line(error), err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_FAILED)
        except ImagegenError as error:
            click.echo(f"Error: {one_line(str(error))}", err=True)
            sys.exit(EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILED)
        sys.exit(result if isinstance(result, int) else 0)


# --- small shared helpers -----------------------------------------------------------------------------


class SizeType(click.ParamType):
    name = "WxH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Size:
        if isinstance(value, Size):
            return value
        try:
            return Size.parse(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class _EchoHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _stderr_logger() -> logging.Logger:
    """Retry notices from the pipeline, shown on stderr."""
    log = logging.getLogger("mkdocs_imagegen.cli")
    if not log.handlers:
        log.addHandler(_EchoHandler())
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _stderr_is_terminal() -> bool:
    return sys.stderr is not None and sys.stderr.isatty()


def _registry(config_file: Path | None = None) -> Registry:
    """Providers configured from the environment and stored keys, with a site's options when one is named."""
    from mkdocs_imagegen.providers.registry import Registry

    if config_file is None:
        return Registry.from_options()
    from mkdocs_imagegen.build.session import make_registry

    return make_registry(_load_site(config_file).settings)


def _key_variables() -> dict[str, tuple[str, ...]]:
    """Each provider's key variables, in precedence order, from the provider table."""
    return {spec.name: spec.key_variables for spec in PROVIDERS}


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"




def _load_site(config_file: Path, **options: Any) -> Site:
    from mkdocs_imagegen.commands.site import load_site

    return load_site(config_file, **options)


