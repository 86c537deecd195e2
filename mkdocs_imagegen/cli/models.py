"""`models` and `doctor`: what can be used, and how to enable the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.providers.credentials import Credentials

if TYPE_CHECKING:
    from mkdocs_imagegen.providers.discovery import LiveProvider
    from mkdocs_imagegen.providers.registry import Registry


from mkdocs_imagegen.cli.common import (
    PROG,
    Failure,
    _load_site,
    _registry,
)


def _print_models(rows: list[dict[str, Any]]) -> None:
    from mkdocs_imagegen.commands.modeltable import price_hint

    table = [("MODEL", "PROVIDERS", "PRICE PER IMAGE (USD, estimate)")]
    for row in rows:
        name = row["model"] + (" *" if row["default"] else "")
        providers = ", ".join(f"{p['name']} ({'ready' if p['authenticated'] else 'not set up'})"
                              for p in row["providers"])
        if row["retired"]:
            providers, price = "", f"retired {row['retired']}: sent as {row['successor']}"
        elif row["deprecated"]:
            price = f"deprecated {row['deprecated']} (successor {row['successor']}); {price_hint(row['price'])}"
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


@click.command(short_help="Every model, the providers that serve it, and a price hint.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--live", is_flag=True, help="Also ask each authenticated provider which image models it serves now.")
@click.option("--markdown", is_flag=True, help="Print the catalogue as Markdown tables, as the docs show them.")
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


@click.command(short_help="Which providers are ready, and exactly how to enable the others.")
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
        raise Failure(f"no image provider is set up; apply one of the fixes above (or try `{PROG} emulator`)"
                      " (see docs: troubleshooting#no-credentials)")
    click.echo(f"models usable now: {', '.join(usable)}")
    if config_file is not None:
        for line in _deprecated_in_site(config_file):
            click.echo(f"warning: {line}")
    failed = [item.name for item in found.values() if not item.check.ok or item.missing_deployments]
    if failed:
        raise Failure(f"live check failed for {', '.join(failed)}: see the lines above")


def _deprecated_in_site(config_file: Path) -> list[str]:
    """One line if the site's `model:` option is deprecated, one per deprecated model pages use (no request)."""
    from mkdocs_imagegen.build.model_news import deprecation_text
    from mkdocs_imagegen.errors import ImagegenError

    try:
        site = _load_site(config_file, skip_if_disabled=True)
    except (ImagegenError, click.ClickException, OSError):
        return []  # the site cannot be read: `plan` and a build say why
    session = site.session
    try:
        for src, spec in site.specs:
            try:
                session.request(spec, src)
            except ImagegenError:
                continue  # a page's own error is a build's and `plan`'s to name
        catalogue, label = session.registry.catalogue, (lambda name: session.registry.get(name).label)
        lines = []
        default = catalogue.deprecated(session.registry.lookup(site.settings.model).name)
        if default is not None:
            lines.append(f"the site's `model:` option is {default.name!r}, deprecated on {default.deprecated}; "
                         f"its successor is {default.successor!r}")
        lines += [deprecation_text(catalogue, model, label, pages) for model, pages in session.news.deprecated.items()]
        return lines
    except ImagegenError:
        return []
    finally:
        session.close()


# --- plan: read the site like a build would, without building ------------------------------------------


