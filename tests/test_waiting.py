"""A build waiting on a slow provider uses no CPU: no thread wakes up while its requests are in flight."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sitekit import PROVIDER_VARIABLES, banner_file, image_info, page, write_site

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts context switches in /proc")


def wake_ups(pid: int) -> int:
    """How many times the process's threads have gone to sleep and been woken so far (voluntary switches)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text(encoding="ascii")
        except OSError:  # a thread that just ended
            continue
        total += next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("voluntary_ctxt_switches:"))
    return total


def test_a_build_waiting_on_its_requests_wakes_no_thread(site_root: Path, emulator) -> None:  # noqa: ANN001
    pages = {f"p{i}.md": page(f"Banner {i}: a lighthouse at dawn", title=f"P{i}") for i in range(12)}
    config = write_site(site_root, pages, {"concurrency": 2})
    emulator.gate = threading.Event()  # the provider takes as long as the test wants
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | emulator.env()
    build = subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "-f", str(config)], cwd=site_root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert emulator.wait_for_in_flight(2, timeout=60), "the build never had its requests in flight"
        settle = threading.Event()
        settle.wait(0.5)  # the other banners' threads reach their wait for a request slot
        before = wake_ups(build.pid)
        settle.wait(1.5)  # the window observed: every thread should sleep through it
        woken = wake_ups(build.pid) - before
    finally:
        emulator.gate.set()
        _, errors = build.communicate(timeout=120)
    assert build.returncode == 0, errors
    # Threads that look now and then at whether the build stopped woke 5 times a second each (40 here).
    assert woken <= 3, f"threads woke {woken} times in 1.5 s while the build only waited"
    assert image_info(banner_file(config, "p0")) == ((1792, 1024), "webp")
