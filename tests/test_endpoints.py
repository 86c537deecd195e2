"""Banners from any OpenAI-compatible endpoint (`providers.endpoints`): a local GPU server, a self-hosted one,
a company gateway, against the emulator's stable-diffusion.cpp, LocalAI and LiteLLM dialects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mkdocs_imagegen.emulator import Emulator, Fault
from mkdocs_imagegen.emulator.local import LocalApi

from sitekit import banner_file, build, image_info, page, warnings_of, write_site
from test_security import assert_nowhere, assert_provenance_clean

SD_PAGES = {f"p{i}.md": page(f"a quiet harbour number {i}", title=f"P{i}", banner_model="sd-turbo")
            for i in range(3)}


def endpoint(url: str, **options: Any) -> dict[str, Any]:
    return {"providers": {"endpoints": {"studio": {"base_url": url, **options}}}}


def generations(emulator: Emulator) -> list:
    return [r for r in emulator.image_requests() if r.provider == "endpoints"]


def test_sdcpp_three_banners_one_at_a_time_then_none(site_root: Path, emulator: Emulator) -> None:
    emulator.latency = 0.3  # long enough that the build's four workers would overlap without the endpoint's limit
    config = write_site(site_root, SD_PAGES, endpoint(f"{emulator.url}/sdcpp/v1", models=["sd-turbo"],
                                                      concurrency=1))
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    assert "3 × sd-turbo via studio (studio takes 1 at a time)" in result.stderr, result.stderr
    assert "estimated cost $0.00 (price unknown for 3)" in result.stderr, result.stderr
    requests = generations(emulator)
    assert len(requests) == 3 and emulator.max_concurrent == 1
    assert {r.path for r in requests} == {"/sdcpp/v1/images/generations"}
    assert all(r.body["model"] == "sd-turbo" and r.body["output_format"] == "webp" for r in requests)
    assert all("authorization" not in r.headers for r in requests)  # no key_env: no key is sent
    for name in ("p0", "p1", "p2"):
        assert image_info(banner_file(config, name)) == ((1792, 1024), "webp")

    emulator.reset()
    again = build(config, "--strict")
    assert again.returncode == 0, again.stderr
    assert emulator.requests == []


def test_a_models_size_and_price_are_what_its_entry_says(site_root: Path, emulator: Emulator) -> None:
    pages = {"a.md": page("a small lamp", title="A", banner_model="sd-turbo")}
    config = write_site(site_root, pages, endpoint(f"{emulator.url}/sdcpp/v1",
                                                   models={"sd-turbo": {"size": "512x512", "price": 0}}))
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    [request] = generations(emulator)
    assert request.body["size"] == "512x512" and request.body["output_format"] == "png"  # resized here
    assert image_info(banner_file(config, "a")) == ((1792, 1024), "webp")


def test_localai_url_answers_come_from_the_endpoint_origin_only(site_root: Path, emulator: Emulator) -> None:
    emulator.add_model("endpoints", "sd-turbo")
    options = endpoint(f"{emulator.url}/localai/v1", models=["sd-turbo"], concurrency=1)
    config = write_site(site_root, {"a.md": page("a red kite", title="A", banner_model="sd-turbo")}, options)
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    [generation] = generations(emulator)
    assert "response_format" not in generation.body  # LocalAI's default answer: a URL
    fetched = [r for r in emulator.requests if r.kind == "file"]
    assert len(fetched) == 1 and fetched[0].path.startswith("/localai/generated-images/")
    assert image_info(banner_file(config, "a")) == ((1792, 1024), "webp")

    with Emulator() as other:  # the host a forged answer names: it must see nothing
        LocalApi.of(emulator).foreign_origin = other.url
        emulator.reset()
        (site_root / "docs" / "b.md").write_text(page("a blue kite", title="B", banner_model="sd-turbo"))
        second = build(config)
        assert other.requests == []
    assert second.returncode == 0, second.stderr
    [warning] = warnings_of(second)
    assert "b.md" in warning and "another origin" in warning and other.url.split("//")[1] in warning, warning
    assert [r.kind for r in emulator.requests] == ["image"]  # nothing fetched, from anywhere
    assert banner_file(config, "b").name.startswith("placeholder-")


def test_localai_asked_for_base64(site_root: Path, emulator: Emulator) -> None:
    emulator.add_model("endpoints", "sd-turbo")
    options = endpoint(f"{emulator.url}/localai/v1", models=["sd-turbo"], response_format="b64_json")
    config = write_site(site_root, {"a.md": page("a green kite", title="A", banner_model="sd-turbo")}, options)
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    [generation] = generations(emulator)
    assert generation.body["response_format"] == "b64_json"
    assert [r.kind for r in emulator.requests] == ["image"]


def test_openai_and_an_endpoint_in_one_build(site_root: Path, emulator: Emulator) -> None:
    pages = {"cloud.md": page("a cloud of notes", title="Cloud", banner_model="gpt-image-2"),
             "local.md": page("a local lamp", title="Local", banner_model="sd-turbo")}
    config = write_site(site_root, pages, endpoint(f"{emulator.url}/sdcpp/v1", models=["sd-turbo"]))
    openai_only = {k: v for k, v in emulator.env().items() if k.startswith("OPENAI_")}
    result = build(config, "--strict", env=openai_only)
    assert result.returncode == 0, result.stderr
    routed = {r.prompt: (r.provider, r.path) for r in emulator.image_requests()}
    assert routed == {"a cloud of notes": ("openai", "/v1/images/generations"),
                      "a local lamp": ("endpoints", "/sdcpp/v1/images/generations")}
    for name in ("cloud", "local"):
        assert not banner_file(config, name).name.startswith("placeholder-")


def test_auto_asks_the_listing_once_and_routes_what_it_lists(site_root: Path, emulator: Emulator) -> None:
    emulator.add_model("endpoints", "flux-2-klein")
    pages = {f"f{i}.md": page(f"a fox {i}", title=f"F{i}", banner_model="flux-2-klein") for i in range(2)}
    config = write_site(site_root, pages, endpoint(f"{emulator.url}/localai/v1", models="auto",
                                                   response_format="b64_json"))
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    assert len([r for r in emulator.requests if r.kind == "models"]) == 1
    assert sorted(r.prompt for r in generations(emulator)) == ["a fox 0", "a fox 1"]

    emulator.reset()  # a name it does not list stops the build, as any unknown model does, saying what it lists
    (site_root / "docs" / "typo.md").write_text(page("a fox typo", title="Typo", banner_model="flux-2-kleen"))
    typo = build(config)
    assert typo.returncode != 0
    [error] = [line for line in typo.stderr.splitlines() if line.startswith("ERROR")]
    assert "typo.md" in error and "'flux-2-kleen'" in error and "studio: it lists flux-2-klein" in error, error
    assert emulator.image_requests() == []


def test_banner_provider_forces_an_endpoint(site_root: Path, emulator: Emulator) -> None:
    emulator.add_model("endpoints", "gpt-image-2")
    pages = {"g.md": page("a gateway banner", title="G", banner_model="gpt-image-2", banner_provider="studio")}
    config = write_site(site_root, pages, endpoint(f"{emulator.url}/localai/v1", response_format="b64_json"))
    result = build(config, "--strict", env=emulator.env())  # every cloud provider ready too: the page decides
    assert result.returncode == 0, result.stderr
    assert [(r.provider, r.model) for r in emulator.image_requests()] == [("endpoints", "gpt-image-2")]


def test_what_such_servers_send_wrong_is_one_line(site_root: Path, emulator: Emulator) -> None:
    emulator.add_model("endpoints", "sd-turbo")
    emulator.add_fault(Fault(provider="endpoints", kind="server_error", times=-1, match="crash"))
    pages = {"crash.md": page("a crash", title="Crash", banner_model="sd-turbo"),
             "gone.md": page("a gone model", title="Gone", banner_model="unloaded", banner_provider="studio")}
    config = write_site(site_root, pages, {"retries": 1, **endpoint(f"{emulator.url}/localai/v1",
                                                                    models=["sd-turbo"])})
    result = build(config)
    assert result.returncode == 0, result.stderr
    lines = warnings_of(result)
    assert len(lines) == 2, result.stderr
    [crash] = [line for line in lines if "crash.md" in line]
    assert "server error 500" in crash and "500 Internal Server Error" in crash, crash
    [gone] = [line for line in lines if "gone.md" in line]
    assert "has no model 'unloaded' loaded" in gone and "HTTP 404" in gone, gone


def test_a_timeout_per_endpoint_says_a_model_may_be_loading(site_root: Path, emulator: Emulator) -> None:
    emulator.add_fault(Fault(provider="endpoints", kind="slow", delay=3.0, times=-1))
    config = write_site(site_root, {"a.md": page("a slow lamp", title="A", banner_model="sd-turbo")},
                        {"retries": 0, **endpoint(f"{emulator.url}/sdcpp/v1", models=["sd-turbo"], timeout=0.5)})
    result = build(config)
    assert result.returncode == 0, result.stderr
    [warning] = warnings_of(result)
    assert "timed out after 0.5 s" in warning and "providers.endpoints.studio.timeout" in warning, warning


CANARY = "sk-gateway-CANARY-5Qm8Zt2Lw9Xv4Bn7Hc"


def test_a_key_from_key_env_never_appears_anywhere(site_root: Path, emulator: Emulator) -> None:
    emulator.keys["endpoints"] = CANARY
    emulator.add_model("endpoints", "sd-turbo")
    emulator.add_fault(Fault(provider="endpoints", kind="rate_limit", times=1, retry_after=0.05))
    pages = {"ok.md": page("a gateway lamp", title="Ok", banner_model="sd-turbo"),
             "gone.md": page("a gateway typo", title="Gone", banner_model="sd-turbo-x", banner_provider="studio")}
    config = write_site(site_root, pages, {"retries": 1, **endpoint(f"{emulator.url}/litellm/v1", key_env="GATEWAY_KEY",
                                                                    models=["sd-turbo"])})
    result = build(config, "-v", env={"GATEWAY_KEY": CANARY})
    assert result.returncode == 0, result.stderr
    assert {r.headers["authorization"] for r in generations(emulator)} == {f"Bearer {CANARY}"}
    assert len(warnings_of(result)) == 1 and "retry 1/1" in result.stderr
    assert_nowhere([CANARY], result.stdout + result.stderr, site_root / ".banners", site_root / "site")
    assert_provenance_clean(site_root / ".banners", [CANARY])


def test_a_refused_key_names_its_variable_never_the_key(site_root: Path, emulator: Emulator) -> None:
    wrong = "sk-gateway-WRONG-8Hd3Kq6Vp1Ns5Yt2Rb"
    emulator.add_model("endpoints", "sd-turbo")
    config = write_site(site_root, {"a.md": page("a lamp", title="A", banner_model="sd-turbo")},
                        endpoint(f"{emulator.url}/litellm/v1", key_env="GATEWAY_KEY", models=["sd-turbo"]))
    result = build(config, "-v", env={"GATEWAY_KEY": wrong})
    assert result.returncode == 0, result.stderr
    [warning] = warnings_of(result)
    assert "refused the key from GATEWAY_KEY" in warning, warning
    assert_nowhere([wrong], result.stdout + result.stderr, site_root / ".banners", site_root / "site")


def test_doctor_live_models_live_and_plan_include_the_endpoint(site_root: Path, emulator: Emulator,
                                                                monkeypatch) -> None:  # noqa: ANN001
    from mkdocs_imagegen.cli import cli

    emulator.add_model("endpoints", "sd-turbo")
    config = write_site(site_root, SD_PAGES, endpoint(f"{emulator.url}/localai/v1", models=["sd-turbo"]))
    monkeypatch.chdir(site_root)
    runner = CliRunner()
    doctor = runner.invoke(cli, ["doctor", "--live", "-f", str(config)])
    assert doctor.exit_code == 0, doctor.output
    assert "studio" in doctor.output and f"endpoint {emulator.url}/localai/v1" in doctor.output, doctor.output
    models = runner.invoke(cli, ["models", "--live", "--json", "-f", str(config)])
    live = {item["provider"]: item for item in json.loads(models.output)["live"]}
    assert live["studio"]["ok"] and live["studio"]["served_known"] == ["sd-turbo"]
    plan = runner.invoke(cli, ["plan", "-f", str(config)])
    assert plan.exit_code == 0, plan.output
    assert "price unknown" in plan.output and "studio" in plan.output, plan.output
    assert emulator.image_requests() == []


def test_the_progress_line_says_what_waits_for_a_one_at_a_time_endpoint() -> None:
    from concurrent.futures import Future

    from mkdocs_imagegen.build.jobs import Job, queued
    from mkdocs_imagegen.providers.base import ProviderContext
    from mkdocs_imagegen.providers.endpoint import EndpointProvider
    from mkdocs_imagegen.providers.registry import Route
    from mkdocs_imagegen.request import GenerationRequest, Size

    studio = EndpointProvider(ProviderContext({"base_url": "http://127.0.0.1:1/v1", "concurrency": 1}), name="studio")
    jobs = [Job(GenerationRequest(prompt=f"p{i}", model="sd-turbo", size=Size(64, 64)), Route("sd-turbo", studio),
                Future()) for i in range(3)]
    assert queued(jobs, concurrency=4) == "2 waiting for studio (1 at a time)"
    jobs[0].future.set_result(None)  # type: ignore[union-attr]
    assert queued(jobs, concurrency=4) == "1 waiting for studio (1 at a time)"
    assert queued(jobs, concurrency=1) == ""  # the build's own limit: nothing is held back by the endpoint


RECIPES = Path(__file__).resolve().parent.parent / "docs" / "models" / "own-machine.md"


def recipe(number: int) -> dict[str, Any]:
    """The docs page's `number`th complete mkdocs.yml (a YAML block that starts with `site_name:`)."""
    import re

    import yaml

    blocks = re.findall(r"```yaml\n(site_name:.*?)```", RECIPES.read_text(encoding="utf-8"), re.DOTALL)
    return yaml.safe_load(blocks[number])


