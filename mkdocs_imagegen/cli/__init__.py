"""The `mkdocs-imagegen` command line: one banner now, what is usable, what a build would cost, a tidy cache.

Users think in models: `generate -m gpt-image-2` is routed exactly like the plugin routes a page
(first provider in order that serves the model and has credentials); nobody is asked for a provider.

Exit codes (CONTRACT.md "CLI"): 0 success, 1 a failed generation (or nothing usable), 2 a usage
error. Errors are one line on stderr, never a traceback, never a secret. Pillow, MkDocs and the
provider SDKs are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from mkdocs_imagegen.cli.backfill import backfill
from mkdocs_imagegen.cli.common import CONTEXT, PROG, ImagegenGroup
from mkdocs_imagegen.cli.compare import compare, pick
from mkdocs_imagegen.cli.drafting import alt, brief
from mkdocs_imagegen.cli.emulator import emulator_command
from mkdocs_imagegen.cli.generate import generate
from mkdocs_imagegen.cli.keys import keys
from mkdocs_imagegen.cli.models import doctor, models
from mkdocs_imagegen.cli.plan import plan, prune
from mkdocs_imagegen.cli.sync import sync


@click.group(cls=ImagegenGroup, context_settings=CONTEXT)
@click.version_option(package_name="mkdocs-imagegen", prog_name=PROG)
def cli() -> None:
    """AI banner images for MkDocs pages, chosen by model name.

    Pick a model; the first provider (google, foundry, openai) that serves it and has
    credentials makes the image. Exit codes: 0 success, 1 failed generation, 2 usage error.
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`mkdocs-imagegen`, `python -m mkdocs_imagegen`)."""
    cli.main(args=argv, prog_name=PROG)


for command in (generate, models, doctor, plan, backfill, brief, alt, compare, pick, prune, sync, keys,
                emulator_command):
    cli.add_command(command)
