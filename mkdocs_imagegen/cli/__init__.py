"""The `mkdocs-imagegen` command line: one banner now, what is usable, what a build would cost, a tidy cache.

Users think in models: `generate -m gpt-image-2` is routed exactly like the plugin routes a page
(first provider in order that serves the model and has credentials); nobody is asked for a provider.

Exit codes (CONTRACT.md "CLI"): 0 success, 1 a failed generation (or nothing usable), 2 a usage
error. Errors are one line on stderr, never a traceback, never a secret. Pillow, MkDocs and the
provider SDKs are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mkdocs_imagegen.defaults import COMPARE_FOLDER, DEFAULT_MODEL, DEFAULT_SIZE
from mkdocs_imagegen.errors import ConfigError, ImagegenError
from mkdocs_imagegen.provider_table import PROVIDER_CHOICES, PROVIDERS
from mkdocs_imagegen.providers.credentials import KEY_PROVIDERS, Credentials, KeyStore, mask
from mkdocs_imagegen.request import MAX_PROMPT_CHARS, QUALITIES, Size

if TYPE_CHECKING:
    from mkdocs_imagegen.build.planning import PlannedBanner
    from mkdocs_imagegen.catalogue.lookup import Resolution
    from mkdocs_imagegen.commands.site import Site
    from mkdocs_imagegen.providers.discovery import LiveProvider
    from mkdocs_imagegen.providers.registry import Registry, Route
    from mkdocs_imagegen.request import GenerationRequest, Reference

PROG = "mkdocs-imagegen"
EXIT_FAILED = 1
EXIT_USAGE = 2
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --- errors: one line on stderr, the contract's exit codes ------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class Failure(click.ClickException):
    """What the user reads: one line on stderr (plus optional hint lines), and the exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, hints: Sequence[str] = ()) -> None:
        super().__init__(_one_line(message))
        self.exit_code = exit_code
        self.hints = tuple(hints)

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.message}", err=True)
        for hint in self.hints:
            click.echo(f"  {hint}", err=True)


def _usage_line(error: click.UsageError) -> str:
    where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
    return f"Error: {_one_line(error.format_message()).rstrip('.')}{where}"


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
            click.echo(f"Error: {_one_line(str(error))}", err=True)
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


# --- the group ----------------------------------------------------------------------------------------


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
                      "(or pass --provider placeholder for a local placeholder image):",
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
        raise click.BadParameter(str(problem), param_hint="'--reference'") from None


def _write_image(request: GenerationRequest, route: Route, target: Path, fmt: str) -> None:
    from mkdocs_imagegen.build.sending import generate_with_retries
    from mkdocs_imagegen.build.settings import PipelineSettings
    from mkdocs_imagegen.cache.store import atomic_write
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


@cli.command()
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
        terminal = _stderr_is_terminal()
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


def _print_models(rows: list[dict[str, Any]]) -> None:
    from mkdocs_imagegen.commands.modeltable import price_hint

    table = [("MODEL", "PROVIDERS", "PRICE PER IMAGE (USD, estimate)")]
    for row in rows:
        name = row["model"] + (" *" if row["default"] else "")
        providers = ", ".join(f"{p['name']} ({'ready' if p['authenticated'] else 'not set up'})"
                              for p in row["providers"])
        if row["retired"]:
            providers, price = "", f"retired {row['retired']}: sent as {row['successor']}"
        else:
            price = price_hint(row["price"])
        table.append((name, providers, price))
    widths = [max(len(line[column]) for line in table) for column in range(2)]
    for name, providers, price in table:
        click.echo(f"{name:<{widths[0]}}  {providers:<{widths[1]}}  {price}")
    click.echo("* default model")
    if not all(p["authenticated"] for row in rows for p in row["providers"]):
        click.echo(f"Providers marked 'not set up' need credentials: `{PROG} doctor` says exactly what to set.")


def _live_json(found: list[LiveProvider]) -> list[dict[str, Any]]:
    return [{"provider": item.name, "ok": item.check.ok, "detail": item.check.detail, "served_known": item.known,
             "served_not_in_catalogue": item.uncatalogued, "in_catalogue_not_served": item.not_served,
             "missing_deployments": item.missing_deployments} for item in found]