def test_the_docs_recipe_for_stable_diffusion_cpp(site_root: Path, emulator: Emulator) -> None:
    config = recipe(0)
    studio = config["plugins"][0]["imagegen"]["providers"]["endpoints"]["studio"]
    assert studio["base_url"] == "http://127.0.0.1:1234/v1"  # sd-server's own default address
    studio["base_url"] = f"{emulator.url}/sdcpp/v1"
    pages = {f"p{i}.md": page(f"a recipe lamp {i}", title=f"P{i}") for i in range(2)}
    config_file = write_site(site_root, pages, config["plugins"][0]["imagegen"])
    result = build(config_file, "--strict")
    assert result.returncode == 0, result.stderr
    assert [r.body["size"] for r in generations(emulator)] == ["896x512"] * 2 and emulator.max_concurrent == 1
    assert image_info(banner_file(config_file, "p0")) == ((1792, 1024), "webp")


def test_the_docs_recipe_for_a_litellm_proxy(site_root: Path, emulator: Emulator) -> None:
    config = recipe(1)
    gateway = config["plugins"][0]["imagegen"]["providers"]["endpoints"]["gateway"]
    assert gateway["base_url"] == "http://127.0.0.1:4000/v1"  # the proxy's default port
    gateway["base_url"] = f"{emulator.url}/litellm/v1"
    emulator.add_model("endpoints", "team-image")
    pages = {"a.md": page("a recipe harbour", title="A", banner_model="team-image")}
    config_file = write_site(site_root, pages, config["plugins"][0]["imagegen"])
    result = build(config_file, "--strict", env={gateway["key_env"]: emulator.keys["endpoints"]})
    assert result.returncode == 0, result.stderr
    assert [r.model for r in generations(emulator)] == ["team-image"]
    assert not banner_file(config_file, "a").name.startswith("placeholder-")


