"""What a protocol module may ask of the emulator that hosts it: its keys, models, deployments and faults.

A protocol module is handed its host when it is made; typing it with this Protocol instead of the server's
class keeps the server the only module that knows every protocol, and no protocol module imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.faults import Fault
    from mkdocs_imagegen.emulator.models import ServedModels


class Host(Protocol):
    keys: dict[str, str]  # provider -> the key it accepts
    models: ServedModels
    deployments: dict[str, str]  # deployment name -> model, for protocols that deploy (Azure)
    identity_secret: str

    def token_valid(self, token: str) -> bool: ...

    def _take_fault(self, provider: str, prompt: str) -> Fault | None: ...
