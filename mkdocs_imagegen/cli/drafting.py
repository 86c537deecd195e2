"""`brief` and `alt`: a text model drafts banner prompts and alt text, for review in the front matter."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from mkdocs_imagegen.cli.common import EXIT_USAGE, Failure, _stderr_logger, _stdin_is_terminal
from mkdocs_imagegen.errors import CommandStopped, one_line


def _print_plan(plan: object, verb: str) -> None:
    from mkdocs_imagegen.commands.drafting import Plan
    from mkdocs_imagegen.commands.modeltable import usd

    assert isinstance(plan, Plan)
    width = max((len(job.page.src) for job in plan.jobs), default=0)
    for job in plan.jobs:
        tokens_in, _ = job.estimate_tokens
        state = "cached" if job.cached is not None else verb
        click.echo(f"  {state:<8} {job.page.src:<{width}}  {len(job.request.text):,} characters of text"
                   + (", the banner" if job.request.image is not None else "")
                   + ("" if job.cached is not None else f", about {tokens_in:,} tokens in"))
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    model, provider = plan.route.model, plan.route.provider
    if not plan.jobs:
        what = "without a banner_prompt" if plan.task == "brief" else "with a cached banner and no banner_alt"
        click.echo(f"nothing to {verb}: no page {what} was chosen")
        return
    cost = plan.cost
    click.echo(f"{len(plan.to_send)} page(s) to {verb} with {model.name} via {provider.label}, "
               f"{len(plan.jobs) - len(plan.to_send)} cached; estimated cost "
               + (f"{usd(cost, 4)} (catalogue list prices)" if cost is not None else "unknown (no list price)"))


def _run(task: str, verb: str, pages: tuple[Path, ...], config_file: Path, model: str | None, write: bool,
         yes: bool, dry_run: bool) -> None:
    from mkdocs_imagegen.commands import drafting
    from mkdocs_imagegen.commands.alt_text import plan_alt

    if yes and dry_run:
        raise click.UsageError("--yes and --dry-run do not go together")
    site = drafting.load(config_file, lambda line: click.echo(line, err=True))
    try:
        planner = drafting.plan_brief if task == "brief" else plan_alt
        plan = planner(site, list(pages), model)
        _print_plan(plan, verb)
        if dry_run:
            return
        if plan.to_send and not yes:
            if not _stdin_is_terminal():
                raise Failure(f"not a terminal: pass --yes to send {len(plan.to_send)} text request(s)", EXIT_USAGE)
            click.confirm(f"Send {len(plan.to_send)} text request(s)?", abort=True)
        log = _stderr_logger() if plan.to_send else logging.getLogger("mkdocs_imagegen.cli.quiet")
        drafting.send_all(plan, timeout=min(site.settings.timeout, 120.0), retries=site.settings.retries, log=log)
    except CommandStopped as stop:
        raise Failure(str(stop), stop.exit_code) from None
    finally:
        site.close()
    _report(plan, write, site.settings.docs_dir)


def _report(plan: object, write: bool, docs_dir: Path | None) -> None:
    from mkdocs_imagegen.commands.drafting import KEYS, Plan, write_all

    assert isinstance(plan, Plan)
    key = KEYS[plan.task]
    for job in plan.jobs:
        if job.draft is not None:
            click.echo(f"{job.page.src}: {key}: {job.draft.answer}")
        else:
            click.echo(f"not drafted: {job.page.src}: {one_line(job.problem or 'no answer')}", err=True)
    failed = [job for job in plan.jobs if job.draft is None]
    if write:
        written, not_written = write_all(plan, docs_dir)
        for line in not_written:
            click.echo(f"not written: {one_line(line)}", err=True)
        click.echo(f"wrote {key} to {len(written)} page(s)")
        if not_written:
            raise Failure(f"{len(not_written)} page(s) could not be edited: see the lines above")
    elif any(job.draft is not None for job in plan.jobs):
        click.echo(f"review them, then run again with --write to add {key} to each page (cached: no request)")
    if failed:
        raise Failure(f"{len(failed)} of {len(plan.jobs)} page(s) got no usable draft: see the lines above")


_PAGES = click.argument("pages", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
_CONFIG = click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                       default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
_WRITE = click.option("--write", is_flag=True, help="Add the drafts to the pages' front matter (one line each).")
_YES = click.option("--yes", is_flag=True, help="Send without asking.")
_DRY_RUN = click.option("--dry-run", is_flag=True, help="List the pages and the estimated cost; send nothing.")


@click.command(short_help="Draft banner prompts from the posts, for review in the front matter.")
@_PAGES
@_CONFIG
@click.option("-m", "--model", help="Text model to draft with.  [default: option brief_model, else the first "
                                    "ready provider's default]")
@_WRITE
@_YES
@_DRY_RUN
def brief(pages: tuple[Path, ...], config_file: Path, model: str | None, write: bool, yes: bool,
          dry_run: bool) -> None:
    """Draft a banner_prompt for PAGES (default: every page without one that brief_pages matches: the
    blog's posts when Material's blog plugin is on, else every page).

    Each request sends the page's title, description, tags, categories and the first 400 words of its
    text, without code or markup; nothing else of the page. Drafts are cached by what was sent, so a
    second run sends nothing. Prints the plan and its cost first, asks on a terminal (--yes skips,
    --dry-run stops); --write adds one banner_prompt line to each page, every other byte kept.
    """
    _run("brief", "draft", pages, config_file, model, write, yes, dry_run)


@click.command(short_help="Draft alt text for cached banners, for review in the front matter.")
@_PAGES
@_CONFIG
@click.option("-m", "--model", help="Vision-capable text model.  [default: option alt_model, else the first "
                                    "ready provider's default]")
@_WRITE
@_YES
@_DRY_RUN
def alt(pages: tuple[Path, ...], config_file: Path, model: str | None, write: bool, yes: bool,
        dry_run: bool) -> None:
    """Draft a banner_alt (at most 125 characters) for PAGES (default: every page with a banner in the cache
    and no banner_alt).

    Each request sends the banner as the page shows it (downscaled to at most 1024 pixels), the page's
    title and the banner's prompt. Cached by what was sent; asks, writes and stops like `brief`.
    """
    _run("alt", "describe", pages, config_file, model, write, yes, dry_run)

