"""`run()`: the emulator from the command line (`mkdocs-imagegen emulator`), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from .models import ExtraModels, parse_model_specs
from .server import Emulator


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while serving (only possible on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(port: int = 8765, latency: float = 0.0, extra_models: ExtraModels | None = None) -> None:
    """Serve until interrupted, after printing the exports that point providers at the emulator.

    extra_models: more models to serve, as {provider: [names]} or "PROVIDER:NAME" strings (the CLI's
    repeatable `--serve-model`); a malformed one raises ValueError before anything is served.
    """
    extras = parse_model_specs(extra_models)
    emulator = Emulator(latency=latency, port=port, extra_models=extras).start()
    try:
        with _sigterm_interrupts():
            for name, value in emulator.env().items():
                print(f"export {name}={shlex.quote(value)}", flush=True)
            print(
                f"mkdocs-imagegen emulator on {emulator.url} (latency {latency:g}s; managed identity"
                f" at {emulator.managed_identity_env()['IDENTITY_ENDPOINT']}); Ctrl-C to stop",
                file=sys.stderr, flush=True,
            )
            if extras:
                served = ", ".join(f"{provider}:{name}" for provider, names in extras.items() for name in names)
                print(f"also serving {served}", file=sys.stderr, flush=True)
            emulator.wait_until_stopped()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
