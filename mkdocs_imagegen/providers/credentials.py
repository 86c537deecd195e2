"""Where credentials come from: the environment first, then keys stored by `mkdocs-imagegen keys set`.

Stored keys live in one JSON file in the user config dir (platformdirs), mode 0600.
`MKDOCS_IMAGEGEN_CONFIG_DIR` moves that directory (tests, CI, sandboxes).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from mkdocs_imagegen.provider_table import REAL_PROVIDERS

APP_NAME = "mkdocs-imagegen"
CONFIG_DIR_VARIABLE = "MKDOCS_IMAGEGEN_CONFIG_DIR"
KEY_PROVIDERS = REAL_PROVIDERS


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    override = environ.get(CONFIG_DIR_VARIABLE)
    if override:
        return Path(override)
    import platformdirs  # only here: most builds find their keys in the environment

    return Path(platformdirs.user_config_dir(APP_NAME))


def mask(secret: str) -> str:
    """Enough of a key to recognise it, never enough to use it."""
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> KeyStore:
        return cls(config_dir(environ) / "keys.json")

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, provider: str) -> str | None:
        return self.load().get(provider)

    def set(self, provider: str, key: str) -> None:
        keys = self.load()
        keys[provider] = key
        self._write(keys)

    def remove(self, provider: str) -> bool:
        keys = self.load()
        if provider not in keys:
            return False
        del keys[provider]
        self._write(keys)
        return True

    def _write(self, keys: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(keys, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class Credentials:
    """Looks a provider's secret up: environment variables win over the stored key."""

    def __init__(self, environ: Mapping[str, str] | None = None, store: KeyStore | None = None) -> None:
        self.environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        self.store = store if store is not None else KeyStore.default(self.environ)
        self._stored: dict[str, str] | None = None

    def env(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value.strip() if value and value.strip() else None

    def secret(self, provider: str, *env_names: str) -> tuple[str, str] | None:
        """(secret, where it came from) or None; `where` names a variable or the key store, never the value."""
        for name in env_names:
            value = self.env(name)
            if value:
                return value, name
        stored = self.stored().get(provider)
        if stored:
            return stored, f"the key stored by `mkdocs-imagegen keys set {provider}`"
        return None

    def stored(self) -> dict[str, str]:
        if self._stored is None:
            self._stored = self.store.load()
        return self._stored
