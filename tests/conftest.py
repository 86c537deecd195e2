"""Every test runs with no provider credentials and a private config dir, unless it sets them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitekit import PROVIDER_VARIABLES


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name in PROVIDER_VARIABLES or name.startswith(("AZURE_", "GOOGLE_", "GEMINI_", "OPENAI_", "IDENTITY_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKDOCS_IMAGEGEN_CONFIG_DIR", str(tmp_path_factory.mktemp("user-config")))


CHECKOUT_CACHE = Path(__file__).resolve().parents[1] / ".banners"


@pytest.fixture(autouse=True)
def checkout_left_alone() -> Iterator[None]:
    """A test works in its own folders: a cache it makes in the checkout (a command run from the repository's
    folder) would be shared by every test and every worker, and left behind."""
    existed = CHECKOUT_CACHE.exists()
    yield
    assert existed or not CHECKOUT_CACHE.exists(), "this test made .banners in the checkout: run it in tmp_path"


@pytest.fixture
def emulator() -> Iterator[object]:
    from mkdocs_imagegen.emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture
def site_root(tmp_path: Path) -> Path:
    return tmp_path / "site-project"


@pytest.fixture
def env(emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # noqa: ANN001
    """This process's environment with every provider pointed at the emulator (for in-process CLI runs)."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    return dict(os.environ)
