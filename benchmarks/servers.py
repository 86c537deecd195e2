"""The two servers a cold benchmark runs against, behind one small interface: our emulator (in the
benchmark's process, drawing flat images) and stdlib_server.py (its own process, the standard library
only, answering pre-rendered photographic-looking images)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

KEY = "bench-not-a-secret"
GEMINI_TIERS = (("16:9", "1K"), ("16:9", "2K"), ("1:1", "1K"), ("1:1", "2K"))


class EmulatorServer:
    name = "emulator"

    def __init__(self, latency: float, max_in_flight: int | None = None) -> None:
        from mkdocs_imagegen.emulator import Emulator

        self._emulator = Emulator(latency=latency, max_in_flight=max_in_flight)

    def __enter__(self) -> EmulatorServer:
        self._emulator.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._emulator.__exit__(kind, error, trace)

    def env(self) -> dict[str, str]:
        return self._emulator.env()

    def reset(self) -> None:
        self._emulator.reset()

    def requests(self) -> int:
        return len(self._emulator.image_requests())

    @property
    def max_concurrent(self) -> int:
        return self._emulator.max_concurrent


def render_answers(folder: Path, size: str) -> Path:
    """The files stdlib_server.py answers with: OpenAI's at `size` in each format, Gemini's JPEGs at
    the tiers of Google's table a banner of 16:9 or 1:1 asks for. Rendered once, kept in `folder`."""
    from photos import photo
    from stdlib_server import GEMINI_SIZES, gemini_file

    folder.mkdir(parents=True, exist_ok=True)
    width, height = (int(edge) for edge in size.split("x"))
    wanted: dict[str, tuple[int, int, str]] = {
        f"openai-{size}.{fmt}": (width, height, fmt) for fmt in ("png", "jpeg", "webp")}
    for ratio, tier in GEMINI_TIERS:
        w, h = GEMINI_SIZES[ratio][tier]
        wanted[str(gemini_file(ratio, tier))] = (w, h, "jpeg")
    save = {"png": {"format": "PNG", "compress_level": 6}, "jpeg": {"format": "JPEG", "quality": 90},
            "webp": {"format": "WEBP", "quality": 85}}
    for name, (w, h, fmt) in wanted.items():
        path = folder / name
        if not path.exists():
            buffer = io.BytesIO()
            photo(w, h, seed=w * 7 + h).save(buffer, **save[fmt])
            path.write_bytes(buffer.getvalue())
    return folder


class StdlibServer:
    name = "stdlib"

    def __init__(self, latency: float, answers: Path) -> None:
        self.latency = latency
        self.answers = answers
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> StdlibServer:
        self._process = subprocess.Popen(
            [sys.executable, str(HERE / "stdlib_server.py"), "--answers", str(self.answers),
             "--latency", str(self.latency)], stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise SystemExit("stdlib_server.py did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{self.url}/v1",
                "GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": self.url,
                "AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": self.url}

    def _call(self, method: str, path: str) -> dict[str, int]:
        request = urllib.request.Request(f"{self.url}{path}", method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own loopback server
            return json.loads(answer.read())

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def requests(self) -> int:
        return self._call("GET", "/_stats")["requests"]

    @property
    def max_concurrent(self) -> int:
        return self._call("GET", "/_stats")["max_in_flight"]
