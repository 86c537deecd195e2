"""`mkdocs-imagegen backfill --batch` against the emulator's Gemini Batch Mode: one job for 200 pages,
the command exits while it runs, a build meanwhile sends nothing for those pages, `--collect` stores
every result, partial failures are reported per page and resubmitted, records are untrusted input."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from test_cli import run

from mkdocs_imagegen.emulator import Emulator, Fault

from sitekit import banner_sources, build, page, page_html, write_site

MODEL = "gemini-3.1-flash-image"
SIZE = "512x288"  # the 512 tier: small images, a fast test
PRICE_512 = 0.045  # catalogue.json, gemini-3.1-flash-image at 512


def site_of(root: Path, count: int, **options: object) -> Path:
    pages = {f"posts/p{i}.md": page(f"backfill prompt {i}", title=f"Post {i}") for i in range(count)}
    return write_site(root, pages, {"size": SIZE, "model": MODEL, **options})


def backfill(config: Path, *args: str):  # noqa: ANN201 - a click Result
    return run("backfill", "-f", str(config), *args)


def originals(root: Path) -> list[Path]:
    return sorted((root / ".banners" / "originals").glob("*.json"))


def records(root: Path) -> list[Path]:
    return sorted((root / ".banners" / "batches").glob("*.json"))


def submit_finish_and_collect_failures(config: Path, held: Emulator) -> list[str]:
    """`backfill --batch`, the job finished, `--collect` (exit 1): its `failed:` lines."""
    assert backfill(config, "--batch", "--yes").exit_code == 0
    held.batches.finish()
    collected = backfill(config, "--collect")
    assert collected.exit_code == 1
    return [line for line in collected.stderr.splitlines() if line.startswith("failed: ")]


@pytest.fixture
def held(emulator: Emulator) -> Emulator:
    """Batches finish only when the test says so (emulator.batches.finish()): no timing guessed."""
    emulator.batches.delay = None
    return emulator


def test_200_pages_one_job_exit_while_pending_build_sends_nothing_collect_stores_all(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    held = emulator
    now = [0.0]
    held.batches.clock = lambda: now[0]  # the emulator's clock: the job's results come an hour after it
    held.batches.delay = 3600.0
    config = site_of(site_root, 200)

    result = backfill(config, "--batch", "--yes")
    assert result.exit_code == 0, result.stderr
    # The summary: the batch price is half the synchronous one (200 x $0.045 = $9.00).
    assert f"200 banner(s) to generate, 0 cached, 0 pending in batch jobs; estimated ${200 * PRICE_512:.2f} " \
           f"synchronous, ${200 * PRICE_512 / 2:.2f} with --batch" in result.stdout
    assert len(re.findall(r"^submitted batch job batches/\w+: 200 banner\(s\)", result.stdout, re.M)) == 1
    assert "200 banner(s) pending in 1 batch job(s); this command exits now" in result.stdout
    assert len(held.batches.jobs) == 1 and len(next(iter(held.batches.jobs.values())).entries) == 200
    assert held.image_requests() == []  # nothing synchronous
    assert len(records(site_root)) == 1 and originals(site_root) == []
    job = f"batches/{next(iter(held.batches.jobs))}"

    # A build while the job runs: zero synchronous requests, placeholders, one info line naming the job.
    built = build(config, env=env)
    assert built.returncode == 0, built.stderr
    assert held.image_requests() == []
    waiting = [line for line in built.stderr.splitlines() if "wait for batch job" in line]
    assert len(waiting) == 1 and waiting[0].startswith("WARNING") and job in waiting[0] and "200 page(s)" in waiting[0]
    assert "placeholder-" in banner_sources(page_html(config, "posts/p7"))[0]

    # Running backfill again submits nothing: every banner is pending in the recorded job.
    again = backfill(config, "--batch", "--yes")
    assert again.exit_code == 0, again.stderr
    assert "pending: batch job " + job in again.stdout and "nothing to generate" in again.stdout
    assert len(held.batches.jobs) == 1

    now[0] += 3599.0
    early = backfill(config, "--collect")
    assert early.exit_code == 0 and f"pending: batch job {job} (200 banner(s)" in early.stdout
    assert originals(site_root) == []
    now[0] += 1.0  # the delay has passed
    collected = backfill(config, "--collect")
    assert collected.exit_code == 0, collected.stderr
    assert f"collected batch job {job}: 200 banner(s) stored in the cache" in collected.stdout
    assert len(originals(site_root)) == 200 and records(site_root) == []
    provenance = json.loads(originals(site_root)[0].read_text())
    assert provenance["provider"] == "google" and provenance["model"] == MODEL

    rebuilt = build(config, env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert held.image_requests() == []
    assert "200 banner(s): 0 generated, 200 cached" in rebuilt.stderr
    assert "placeholder-" not in banner_sources(page_html(config, "posts/p7"))[0]


def test_a_build_collects_a_finished_job_itself(site_root: Path, held: Emulator, env: dict[str, str]) -> None:
    config = site_of(site_root, 3)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    held.batches.finish()
    built = build(config, env=env)
    assert built.returncode == 0, built.stderr
    assert re.search(r"INFO .*stored 3 banner\(s\) from batch job batches/\w+ in the cache", built.stderr)
    assert "3 banner(s): 0 generated, 3 cached" in built.stderr and held.image_requests() == []


def test_wait_for_batch_false_generates_pending_banners_synchronously(site_root: Path, held: Emulator,
                                                                      env: dict[str, str]) -> None:
    config = site_of(site_root, 3, wait_for_batch=False)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    built = build(config, env=env)
    assert built.returncode == 0, built.stderr
    assert len(held.image_requests()) == 3 and "wait for batch job" not in built.stderr
    # The job's results, arriving later, do not replace what the build paid for.
    before = {path.name: path.read_bytes() for path in originals(site_root)}
    held.batches.finish()
    assert backfill(config, "--collect").exit_code == 0
    assert {path.name: path.read_bytes() for path in originals(site_root)} == before


def test_partial_failures_are_reported_per_page_and_resubmitted(site_root: Path, held: Emulator,
                                                                env: dict[str, str]) -> None:
    config = site_of(site_root, 5)
    held.add_fault(Fault(provider="google", kind="server_error", match="prompt 1"))
    held.add_fault(Fault(provider="google", kind="text_only", match="prompt 3"))
    held.add_fault(Fault(provider="google", kind="not_image", match="prompt 4"))
    failed = submit_finish_and_collect_failures(config, held)
    assert [line.split(":")[1].strip() for line in failed] == ["posts/p1.md", "posts/p3.md", "posts/p4.md"]
    assert "code 13" in failed[0] and "`backfill --batch` submits it again" in failed[0]
    assert len(originals(site_root)) == 2 and records(site_root) == []

    again = backfill(config, "--batch", "--yes")
    assert again.exit_code == 0, again.stderr
    assert "submitted batch job" in again.stdout and ": 3 banner(s) of" in again.stdout
    newest = max(held.batches.jobs.values(), key=lambda job: job.created)
    assert sorted(job.prompt for job, _, _ in newest.entries if job) == [f"backfill prompt {i}" for i in (1, 3, 4)]
    held.batches.finish()
    assert backfill(config, "--collect").exit_code == 0
    assert len(originals(site_root)) == 5


def test_a_tampered_record_is_ignored_with_a_warning_naming_it(site_root: Path, held: Emulator,
                                                               env: dict[str, str]) -> None:
    config = site_of(site_root, 2)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    (record,) = records(site_root)
    data = json.loads(record.read_text())
    data["entries"][0]["prompt"] = "something else entirely"  # its key no longer matches its request
    record.write_text(json.dumps(data))
    held.batches.finish()
    collected = backfill(config, "--collect")
    assert f"warning: batch record {record} entry 0 is not a valid request whose key matches it" in collected.stderr
    assert originals(site_root) == []


def test_max_cost_refuses_before_anything_is_sent(site_root: Path, held: Emulator, env: dict[str, str]) -> None:
    config = site_of(site_root, 10)  # $0.45 synchronous, $0.225 batch
    refused = backfill(config, "--batch", "--yes", "--max-cost", "0.20")
    assert refused.exit_code == 2 and "estimated $0.23 is over --max-cost $0.20: nothing sent" in refused.stderr
    assert held.batches.jobs == {} and held.image_requests() == []
    assert backfill(config, "--batch", "--yes", "--max-cost", "0.30").exit_code == 0
    assert len(held.batches.jobs) == 1


def test_not_a_terminal_without_yes_is_refused(site_root: Path, held: Emulator, env: dict[str, str]) -> None:
    config = site_of(site_root, 2)
    refused = backfill(config, "--batch")
    assert refused.exit_code == 2 and "not a terminal: pass --yes to generate 2 banner(s)" in refused.stderr
    assert held.batches.jobs == {}


def test_without_batch_backfill_generates_synchronously(site_root: Path, emulator: Emulator,
                                                        env: dict[str, str]) -> None:
    config = site_of(site_root, 3)
    result = backfill(config, "--yes")
    assert result.exit_code == 0, result.stderr
    assert len(emulator.image_requests()) == 3 and emulator.batches.jobs == {}
    assert len(originals(site_root)) == 3


def test_plan_shows_batch_prices_next_to_synchronous_ones(site_root: Path, env: dict[str, str]) -> None:
    config = site_of(site_root, 2)
    result = run("plan", "-f", str(config))
    assert result.exit_code == 0, result.stderr
    assert "~$0.045 (batch ~$0.022)" in result.stdout
    assert "estimated cost $0.09 (catalogue list prices), $0.04 through `mkdocs-imagegen backfill --batch`" \
        in result.stdout
    listed = json.loads(run("plan", "-f", str(config), "--json").stdout)
    assert listed["pages"][0]["batch_estimated_cost_usd"] == pytest.approx(PRICE_512 / 2)
    assert listed["summary"]["batch_estimated_cost_usd"] == pytest.approx(2 * PRICE_512 / 2)


def test_jobs_split_only_at_the_documented_size_limit(site_root: Path, held: Emulator, env: dict[str, str]) -> None:
    from mkdocs_imagegen.build.batches import batch_terms
    from mkdocs_imagegen.commands import backfill as backfilling
    from mkdocs_imagegen.commands.site import load_site

    # 120 prompts of 32,000 characters the SDK's JSON writes as 6 bytes each (\u00e9): about 23 MB of
    # inlined requests, over Gemini's 20 MB.
    pages = {f"p{i}.md": page(f"{i:04d} " + "é" * 31990, title=f"P{i}") for i in range(120)}
    config = write_site(site_root, pages, {"size": SIZE, "model": MODEL})
    site = load_site(config)
    planned = backfilling.plan(site, batch=True)
    ((provider, model), entries), = planned.batched.items()
    api = site.session.registry.get(provider).batches()
    limit = batch_terms(provider).max_request_bytes
    parts = backfilling.chunks(api, entries, limit)
    sizes = [backfilling.ENVELOPE_BYTES + sum(api.wire_size(e.request) for e in part) for part in parts]
    assert len(parts) == 2 and all(size <= limit for size in sizes) and sum(map(len, parts)) == 120
    assert sizes[0] + api.wire_size(parts[1][0].request) > limit  # the first job is as full as the limit allows
    assert backfilling.chunks(api, entries[:100], limit) == [entries[:100]]  # under the limit: one job
    site.session.close()
    # Through the SDK: two jobs, each body under the emulator's (Google's) 20 MB limit, so both accepted.
    result = backfill(config, "--batch", "--yes")
    assert result.exit_code == 0, result.stderr
    assert sorted(len(job.entries) for job in held.batches.jobs.values()) == sorted(map(len, parts))


def test_emulator_batch_states_follow_its_clock_and_the_finish_control(emulator: Emulator) -> None:
    import httpx

    now = [100.0]
    emulator.batches.clock = lambda: now[0]
    emulator.batches.delay = 60.0
    key = {"x-goog-api-key": emulator.keys["google"]}
    body = {"batch": {"displayName": "t", "inputConfig": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"text": "a lighthouse"}]}],
                     "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}},
         "metadata": {"key": "k"}}]}}}}
    with httpx.Client(base_url=emulator.url, headers=key) as client:
        created = client.post(f"/v1beta/models/{MODEL}:batchGenerateContent", json=body).json()
        name = created["name"]
        assert created["metadata"]["state"] == "BATCH_STATE_PENDING"
        assert client.get(f"/v1beta/{name}").json()["metadata"]["state"] == "BATCH_STATE_RUNNING"
        now[0] += 59.9
        assert "output" not in client.get(f"/v1beta/{name}").json()["metadata"]
        now[0] += 0.1
        done = client.get(f"/v1beta/{name}").json()
        assert done["done"] is True and done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
        (answer,) = done["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
        assert answer["metadata"] == {"key": "k"} and answer["response"]["candidates"][0]["content"]["parts"]
        emulator.batches.delay = None
        second = client.post(f"/v1beta/models/{MODEL}:batchGenerateContent", json=body).json()["name"]
        now[0] += 10_000
        assert client.get(f"/v1beta/{second}").json()["metadata"]["state"] == "BATCH_STATE_RUNNING"
        assert client.post("/_emulator/batches:finish", json={"name": second}).json() == {"finished": 1}
        assert client.get(f"/v1beta/{second}").json()["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
        assert client.get("/v1beta/batches/nope").status_code == 404
        assert client.get(f"/v1beta/{second}", headers={"x-goog-api-key": "wrong"}).status_code == 400
        oversized = {"batch": {"inputConfig": {"requests": {"requests": [
            {"request": {"contents": [{"parts": [{"text": "x" * 1_000_000}]}]}}] * 21}}}}
        assert client.post(f"/v1beta/models/{MODEL}:batchGenerateContent", json=oversized).status_code == 400


def test_an_unreadable_gemini_batch_entry_fails_alone_and_the_others_are_stored(site_root: Path, held: Emulator,
                                                                               env: dict[str, str]) -> None:
    config = site_of(site_root, 3)
    held.add_fault(Fault(provider="google", kind="truncated_b64", match="prompt 1"))
    failed = submit_finish_and_collect_failures(config, held)
    assert len(failed) == 1 and "posts/p1.md" in failed[0] and "batch result that is not valid" in failed[0], failed
    assert sorted(json.loads(path.read_text())["prompt"] for path in originals(site_root)) == [
        "backfill prompt 0", "backfill prompt 2"]
    assert records(site_root) == []
    built = build(config, "--strict", env=env)
    assert built.returncode == 0, built.stderr
    assert [request.prompt for request in held.image_requests()] == ["backfill prompt 1"]  # only p1 is paid again


def openai_site(root: Path, count: int, **options: object) -> Path:
    pages = {f"posts/p{i}.md": page(f"backfill prompt {i}", title=f"Post {i}") for i in range(count)}
    return write_site(root, pages, {"size": "640x360", "model": "gpt-image-2", "providers": {"order": ["openai"]},
                                    **options})


def test_openai_batch_api_one_uploaded_file_partial_failures_resubmitted(site_root: Path, held: Emulator,
                                                                         env: dict[str, str]) -> None:
    config = openai_site(site_root, 4)
    held.add_fault(Fault(provider="openai", kind="server_error", match="prompt 1"))
    held.add_fault(Fault(provider="openai", kind="truncated_b64", match="prompt 2"))
    result = backfill(config, "--batch", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "via openai [batch], ~$0.041 synchronous, ~$0.021 batch" in result.stdout
    assert re.search(r"^submitted batch job batch_\w+: 4 banner\(s\) of gpt-image-2 via OpenAI", result.stdout, re.M)
    ((batch_id, batch),) = held.openai_batches.batches.items()
    uploaded = [json.loads(line) for line in held.openai_batches.files[batch.input_file_id][1].splitlines()]
    assert [line["url"] for line in uploaded] == ["/v1/images/generations"] * 4
    assert {line["body"]["model"] for line in uploaded} == {"gpt-image-2"}
    assert held.image_requests() == []

    built = build(config, env=env)
    assert built.returncode == 0, built.stderr
    assert held.image_requests() == [] and f"wait for batch job {batch_id}" in built.stderr

    held.batches.finish()  # one control ends every protocol's batches
    collected = backfill(config, "--collect")
    assert collected.exit_code == 1
    assert f"collected batch job {batch_id}: 2 banner(s) stored in the cache" in collected.stdout
    failed = [line for line in collected.stderr.splitlines() if line.startswith("failed: ")]
    assert [line.split(":")[1].strip() for line in failed] == ["posts/p1.md", "posts/p2.md"]
    assert "server error 500" in failed[0] and "truncated" in failed[1]
    assert len(originals(site_root)) == 2

    again = backfill(config, "--batch", "--yes")
    assert again.exit_code == 0 and ": 2 banner(s) of gpt-image-2" in again.stdout
    held.batches.finish()
    assert backfill(config, "--collect").exit_code == 0
    assert len(originals(site_root)) == 4 and held.image_requests() == []


def test_providers_without_a_covered_batch_api_are_made_synchronously(site_root: Path, held: Emulator,
                                                                      env: dict[str, str]) -> None:
    # gpt-image-2 goes to Azure AI Foundry first (the default order): Azure's global batch lists no image model.
    pages = {"a.md": page("one", title="A"), "b.md": page("two", title="B", banner_model=MODEL)}
    config = write_site(site_root, pages, {"size": "640x360", "model": "gpt-image-2"})
    result = backfill(config, "--batch", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "a.md  gpt-image-2 via foundry [now], ~$0.041 synchronous, no batch API" in result.stdout
    assert "b.md  gemini-3.1-flash-image via google [batch]" in result.stdout
    assert [r.provider for r in held.image_requests()] == ["foundry"]
    assert len(held.batches.jobs) == 1 and held.openai_batches.batches == {}


@pytest.mark.parametrize("batch", [True, False])
def test_backfill_says_how_many_banners_it_makes_now_and_how_many_it_made(site_root: Path, held: Emulator,
                                                                          env: dict[str, str], batch: bool) -> None:
    pages = {"a.md": page("one", title="A"), "b.md": page("two", title="B", banner_model=MODEL),
             "c.md": page("three", title="C")}
    config = write_site(site_root, pages, {"size": "640x360", "model": "gpt-image-2"})
    result = backfill(config, *(["--batch"] if batch else []), "--yes")
    assert result.exit_code == 0, result.stderr
    assert "the count follows" not in result.stdout + result.stderr  # backfill has no later count to follow
    now = "2 × gpt-image-2 via foundry" + ("" if batch else ", 1 × gemini-3.1-flash-image via google")
    assert f"backfill: generating {3 - batch} banner(s) now: {now}" in result.stderr, result.stderr
    assert f"{3 - batch} banner(s) generated now and stored in the cache" in result.stdout, result.stdout


def test_two_pages_with_one_banner_are_one_request_in_the_job(site_root: Path, held: Emulator,
                                                              env: dict[str, str]) -> None:
    pages = {"a.md": page("the same lighthouse", title="A"), "b.md": page("the same lighthouse", title="B")}
    config = write_site(site_root, pages, {"size": SIZE, "model": MODEL})
    result = backfill(config, "--batch", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "1 banner(s) to generate" in result.stdout and ": 1 banner(s) of" in result.stdout
    (record,) = records(site_root)
    assert json.loads(record.read_text())["entries"][0]["pages"] == ["a.md", "b.md"]
    held.batches.finish()
    assert backfill(config, "--collect").exit_code == 0
    built = build(config, env=env)
    assert built.returncode == 0 and held.image_requests() == []
    sources = banner_sources(page_html(config, "a"))
    assert sources == banner_sources(page_html(config, "b")) and "placeholder-" not in sources[0]


@pytest.mark.parametrize("tamper", ["job name into another path", "symbolic link", "not JSON"])
def test_hostile_records_are_ignored_and_nothing_is_sent_for_them(site_root: Path, held: Emulator,
                                                                  env: dict[str, str], tamper: str) -> None:
    config = site_of(site_root, 1)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    (record,) = records(site_root)
    if tamper == "job name into another path":
        data = json.loads(record.read_text())
        data["job"] = "batches/../../v1beta/models"
        record.write_text(json.dumps(data))
        expected = "has no valid model or job name"
    elif tamper == "symbolic link":
        outside = site_root / "elsewhere.json"
        record.rename(outside)
        record.symlink_to(outside)
        expected = "is a symbolic link"
    else:
        record.write_text("{broken")
        expected = "is not JSON"
    held.reset()
    held.batches.finish()
    collected = backfill(config, "--collect")
    assert expected in collected.stderr and str(record) in collected.stderr
    assert [r for r in held.requests if r.kind == "batch"] == [] and originals(site_root) == []


def test_a_result_file_that_cannot_be_read_keeps_the_record_for_the_next_collect(
        site_root: Path, held: Emulator, env: dict[str, str]) -> None:
    import httpx

    config = openai_site(site_root, 2)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    ((batch_id, batch),) = held.openai_batches.batches.items()
    held.batches.finish()
    key = {"authorization": f"Bearer {held.keys['openai']}"}
    output = httpx.get(f"{held.url}/v1/batches/{batch_id}", headers=key).json()["output_file_id"]
    saved = held.openai_batches.files.pop(output)  # the result file is gone for a while (404)
    broken = backfill(config, "--collect")
    assert f"reading the results of batch job {batch_id} failed" in broken.stderr
    assert len(records(site_root)) == 1 and originals(site_root) == []
    held.openai_batches.files[output] = saved
    collected = backfill(config, "--collect")
    assert collected.exit_code == 0 and f"collected batch job {batch_id}: 2 banner(s)" in collected.stdout
    assert len(originals(site_root)) == 2 and records(site_root) == []


def _answer_bytes(answer: dict) -> bytes:
    part = answer["response"]["candidates"][0]["content"]["parts"][0]
    return base64.b64decode(part["inlineData"]["data"])


def test_a_gemini_batch_answer_with_a_key_nobody_asked_for_is_ignored_not_filed_under_another_banner(
        site_root: Path, held: Emulator, env: dict[str, str]) -> None:
    config = site_of(site_root, 2)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    (job,) = held.batches.jobs.values()
    first, second = job.entries
    job.entries[:] = [(second[0], {"key": "0" * 64}, second[2]), first]  # reordered, one key unknown
    held.batches.finish()
    collected = backfill(config, "--collect")
    assert "answered 1 entry(ies) for banners it was not asked for; ignored" in collected.stderr, collected.stderr
    failed = [line for line in collected.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "posts/p1.md" in failed[0], collected.stderr
    (stored,) = originals(site_root)
    provenance = json.loads(stored.read_text())
    assert provenance["prompt"] == "backfill prompt 0"
    image = stored.with_suffix(f".{provenance['format']}").read_bytes()
    assert image == _answer_bytes(job.output[1])  # its own image, not p1's


def test_a_batch_job_the_provider_does_not_know_stops_blocking_and_is_named(site_root: Path, held: Emulator,
                                                                           env: dict[str, str]) -> None:
    config = site_of(site_root, 2)
    assert backfill(config, "--batch", "--yes").exit_code == 0
    strict = build(config, "--strict", env=env)  # placeholders while the job runs: --strict says so
    assert strict.returncode == 1 and "wait for batch job" in strict.stderr, strict.stderr
    held.batches.jobs.clear()  # submitted under another key, or a record someone committed: Google answers 404
    collected = backfill(config, "--collect")
    assert collected.exit_code == 1
    failed = [line for line in collected.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 2 and all("does not know batch job" in line for line in failed), collected.stderr
    assert "has no model" not in collected.stderr and records(site_root) == []
    built = build(config, "--strict", env=env)
    assert built.returncode == 0, built.stderr
    assert len(held.image_requests()) == 2 and len(originals(site_root)) == 2
