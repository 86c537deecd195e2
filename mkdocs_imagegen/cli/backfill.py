"""`backfill`: every missing banner of a site, now or as batch jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mkdocs_imagegen.errors import BackfillStopped

if TYPE_CHECKING:
    pass


from mkdocs_imagegen.cli import common
from mkdocs_imagegen.cli.common import (
    Failure,
    _load_site,
    _stderr_logger,
)


@click.command(short_help="Generate every missing banner; --batch: as provider batch jobs, at half price.")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
@click.option("--batch", is_flag=True, help="Submit them as batch jobs (Gemini Batch Mode) and exit while they run.")
@click.option("--collect", "collect_only", is_flag=True,
              help="Only store the results of recorded batch jobs that have finished; submit nothing.")
@click.option("--max-cost", type=click.FloatRange(min=0), metavar="USD", help="Refuse if the estimate is higher.")
@click.option("--yes", is_flag=True, help="Generate without asking.")
def backfill(config_file: Path, batch: bool, collect_only: bool, max_cost: float | None, yes: bool) -> None:
    """Generate every missing banner of the site: planned like `plan`, confirmed like `compare`.

    With --batch, banners whose provider has a batch API go into as few batch jobs as its request
    size limit allows; the job ids are recorded in the cache (batches/) and the command exits.
    `backfill --collect`, the next `backfill` or `mkdocs build` stores finished results.
    """
    from mkdocs_imagegen.commands import backfill as backfilling

    if collect_only and (batch or max_cost is not None):
        raise click.UsageError("--collect submits nothing: it takes no --batch or --max-cost")
    site = _load_site(config_file, log=_stderr_logger(), unlimited=True)
    with site.session:
        try:
            backfilling.run(site, batch=batch, collect_only=collect_only, max_cost=max_cost, yes=yes,
                            terminal=common._stdin_is_terminal(),
                            confirm=lambda text: click.confirm(text, abort=True),
                            echo=click.echo, err=lambda line: click.echo(line, err=True))
        except BackfillStopped as stop:
            raise Failure(str(stop), stop.exit_code) from None


# --- compare and pick: candidates side by side, then one into the page -------------------------------