@pytest.mark.parametrize(("providers", "message"), [
    ({"endpoints": {"Studio!": {"base_url": "http://127.0.0.1:1/v1"}}}, "endpoint name 'Studio!'"),
    ({"endpoints": {"openai": {"base_url": "http://127.0.0.1:1/v1"}}}, "already a provider's name"),
    ({"endpoints": {"studio": {"models": ["sd-turbo"]}}}, "studio: base_url is required"),
    ({"endpoints": {"studio": {"base_url": "127.0.0.1:1234/v1"}}}, "base_url"),
    ({"endpoints": {"studio": {"base_url": "http://127.0.0.1:1/v1", "models": "all"}}}, "expected 'auto'"),
    ({"endpoints": {"studio": {"base_url": "http://127.0.0.1:1/v1", "models": {"sd": {"price": -1}}}}},
     "price: expected USD"),
    ({"endpoints": {"studio": {"base_url": "http://127.0.0.1:1/v1", "concurrency": 0}}}, "concurrency"),
    ({"order": ["google", "studio"]}, "unknown provider 'studio'"),
])
def test_a_wrong_endpoint_option_is_one_line(site_root: Path, providers: dict[str, Any], message: str) -> None:
    config = write_site(site_root, {"a.md": page("a lamp", title="A")}, {"providers": providers})
    result = build(config)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and message in errors[0], result.stderr


