"""`sync`: banners for a site that no MkDocs plugin runs on (Zensical)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


from mkdocs_imagegen.cli.common import (
    PROG,
    Failure,
    _stderr_logger,
)
from mkdocs_imagegen.errors import one_line


@click.command(short_help="Banners for Zensical: generate what is missing, publish it into docs_dir.")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a banner is missing or stale (for CI).")
def sync(config_file: Path, check: bool) -> None:
    """Give a site built by Zensical (which skips plugins it does not know) the plugin's banners.

    Generates the banners missing from the cache exactly as `mkdocs build` would, copies them to
    <docs_dir>/<output_dir>/ (the one folder of docs_dir it owns), and writes the templates that
    show them under theme.custom_dir. A second run writes nothing. Then run `zensical build`.
    """
    from mkdocs_imagegen.commands import sync as syncing

    try:
        site = syncing.load_site(config_file)
        report = syncing.check(site) if check else syncing.sync(site, _stderr_logger())
    except syncing.SyncError as error:
        raise Failure(str(error), error.exit_code) from None
    for problem in report.problems:
        click.echo(f"{'stale' if check else 'warning'}: {one_line(problem)}", err=True)
    if check:
        if report.problems:
            raise Failure(f"{len(report.problems)} problem(s): run `{PROG} sync -f {config_file}`")
        click.echo(f"{report.banners} banner(s) up to date in {site.published_dir}")
        return
    for path in report.placeholders:
        click.echo(f"warning: {path}: a placeholder is published (no provider could make its banner)", err=True)
    click.echo(f"{report.banners} banner(s): wrote {len(report.written)} file(s), removed {len(report.removed)}"
               f"{'' if report.written or report.removed else ' (nothing changed)'}")


# --- keys -----------------------------------------------------------------------------------------------


