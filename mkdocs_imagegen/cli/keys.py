"""`keys`: API keys stored once, for the CLI and the plugin."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mkdocs_imagegen.providers.credentials import KEY_PROVIDERS, Credentials, KeyStore, mask

if TYPE_CHECKING:
    pass


from mkdocs_imagegen.cli import common
from mkdocs_imagegen.cli.common import (
    CONTEXT,
    EXIT_USAGE,
    Failure,
    ImagegenGroup,
    _key_variables,
    _registry,
)


def _read_key(provider: str) -> str:
    if common._stdin_is_terminal():
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


@click.group(cls=ImagegenGroup, context_settings=CONTEXT, short_help="Store API keys once, for the CLI and the plugin.")
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


