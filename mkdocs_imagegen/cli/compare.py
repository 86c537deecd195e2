"""`compare` and `pick`: candidates side by side, and writing the chosen one into a page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mkdocs_imagegen.defaults import COMPARE_FOLDER
from mkdocs_imagegen.request import QUALITIES, Size

if TYPE_CHECKING:
    pass


from mkdocs_imagegen.cli import common
from mkdocs_imagegen.cli.common import (
    EXIT_USAGE,
    PROG,
    Failure,
    SizeType,
    _load_site,
    _stderr_logger,
)
from mkdocs_imagegen.errors import one_line

MAX_VARIANTS = 10  # compare's -n


def _print_comparison_plan(comparison: Any, count_pages: int) -> None:
    from mkdocs_imagegen.commands.modeltable import usd

    for candidate in comparison.to_generate:
        request = candidate.request
        click.echo(f"  generate     {candidate.src}  {candidate.id} via {candidate.planned.provider}, "
                   f"{request.size} {request.quality}, {usd(candidate.cost)}")
    for candidate in comparison.unusable:
        click.echo(f"  not made     {candidate.src}  {candidate.id}: {candidate.planned.reason}")
    click.echo(f"{len(comparison.candidates)} candidate(s) for {count_pages} page(s): "
               f"{len(comparison.cached)} cached, {len(comparison.to_generate)} to generate"
               + (f", {len(comparison.unusable)} not made" if comparison.unusable else "")
               + f"; estimated cost ${comparison.cost:.2f} (catalogue list prices)")


@click.command(short_help="Candidates per page, model and variant, side by side in a contact sheet.")
@click.argument("pages", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-m", "--model", "models", multiple=True, required=True, help="A model to compare (repeatable).")
@click.option("-n", "--variants", type=click.IntRange(1, MAX_VARIANTS), default=1, show_default=True,
              help="Variants per model: the page's current banner_variant and the next ones.")
@click.option("--size", type=SizeType(), metavar="WxH", help="Size of the candidates.  [default: the page's]")
@click.option("--quality", type=click.Choice(QUALITIES), help="Quality of the candidates.  [default: the page's]")
@click.option("--prompt", help="Compare this prompt instead of pages' banner_prompt.")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder for the contact sheet.  [default: {COMPARE_FOLDER} next to mkdocs.yml]")
@click.option("--yes", is_flag=True, help="Generate without asking.")
@click.option("--dry-run", is_flag=True, help="Print the plan and its cost; generate nothing.")
def compare(pages: tuple[Path, ...], models: tuple[str, ...], variants: int, size: Size | None,
            quality: str | None, prompt: str | None, config_file: Path, out: Path | None, yes: bool,
            dry_run: bool) -> None:
    """Make candidates for PAGES (default: every page with a banner_prompt): each model x variant.

    Each candidate is the banner `banner_model: M` + `banner_variant: V` would give the page, cached
    like a build caches it, so `pick` costs nothing. Variants of one model come from one request
    where the provider takes `n` (OpenAI, Foundry). Prints the plan and its cost first, asks on a
    terminal (--yes skips, --dry-run stops). The sheet folder is the last line of output.
    """
    from mkdocs_imagegen.commands import compare as comparing
    from mkdocs_imagegen.commands import sheet

    if yes and dry_run:
        raise click.UsageError("--yes and --dry-run do not go together")
    if prompt is not None and pages:
        raise click.UsageError("give PAGES or --prompt, not both")
    folder = out or config_file.parent / COMPARE_FOLDER
    problem = sheet.unusable(folder)  # before anything is paid for
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'-o' / '--out'")
    site = _load_site(config_file, log=_stderr_logger(), unlimited=True)
    with site.session:
        chosen = comparing.page_specs(site, list(pages), prompt)
        if not chosen:
            raise Failure(f"{config_file}: no page has a banner_prompt; give --prompt TEXT", EXIT_USAGE)
        comparison = comparing.plan(site, chosen, list(models), variants, size, quality)
        _print_comparison_plan(comparison, len(chosen))
        if dry_run:
            return
        if comparison.to_generate and not yes:
            if not common._stdin_is_terminal():
                raise Failure(f"not a terminal: pass --yes to generate {len(comparison.to_generate)} candidate(s) "
                              f"(estimated ${comparison.cost:.2f})", EXIT_USAGE)
            click.confirm(f"Generate {len(comparison.to_generate)} candidate(s) for about "
                          f"${comparison.cost:.2f}?", abort=True)
        try:
            comparing.run(site, comparison, lambda line: click.echo(line, err=True))
        except comparing.Interrupted as stop:
            raise Failure(f"interrupted: {stop.kept} of {stop.total} candidate(s) are in the cache; the same "
                          "command makes only the rest", 130) from None
        comparing.settle(comparison, comparing.read_times(folder))
    made = sum(1 for c in comparison.candidates if c.image is not None)
    for candidate in comparison.candidates:
        if candidate.error is not None:
            click.echo(f"not made: {candidate.src} {candidate.id}: {one_line(candidate.error)}", err=True)
    sheet.write(folder, comparison, PROG, f"{config_file}: {len(comparison.candidates)} candidate(s)")
    click.echo(f"{made} of {len(comparison.candidates)} candidate(s) in the sheet "
               f"(index.html, sheet.png); pick one with `{PROG} pick PAGE MODEL/VARIANT`")
    click.echo(str(folder))


def _compare_hint(page: Path, model: str, variant: int, current: int, size: Size | None, quality: str | None,
                  config_file: Path) -> str:
    """The `compare` command that makes this very candidate: its variants start at the page's current
    banner_variant, so `-n` reaches the one asked for (or the page's variant has to be set first)."""
    import shlex

    args = [PROG, "compare", *(["-f", str(config_file)] if config_file != Path("mkdocs.yml") else []),
            str(page), "-m", model]
    count = variant - current + 1
    reachable = 1 <= count <= MAX_VARIANTS
    if reachable and count > 1:
        args += ["-n", str(count)]
    args += [*(["--size", str(size)] if size else []), *(["--quality", quality] if quality else [])]
    command = f"`{shlex.join(args)}`"
    if reachable:
        return f"{command} makes it"
    return (f"compare makes variants {current} to {current + MAX_VARIANTS - 1} of this page (its banner_variant); "
            f"set banner_variant: {variant} in {page}, then {command} makes it")


@click.command(short_help="Write a compared candidate into a page's front matter.")
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("candidate", metavar="MODEL/VARIANT")
@click.option("--size", type=SizeType(), metavar="WxH", help="Also write banner_size (as compared with --size).")
@click.option("--quality", type=click.Choice(QUALITIES), help="Also write banner_quality (as compared).")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="mkdocs.yml", show_default=True, help="The MkDocs configuration file.")
def pick(page: Path, candidate: str, size: Size | None, quality: str | None, config_file: Path) -> None:
    """Set banner_model and banner_variant in PAGE to a candidate `compare` made (e.g. gpt-image-2/2).

    Only those lines change (and banner_size / banner_quality with --size / --quality); comments,
    quoting, key order, line endings and the body stay byte for byte. Refuses a candidate that is
    not in the cache, so the next build makes no request.
    """
    from dataclasses import replace

    from mkdocs_imagegen.commands.page_edit import edit_target, write_keys
    from mkdocs_imagegen.errors import EditError

    model, slash, number = candidate.rpartition("/")
    if not slash or not model or not number.isdigit():
        raise click.BadParameter(f"expected MODEL/VARIANT as the sheet shows it, like gpt-image-2/2; got {candidate!r}",
                                 param_hint="CANDIDATE")
    variant = int(number)
    site = _load_site(config_file, every_file=True)
    docs_dir = site.settings.docs_dir
    try:
        src = site.src_of(page)
        spec = dict(site.specs).get(src or "")
        if src is None or spec is None:
            raise Failure(f"{page}: not a page of {config_file} with a banner_prompt", EXIT_USAGE)
        chosen = replace(spec, model=model, variant=variant, size=size or spec.size, quality=quality or spec.quality)
        request = site.session.request(chosen, src)
        if not site.cache.lookup(request, site.settings.fmt).cached:
            raise Failure(f"{candidate} is not in the cache for {src} at {request.size} {request.quality}: "
                          + _compare_hint(page, model, variant, spec.variant, size, quality, config_file))
    finally:
        site.session.close()
    values: dict[str, str | int] = {"banner_model": request.model, "banner_variant": variant}
    if size is not None:
        values["banner_size"] = str(size)
    if quality is not None:
        values["banner_quality"] = quality
    lines = ", ".join(f"{key}: {value}" for key, value in values.items())
    target = edit_target(page, docs_dir)
    if target is None:
        raise Failure(f"{page} is a link to a file outside docs_dir: `pick` changes only the site's own files; "
                      f"set {lines} by hand", EXIT_USAGE)
    try:
        write_keys(target, values)
    except EditError as error:
        raise Failure(f"{page}: cannot edit the front matter safely ({error}); set {lines} by hand",
                      EXIT_USAGE) from None
    click.echo(f"{page}: banner_model: {request.model}, banner_variant: {variant} (cached; the next build "
               "makes no request)")


# --- prune ----------------------------------------------------------------------------------------------


