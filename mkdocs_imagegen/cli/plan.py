"""`plan` and `prune`: what a build would do and cost; what the cache holds that no page uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mkdocs_imagegen.build.planning import PlannedBanner
    from mkdocs_imagegen.commands.site import Site


from mkdocs_imagegen.cli.common import (
    PROG,
    _human_bytes,
    _load_site,
)


def _plan_line(row: PlannedBanner, width: int) -> str:
    request = row.request
    head = f"  {row.status:<11}  {row.src:<{width}}  {request.model}"
    references = (f", references {', '.join(reference.path for reference in request.references)}"
                  if request.references else "")
    if row.status == "placeholder":
        return f"{head}{references}: {row.reason}"
    line = f"{head} via {row.provider}, {request.size} {request.quality}{references}"
    if row.status == "generate" and row.reason is None:
        from mkdocs_imagegen.commands.modeltable import usd

        line += f", {usd(row.estimate)}"
        if row.batch_estimate is not None:
            line += f" (batch {usd(row.batch_estimate)})"
    return f"{line} ({row.reason})" if row.reason else line


def _print_plan(site: Site, planned: list[PlannedBanner], summary: dict[str, Any]) -> None:
    click.echo(f"{site.config_file}: {summary['pages']} page(s) with a banner; cache {site.settings.cache_dir} "
               f"({site.settings.fmt})")
    if not site.enabled:
        click.echo("  the imagegen plugin is disabled (enabled: false): a build makes no banners")
    missing = [row for row in planned if row.status != "cached"]
    width = max((len(row.src) for row in missing), default=0)
    for row in missing:
        click.echo(_plan_line(row, width))
    if summary["cached"]:
        click.echo(f"  cached       {summary['cached']} page(s)")
    for model in _deprecated(site):
        click.echo(f"  deprecated   {model['model']} (since {model['deprecated']}; successor {model['successor']}; "
                   f"still sent as written): {', '.join(model['pages'])}")
    referenced = [row for row in planned if row.request.references]
    if referenced:
        files = sorted({reference.path for row in referenced for reference in row.request.references})
        click.echo(f"  references   {len(referenced)} page(s) send reference images: {', '.join(files)}")
    skipped = f", {summary['skipped']} over max_new" if summary["skipped"] else ""
    click.echo(f"{summary['generate']} to generate, {summary['cached']} cached, {summary['placeholder']} placeholder(s)"
               f"{skipped}; estimated cost ${summary['estimated_cost_usd']:.2f} (catalogue list prices)"
               + (f", ${summary['batch_estimated_cost_usd']:.2f} through `{PROG} backfill --batch`"
                  if summary["batch_estimated_cost_usd"] != summary["estimated_cost_usd"] else ""))


@click.command(short_help="Dry run: the banners a build would generate, and their cost.")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def plan(config_file: Path, as_json: bool) -> None:
    """Dry run: which banners a build would generate, with which model and provider, at what cost.

    Reads mkdocs.yml and every page's front matter without building and makes no provider
    request. Banners already in the cache are counted as cached; pages that would get a
    placeholder are listed with the reason.
    """
    from mkdocs_imagegen.build.planning import plan_banners
    from mkdocs_imagegen.build.planning import summary as plan_summary

    site = _load_site(config_file, skip_if_disabled=True)
    try:
        planned = plan_banners(site.session, site.specs)
    finally:
        site.session.close()
    summary = plan_summary(planned)
    if as_json:
        click.echo(json.dumps({"config_file": str(config_file), "cache_dir": str(site.settings.cache_dir),
                               "format": site.settings.fmt, "enabled": site.enabled,
                               "pages": [{**row.as_json(), "prompt_template": row.src in site.templated}
                                         for row in planned], "summary": summary,
                               "deprecated_models": _deprecated(site)}, indent=2))
    else:
        _print_plan(site, planned, summary)
        for line in site.template_lines():
            click.echo(line)


def _deprecated(site: Site) -> list[dict[str, Any]]:
    """The deprecated models the pages use (noted while they were planned), with their successor and pages."""
    catalogue = site.session.registry.catalogue
    return [{"model": model, "deprecated": catalogue.models[model].deprecated,
             "successor": catalogue.models[model].successor, "pages": list(pages)}
            for model, pages in site.session.news.deprecated.items()]




@click.command(short_help="Remove cache entries no page uses.")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def prune(config_file: Path, dry_run: bool) -> None:
    """Remove cache entries no page uses, so a committed cache stays tidy.

    Removes originals (with their provenance) whose prompt, model, size, quality and variant no
    page asks for any more, and renditions that are not the configured format at a size a page
    uses. Draft and excluded pages count as users. Stops without removing anything if a page
    cannot be read.
    """
    from mkdocs_imagegen.commands.prune import prune as prune_cache

    verb = "would remove" if dry_run else "removed"
    pruned = prune_cache(config_file, dry_run=dry_run, on_file=lambda path: click.echo(f"{verb} {path}"))
    kept = f"kept {pruned.originals_kept} original(s) and {pruned.renditions_kept} rendition(s) in use"
    if not pruned.files:
        click.echo(f"nothing to prune in {pruned.root}: {kept}")
    elif dry_run:
        click.echo(f"would remove {len(pruned.files)} file(s), {_human_bytes(pruned.freed)}; {kept}; "
                   "run without --dry-run to remove them")
    else:
        click.echo(f"removed {len(pruned.files)} file(s), {_human_bytes(pruned.freed)}; {kept}")
