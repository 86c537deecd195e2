"""Text models, for `brief` and `alt` (which draft banner prompts and alt text): what every provider's text
endpoint shares. Each provider's own wire format is its text module (gemini_text, openai_text, azure_text),
named by its provider table row (`ProviderSpec.text_emulator`).

The models served are the text catalogue's (catalogue/text_models.json). Answers are deterministic: a
prompt drafted from the `Title:` line of the text sent, or alt text naming the image's size and colour.
Text counts one token per four characters (the providers' rule of thumb); each protocol counts its images.

Faults (`Emulator.text.add_fault`): "empty" (an answer with no text), "refusal" (as each provider refuses),
"too_long" and "multiline" (an answer a caller must not use as it is), "server_error" and "rate_limit" (the
provider's error answers).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.catalogue.text import text_catalogue
from mkdocs_imagegen.emulator.wire import Endpoint, Rejected
from mkdocs_imagegen.provider_table import PROVIDERS

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host

TEXT_FAULTS = frozenset({"empty", "refusal", "too_long", "multiline", "server_error", "rate_limit"})
_TITLE = re.compile(r"^Title: (?P<title>.+)$", re.MULTILINE)


@dataclass
class TextFault:
    """A scripted answer for matching text requests: `match` is a substring of the text sent (None: any)."""

    kind: str
    provider: str | None = None
    match: str | None = None
    times: int = 1
    retry_after: float = 1.0  # rate_limit: the seconds its answer asks the client to wait

    def __post_init__(self) -> None:
        if self.kind not in TEXT_FAULTS:
            raise ValueError(f"unknown text fault {self.kind!r}; known: {sorted(TEXT_FAULTS)}")


class TextService:
    """What the three text endpoints share: the faults, and Azure's text deployments."""

    def __init__(self, emulator: Host) -> None:
        self.emulator = emulator
        self._faults: list[TextFault] = []
        self._lock = threading.Lock()
        self.deployments: dict[str, str] = {}  # deployment -> text model, for protocols that deploy (Azure)
        self.endpoints: tuple[Endpoint, ...] = tuple(_load(spec.text_emulator)(self) for spec in PROVIDERS
                                                     if spec.text_emulator)

    def models(self, provider: str) -> list[str]:
        return [info.name for info in text_catalogue().models.values() if provider in info.providers]

    def add_fault(self, fault: TextFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, provider: str, text: str) -> TextFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.provider in (None, provider) and (fault.match is None or fault.match in text):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None


def draft(text: str, image: bytes | None) -> str:
    """The deterministic answer: alt text for a request with an image, else a banner prompt."""
    found = _TITLE.search(text)
    title = " ".join(found.group("title").split()) if found else "an untitled page"
    if image is None:
        return f"A wide, quiet editorial scene about {title}, soft light, room to breathe on both sides"
    size, colour = _picture(image)
    head = f"A {size} banner in {colour} for "
    return head + (title if len(head) + len(title) <= 125 else title[: 124 - len(head)] + "…")


def _picture(data: bytes) -> tuple[str, str]:
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "WEBP")) as image:
        red, green, blue = image.convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
        return f"{image.width}x{image.height}", f"#{red:02x}{green:02x}{blue:02x}"


def faulty(kind: str | None, answer: str) -> str:
    if kind == "empty":
        return ""
    if kind == "too_long":
        return " ".join([answer] * 12)
    if kind == "multiline":
        return f"{answer}\nSure! Here is the prompt you asked for."
    return answer


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _load(reference: str) -> Callable[[TextService], Endpoint]:
    module_name, _, class_name = reference.partition(":")
    return getattr(import_module(module_name), class_name)


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "WEBP")) as image:
        return image.size


def decode(data: Any, bad: Any) -> bytes:
    try:
        raw = base64.b64decode(str(data or "").replace("-", "+").replace("_", "/"), validate=True)  # either alphabet
        image_size(raw)
    except (binascii.Error, ValueError, OSError):
        raise Rejected(bad()) from None
    return raw
