"""`run()`: the emulator from the command line (`mkdocs-imagegen emulator`), until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from mkdocs_imagegen.emulator.faults import Fault, parse_fault_spec
from mkdocs_imagegen.emulator.models import ExtraModels, parse_model_specs
from mkdocs_imagegen.emulator.server import Emulator
from mkdocs_imagegen.emulator.wire import Reply


class LoggingEmulator(Emulator):
    """The emulator as `mkdocs-imagegen emulator` runs it: one stderr line per request, a count at the end.

    Tests construct Emulator itself, which prints nothing. The line shows the path, never the query
    (Gemini's `?key=`) or headers, where a key travels.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered = 0
        self._count_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        started = time.monotonic()
        reply = super().handle(method, target, headers, raw)
        with self._count_lock:
            self.answered += 1
            number = self.answered
        status = {"reset": "connection reset", "drop": "hung up"}.get(reply.close or "", str(reply.status))
        print(f"#{number} {method} {target.split('?', 1)[0]} -> {status} in {time.monotonic() - started:.2f}s",
              file=sys.stderr, flush=True)
        return reply

    def summary(self) -> str:
        images = len(self.image_requests())
        return f"mkdocs-imagegen emulator: {self.answered} request(s) answered, {images} of them image generation(s)"


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


def run(port: int = 8765, latency: float = 0.0, extra_models: ExtraModels | None = None,
        batch_delay: float = 0.0, faults: tuple[str, ...] = ()) -> None:
    """Serve until interrupted, after printing the exports that point providers at the emulator.

    extra_models: more models to serve, as {provider: [names]} or "PROVIDER:NAME" strings (the CLI's
    repeatable `--serve-model`); faults: "KIND[:MATCH]" strings (`--fault`), each applied to every matching
    image request. A malformed one raises ValueError before anything is served.
    """
    extras = parse_model_specs(extra_models)
    scripted: list[Fault] = [parse_fault_spec(spec) for spec in faults]
    emulator = LoggingEmulator(latency=latency, port=port, extra_models=extras).start()
    emulator.batches.delay = batch_delay
    for fault in scripted:
        emulator.add_fault(fault)
    try:
        with _sigterm_interrupts():
            for name, value in emulator.env().items():
                print(f"export {name}={shlex.quote(value)}", flush=True)
            print(
                f"mkdocs-imagegen emulator on {emulator.url} (latency {latency:g}s; managed identity"
                f" at {emulator.managed_identity_env()['IDENTITY_ENDPOINT']}); Ctrl-C to stop",
                file=sys.stderr, flush=True,
            )
            for fault in scripted:
                where = f" for prompts containing {fault.match!r}" if fault.match else ""
                print(f"fault {fault.kind}{where}: every matching image request", file=sys.stderr, flush=True)
            if extras:
                served = ", ".join(f"{provider}:{name}" for provider, names in extras.items() for name in names)
                print(f"also serving {served}", file=sys.stderr, flush=True)
            emulator.wait_until_stopped()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        print(emulator.summary(), file=sys.stderr, flush=True)