def _print_live_models(registry: Registry, found: list[LiveProvider]) -> None:
    from mkdocs_imagegen.providers.discovery import retired_note

    for item in found:
        click.echo(f"\n{item.name} ({item.provider.label}): {item.check.detail}")
        if not item.check.ok:
            continue
        click.echo(f"  served, in the catalogue:     {', '.join(item.known) or 'none'}")
        click.echo(f"  served, not in the catalogue: {', '.join(item.uncatalogued) or 'none'}"
                   + (" (usable by name; a `models:` entry adds sizes and price)" if item.uncatalogued else ""))
        gone = [f"{name} ({retired_note(registry, name)})" if retired_note(registry, name) else name
                for name in item.not_served]
        click.echo(f"  in the catalogue, not served: {', '.join(gone) or 'none'}")


@cli.command(short_help="Every model, the providers that serve it, and a price hint.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--live", is_flag=True, help="Also ask each authenticated provider which image models it serves now.")
@click.option("--markdown", is_flag=True, help="Print the catalogue as the README's Markdown tables.")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this mkdocs.yml's providers, aliases and `models:` entries.")
def models(as_json: bool, live: bool, markdown: bool, config_file: Path | None) -> None:
    """List every known model, the providers that serve it, and a price hint.

    A provider is 'ready' when its credentials are set (environment or `keys set`); no network
    call is made, unless --live asks each ready provider which image models it serves (one
    listing call each, no image, no cost). Prices are catalogue list prices, for estimates only.
    """
    from mkdocs_imagegen.commands.modeltable import markdown as markdown_tables
    from mkdocs_imagegen.commands.modeltable import model_rows
    from mkdocs_imagegen.providers.discovery import discover

    registry = _registry(config_file)
    try:
        if markdown:
            click.echo(markdown_tables(registry), nl=False)
            return
        rows = model_rows(registry)
        found = discover(registry) if live else []
    finally:
        registry.close()
    if as_json:
        report: dict[str, Any] = {"default_model": DEFAULT_MODEL, "models": rows}
        if live:
            report["live"] = _live_json(found)
        click.echo(json.dumps(report, indent=2))
        return
    _print_models(rows)
    if live:
        _print_live_models(registry, found)
        if not found:
            click.echo(f"\nno provider is set up, so none was asked: `{PROG} doctor` says what to set")


# --- doctor ---------------------------------------------------------------------------------------------


@cli.command(short_help="Which providers are ready, and exactly how to enable the others.")
@click.option("--live", is_flag=True, help="Also make one cheap authenticated call per ready provider (no image).")
@click.option("-f", "--config-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this mkdocs.yml's provider options (endpoints, api_version, deployments).")
def doctor(live: bool, config_file: Path | None) -> None:
    """Say which providers are ready and exactly how to enable the others.

    Reads the environment and the stored keys only; no network call is made, unless --live
    asks each ready provider for its model list: a refused key, a wrong endpoint or API
    version and a missing deployment each get one line. Exits 0 when at least one real
    provider is usable (with --live: and every ready provider answered), 1 otherwise.
    """
    from mkdocs_imagegen.commands.modeltable import model_rows
    from mkdocs_imagegen.providers.discovery import discover

    registry = _registry(config_file)
    try:
        credentials = registry.providers[0].credentials if registry.providers else Credentials()
        statuses = [provider.status() for provider in registry.providers]
        usable = sorted({row["model"] for row in model_rows(registry) if row["usable"] and not row["retired"]})
        found = {item.name: item for item in discover(registry)} if live else {}
    finally:
        registry.close()
    width = max(len(status.name) for status in statuses)
    for status in statuses:
        state = "ready:" if status.ready else "not set up:"
        click.echo(f"{status.name:<{width}}  {state} {status.detail}")
        item = found.get(status.name)
        if item is not None:
            click.echo(f"{'':<{width}}  live: {'ok' if item.check.ok else 'FAILED'}: {item.check.detail}")
            for missing in item.missing_deployments:
                click.echo(f"{'':<{width}}  live: missing deployment {missing} (providers.foundry.deployments)")
    stored = sorted(credentials.stored())
    click.echo(f"stored keys: {', '.join(stored) or 'none'} (in {credentials.store.path})")
    if not any(status.ready for status in statuses):
        raise Failure(f"no image provider is set up; apply one of the fixes above (or try `{PROG} emulator`)")
    click.echo(f"models usable now: {', '.join(usable)}")
    failed = [item.name for item in found.values() if not item.check.ok or item.missing_deployments]
    if failed:
        raise Failure(f"live check failed for {', '.join(failed)}: see the lines above")