def test_an_image_url_that_redirects_is_not_followed(site_root: Path) -> None:
    """A server answering with a relative image URL on itself that redirects elsewhere: the redirect is refused
    (the request carries the key), and the other host sees nothing."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    with Emulator() as other:
        class Redirecting(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self._send(200, json.dumps({"data": [{"url": "/generated/one.png"}]}).encode(),
                           {"content-type": "application/json"})

            def do_GET(self) -> None:  # noqa: N802
                self._send(302, b"", {"location": f"{other.url}/stolen.png"})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {**headers, "content-length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            config = write_site(site_root, {"a.md": page("a lamp", title="A", banner_model="sd-turbo")},
                                endpoint(f"http://127.0.0.1:{server.server_address[1]}/v1", models=["sd-turbo"]))
            result = build(config)
        finally:
            server.shutdown()
            server.server_close()
        assert other.requests == []
    assert result.returncode == 0, result.stderr
    [warning] = warnings_of(result)
    assert "a.md" in warning and "a redirect" in warning and "not followed" in warning, warning


def test_an_auto_endpoint_that_is_down_costs_a_placeholder_not_the_build(site_root: Path) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = write_site(site_root, {"a.md": page("a lamp", title="A", banner_model="flux-2-klein")},
                        {"retries": 0, **endpoint(f"http://127.0.0.1:{port}/v1", models="auto")})
    result = build(config)
    assert result.returncode == 0, result.stderr
    [warning] = warnings_of(result)
    assert "a.md" in warning and "connection failed" in warning, warning


def test_a_gateway_listing_a_cloud_model_goes_first_and_falls_through(site_root: Path, emulator: Emulator) -> None:
    pages = {"g.md": page("a gateway harbour", title="G", banner_model="gpt-image-2")}
    options = {"providers": {"order": ["gateway", "openai"], "endpoints": {"gateway": {
        "base_url": f"{emulator.url}/litellm/v1", "key_env": "GATEWAY_KEY", "models": ["gpt-image-2"]}}}}
    config = write_site(site_root, pages, options)
    env = {"GATEWAY_KEY": emulator.keys["endpoints"],
           **{k: v for k, v in emulator.env().items() if k.startswith("OPENAI_")}}
    result = build(config, "--strict", env=env)  # the gateway has not got it (404): OpenAI makes it
    assert result.returncode == 0, result.stderr
    assert [r.provider for r in emulator.image_requests()] == ["endpoints", "openai"]

    emulator.add_model("endpoints", "gpt-image-2")
    emulator.reset()
    (site_root / "docs" / "h.md").write_text(page("another gateway harbour", title="H", banner_model="gpt-image-2"))
    again = build(config, "--strict", env=env)
    assert again.returncode == 0, again.stderr
    assert [r.provider for r in emulator.image_requests()] == ["endpoints"]


def test_what_a_listing_names_is_shown_bounded_and_on_one_line() -> None:
    from mkdocs_imagegen.providers.endpoint import Listing

    names = ("<script>\nalert(1)</script>", *(f"model-{n:04d}-" + "x" * 200 for n in range(5000)))
    said = Listing(names=names).describe()
    assert "\n" not in said and len(said) < 2_000, len(said)
    assert said.startswith("it lists ") and "and 4981 more" in said
