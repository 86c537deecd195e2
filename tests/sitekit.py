"""Small helpers to write a throwaway MkDocs site and build it the way a user does."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import socket
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from mkdocs_imagegen.provider_table import PROVIDERS

# Every variable a provider reads, from the provider table: a build in a test sees only those it is given.
PROVIDER_VARIABLES = frozenset(name for spec in PROVIDERS for name in (*spec.key_variables, *spec.environment))


def page(prompt: str | None = None, body: str = "Some text.", **front: Any) -> str:
    meta = dict(front)
    if prompt is not None:
        meta["banner_prompt"] = prompt
    header = f"---\n{yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}---\n\n" if meta else ""
    title = front.get("title", "A page")
    return f"{header}# {title}\n\n{body}\n"


def write_site(root: Path, pages: Mapping[str, str], options: Mapping[str, Any] | None = None, *,
               site_url: str | None = "https://example.org/blog/", extra: Mapping[str, Any] | None = None) -> Path:
    """Write mkdocs.yml and docs/ under root; returns the mkdocs.yml path."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    config: dict[str, Any] = {"site_name": "Test site", "plugins": [{"imagegen": dict(options or {})}]}
    if site_url:
        config["site_url"] = site_url
    config.update(extra or {})
    config_file = root / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config_file


def build(config_file: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mkdocs build` through MkDocs' own command line, in this process: its exit code, and what it prints.

    The same click command, logging format and plugin start-up/shut-down a user's `mkdocs build` runs, with
    the environment and working directory a subprocess would get, minus the ~2 s of interpreter start and
    imports. Use `build_process` where the process boundary itself is under test (signals, a hard time
    bound, what a fresh interpreter imports).
    """
    from mkdocs.__main__ import ColorFormatter, cli

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, _mkdocs_logging_restored(), warnings.catch_warnings():
        for name in PROVIDER_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.chdir(config_file.parent)
        patch.setattr(ColorFormatter.text_wrapper, "width", 0)  # as in a subprocess: no terminal, no wrapping
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = _exit_code(cli, ["build", "-f", str(config_file), *args])
    return subprocess.CompletedProcess(["mkdocs", "build", *args], code, stdout.getvalue(), stderr.getvalue())


def _exit_code(command: Any, args: list[str]) -> int:
    try:
        command.main(args, prog_name="mkdocs", standalone_mode=True)
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except Exception:  # what the interpreter would print as a traceback, with exit code 1
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _mkdocs_logging_restored() -> Iterator[None]:
    """MkDocs' CLI sets its logger's level, stops propagation and adds a duplicate filter: undo them after."""
    logger, build_log = logging.getLogger("mkdocs"), logging.getLogger("mkdocs.commands.build")
    saved = (logger.level, logger.propagate, list(logger.handlers), list(build_log.filters))
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
        build_log.filters[:] = saved[3]


def build_process(config_file: Path, *args: str, env: Mapping[str, str] | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`mkdocs build` in a subprocess, exactly as a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(config_file), *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=config_file.parent,
    )


def banner_sources(html: str) -> list[str]:
    import re

    return re.findall(r'<p class="imagegen-banner"><img src="([^"]+)"', html)


def page_html(config_file: Path, page_dir: str) -> str:
    return (config_file.parent / "site" / page_dir / "index.html").read_text(encoding="utf-8")


def banner_file(config_file: Path, page_dir: str) -> Path:
    """The banner file a built page references, resolved against the page's location."""
    sources = banner_sources(page_html(config_file, page_dir))
    assert len(sources) == 1, f"expected one banner on {page_dir}, found {sources}"
    return (config_file.parent / "site" / page_dir / sources[0]).resolve()


def image_info(path: Path) -> tuple[tuple[int, int], str]:
    with Image.open(path) as image:
        return image.size, (image.format or "").lower()


def warnings_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("WARNING")]


def free_port() -> int:
    """A free loopback port, for a server that cannot be told port 0 and say which it took (`mkdocs serve`,
    fake-gcs-server). Picked at random below the kernel's ephemeral range, where port-0 servers and outgoing
    connections of the tests running beside this one never land, and probed."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.SystemRandom().randrange(low // 2, low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free loopback port in {low // 2}..{low - 1}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; macOS starts at 49152


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port held bound but never listening: connecting is refused, and no other test can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