# --- plan: read the site like a build would, without building ------------------------------------------


def _load_site(config_file: Path, **options: Any) -> Site:
    from mkdocs_imagegen.commands.site import load_site

    return load_site(config_file, **options)


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
    referenced = [row for row in planned if row.request.references]
    if referenced:
        files = sorted({reference.path for row in referenced for reference in row.request.references})
        click.echo(f"  references   {len(referenced)} page(s) send reference images: {', '.join(files)}")
    skipped = f", {summary['skipped']} over max_new" if summary["skipped"] else ""
    click.echo(f"{summary['generate']} to generate, {summary['cached']} cached, {summary['placeholder']} placeholder(s)"
               f"{skipped}; estimated cost ${summary['estimated_cost_usd']:.2f} (catalogue list prices)"
               + (f", ${summary['batch_estimated_cost_usd']:.2f} through `{PROG} backfill --batch`"
                  if summary["batch_estimated_cost_usd"] != summary["estimated_cost_usd"] else ""))


@cli.command(short_help="Dry run: the banners a build would generate, and their cost.")
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
                               "pages": [row.as_json() for row in planned], "summary": summary}, indent=2))
    else:
        _print_plan(site, planned, summary)


@cli.command(short_help="Generate every missing banner; --batch: as provider batch jobs, at half price.")
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
    try:
        backfilling.run(site, batch=batch, collect_only=collect_only, max_cost=max_cost, yes=yes,
                        terminal=_stdin_is_terminal(), confirm=lambda text: click.confirm(text, abort=True),
                        echo=click.echo, err=lambda line: click.echo(line, err=True))
    except backfilling.Stop as stop:
        raise Failure(str(stop), stop.exit_code) from None
    finally:
        site.session.pipeline.close()
        site.session.close()


# --- compare and pick: candidates side by side, then one into the page -------------------------------



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


