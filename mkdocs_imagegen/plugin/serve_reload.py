"""Under `mkdocs serve`: a banner that lands before the preview watches the cache still replaces its placeholder.

The first build hands its new banners to the background, then MkDocs starts watching `originals/`. A banner
that lands in between (a fast provider, a large site) writes its file while nobody watches, and the preview
would show the placeholder until the next edit. Once the first build's banners are all done, this touches
their files until a rebuild has started: each touch is a change the watcher reports.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

NUDGE_INTERVAL = 0.5  # seconds between touches while no rebuild has started
MAX_NUDGES = 60


class ReloadNudge:
    def __init__(self, jobs_done: Callable[[], bool], landed: Callable[[], list[Path]],
                 stop: threading.Event) -> None:
        self._jobs_done = jobs_done
        self._landed = landed
        self._stop = stop
        self._rebuilt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imagegen-reload-nudge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for the nudging to end; True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def rebuilt(self) -> None:
        """A build started: whatever landed is shown once it ends."""
        self._rebuilt.set()

    def _run(self) -> None:
        while not self._jobs_done():  # looked at, not waited on: a closed pipeline may never finish a job
            if self._stop.wait(NUDGE_INTERVAL) or self._rebuilt.is_set():
                return
        paths = self._landed()
        for _ in range(MAX_NUDGES if paths else 0):
            if self._rebuilt.wait(NUDGE_INTERVAL) or self._stop.is_set():
                return
            for path in paths:
                with contextlib.suppress(OSError):
                    os.utime(path)