@cli.command(short_help="Candidates per page, model and variant, side by side in a contact sheet.")
@click.argument("pages", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-m", "--model", "models", multiple=True, required=True, help="A model to compare (repeatable).")
@click.option("-n", "--variants", type=click.IntRange(1, 10), default=1, show_default=True,
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
    try:
        chosen = comparing.page_specs(site, list(pages), prompt)
        if not chosen:
            raise Failure(f"{config_file}: no page has a banner_prompt; give --prompt TEXT", EXIT_USAGE)
        comparison = comparing.plan(site, chosen, list(models), variants, size, quality)
        _print_comparison_plan(comparison, len(chosen))
        if dry_run:
            return
        if comparison.to_generate and not yes:
            if not _stdin_is_terminal():
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
    finally:
        site.session.pipeline.close()
        site.session.close()
    made = sum(1 for c in comparison.candidates if c.image is not None)
    for candidate in comparison.candidates:
        if candidate.error is not None:
            click.echo(f"not made: {candidate.src} {candidate.id}: {_one_line(candidate.error)}", err=True)
    sheet.write(folder, comparison, PROG, f"{config_file}: {len(comparison.candidates)} candidate(s)")
    click.echo(f"{made} of {len(comparison.candidates)} candidate(s) in the sheet "
               f"(index.html, sheet.png); pick one with `{PROG} pick PAGE MODEL/VARIANT`")
    click.echo(str(folder))


@cli.command(short_help="Write a compared candidate into a page's front matter.")
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

    from mkdocs_imagegen.cache.store import atomic_write
    from mkdocs_imagegen.pages.edit import EditError, set_keys

    model, slash, number = candidate.rpartition("/")
    if not slash or not model or not number.isdigit():
        raise click.BadParameter(f"expected MODEL/VARIANT as the sheet shows it, like gpt-image-2/2; got {candidate!r}",
                                 param_hint="CANDIDATE")
    variant = int(number)
    site = _load_site(config_file, every_file=True)
    try:
        src = site.src_of(page)
        spec = dict(site.specs).get(src or "")
        if src is None or spec is None:
            raise Failure(f"{page}: not a page of {config_file} with a banner_prompt", EXIT_USAGE)
        chosen = replace(spec, model=model, variant=variant, size=size or spec.size, quality=quality or spec.quality)
        request = site.session.request(chosen, src)
        if not site.cache.lookup(request, site.settings.fmt).cached:
            raise Failure(f"{candidate} is not in the cache for {src} at {request.size} {request.quality}: "
                          f"`{PROG} compare {page} -m {model}` makes it")
    finally:
        site.session.close()
    values: dict[str, str | int] = {"banner_model": request.model, "banner_variant": variant}
    if size is not None:
        values["banner_size"] = str(size)
    if quality is not None:
        values["banner_quality"] = quality
    data = page.read_bytes()
    try:
        edited = set_keys(data, values)
    except EditError as error:
        lines = ", ".join(f"{key}: {value}" for key, value in values.items())
        raise Failure(f"{page}: cannot edit the front matter safely ({error}); set {lines} by hand",
                      EXIT_USAGE) from None
    if edited != data:
        target = page.resolve()  # a linked page stays a link: its target is what changes
        mode = target.stat().st_mode & 0o7777
        atomic_write(target, edited)
        target.chmod(mode)
    click.echo(f"{page}: banner_model: {request.model}, banner_variant: {variant} (cached; the next build "
               "makes no request)")


# --- prune ----------------------------------------------------------------------------------------------


def _remove(paths: list[Path], root: Path, dry_run: bool) -> int:
    removed = 0
    for path in paths:
        try:
            size = path.lstat().st_size
            if not dry_run:
                path.unlink()
        except FileNotFoundError:  # removed by someone else meanwhile
            continue
        except OSError as error:
            raise Failure(f"cannot remove {path}: {error.strerror or error}") from None
        click.echo(f"{'would remove' if dry_run else 'removed'} {path.relative_to(root)}")
        removed += size
    return removed


@cli.command(short_help="Remove cache entries no page uses.")
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
    started = time.time()
    site = _load_site(config_file, every_file=True)
    cache = site.cache
    try:
        # Routing does not change the cache key: a `banner_provider` that cannot serve the model (on a
        # draft the build skips, say) must not hide a page's key, nor stop the prune.
        requests = [site.session.request(spec, src, checked=False) for src, spec in site.specs]
        keys, renditions = cache.in_use(requests, site.settings.fmt, site.settings.widths)
    finally:
        site.session.close()
    doomed = cache.unused_files(keys, renditions, started)
    freed = _remove(doomed, cache.root, dry_run)
    if not dry_run:  # scratch files, not committed: removed with their keys, unless a build holds one now
        for key in set(cache.lock_keys()) - keys:
            cache.drop_lock(key)
    kept = f"kept {len(keys & set(cache.keys()))} original(s) and {len(renditions)} rendition(s) in use"
    if not doomed:
        click.echo(f"nothing to prune in {cache.root}: {kept}")
    elif dry_run:
        click.echo(f"would remove {len(doomed)} file(s), {_human_bytes(freed)}; {kept}; "
                   "run without --dry-run to remove them")
    else:
        click.echo(f"removed {len(doomed)} file(s), {_human_bytes(freed)}; {kept}")


@cli.command(short_help="Banners for Zensical: generate what is missing, publish it into docs_dir.")
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
        click.echo(f"{'stale' if check else 'warning'}: {_one_line(problem)}", err=True)
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


def _read_key(provider: str) -> str:
    if _stdin_is_terminal():
        key = click.prompt(f"{provider} API key (input hidden)", hide_input=True)
    else:
        key = sys.stdin.read() if sys.stdin is not None else ""
    key = key.strip()
    if not key:
        raise Failure(f"no key given for {provider}", EXIT_USAGE)
    if any(char.isspace() for char in key):
        raise Failure("expected one key, without spaces or line breaks", EXIT_USAGE)
    return key


def _overriding_variable(provider: str, credentials: Credentials) -> str | None:
    return next((name for name in _key_variables()[provider] if credentials.env(name)), None)


@cli.group(cls=ImagegenGroup, context_settings=CONTEXT, short_help="Store API keys once, for the CLI and the plugin.")
def keys() -> None:
    """Store API keys once; the CLI and the MkDocs plugin both use them.

    \b
    keys set PROVIDER      store PROVIDER's key (google, foundry or openai)
    keys list              show every stored key, masked (takes no provider)
    keys remove PROVIDER   delete PROVIDER's stored key

    Keys live in keys.json in the user config directory (MKDOCS_IMAGEGEN_CONFIG_DIR moves it),
    file mode 0600. Environment variables win over stored keys.
    """


@keys.command("set", short_help="Store a provider's key (hidden prompt, or stdin).")
@click.argument("provider", type=click.Choice(KEY_PROVIDERS), metavar="PROVIDER")
def keys_set(provider: str) -> None:
    """Store PROVIDER's key (google, foundry or openai), typed at a hidden prompt or piped on stdin."""
    key = _read_key(provider)
    credentials = Credentials()
    try:
        credentials.store.set(provider, key)
    except OSError as error:
        raise Failure(f"cannot write {credentials.store.path}: {error.strerror or error}") from None
    click.echo(f"stored the {provider} key {mask(key)} in {credentials.store.path}")
    override = _overriding_variable(provider, credentials)
    if override:
        click.echo(f"note: {override} is set in this environment and wins over the stored key", err=True)
    status = _registry().get(provider).status()
    if not status.ready:
        click.echo(f"note: {provider} is not ready yet: {status.detail}", err=True)


@keys.command("list", short_help="Show every stored key, masked, and what overrides it (no PROVIDER).")
def keys_list() -> None:
    """Show stored keys (masked) and which environment variable would override each."""
    credentials = Credentials()
    stored = credentials.stored()
    click.echo(f"key store: {credentials.store.path}")
    for provider, variables in _key_variables().items():
        key = stored.get(provider)
        state = f"stored {mask(key)}" if key else "not stored"
        override = _overriding_variable(provider, credentials)
        note = (f"{override} is set and is used instead" if override
                else f"{' or '.join(variables)} would override it")
        click.echo(f"{provider:<8} {state:<14} {note}")


@keys.command("remove", short_help="Delete PROVIDER's stored key.")
@click.argument("provider", type=click.Choice(KEY_PROVIDERS), metavar="PROVIDER")
def keys_remove(provider: str) -> None:
    """Delete PROVIDER's stored key (google, foundry or openai)."""
    store = KeyStore.default()
    try:
        removed = store.remove(provider)
    except OSError as error:
        raise Failure(f"cannot write {store.path}: {error.strerror or error}") from None
    click.echo(f"removed the stored {provider} key" if removed else f"no {provider} key was stored")


# --- emulator -------------------------------------------------------------------------------------------


@cli.command("emulator", short_help="Run a local fake of the three image APIs.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds each image request takes.")
@click.option("--serve-model", "serve_models", multiple=True, metavar="PROVIDER:NAME",
              help="Also serve a model the catalogue does not know (repeatable), e.g. google:gemini-4-flash-image.")
@click.option("--batch-delay", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="S",
              help="Seconds until a Gemini batch job delivers its results (POST /_emulator/batches:finish ends "
                   "them all at once).")
def emulator_command(port: int, latency: float, serve_models: tuple[str, ...], batch_delay: float) -> None:
    """Run a local fake of the Google, OpenAI and Azure image APIs until Ctrl-C.

    Prints `export` lines that point every provider at it: paste them into the shell where
    you run `mkdocs build` or `mkdocs-imagegen generate`. No real provider is called. It serves
    exactly the models the catalogue says are live today (retired names get each provider's
    real 404), plus any --serve-model.
    """
    from mkdocs_imagegen.emulator import parse_model_specs, run

    try:
        parse_model_specs(serve_models)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--serve-model'") from None
    try:
        run(port, latency, extra_models=serve_models, batch_delay=batch_delay)
    except OSError as error:
        raise Failure(f"cannot start the emulator on 127.0.0.1:{port}: {error.strerror or error}") from None
