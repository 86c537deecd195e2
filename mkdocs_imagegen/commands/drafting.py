"""`brief` and `alt`: a text model drafts each page's banner prompt, or its banner's alt text, for a writer to
review in the front matter.

Planned first (which pages, what each request sends, what it may cost), confirmed like `compare`, then sent
one page at a time: a provider failure for one page does not stop the others. Answers are checked (one line,
no control characters, within the length limit, not a refusal) before they are shown, cached or written;
`--write` adds one front-matter line through the same editor as `pick`, every other byte kept.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.cache.drafts import Draft, DraftCache, draft_key
from mkdocs_imagegen.errors import CommandStopped, ConfigError, ImagegenError
from mkdocs_imagegen.providers.text import TextRequest, TextRoute, ask, route

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

    from mkdocs_imagegen.build.settings import Settings
    from mkdocs_imagegen.pages.frontmatter import BannerSpec
    from mkdocs_imagegen.providers.registry import Registry

Echo = Callable[[str], None]

BRIEF_INSTRUCTIONS = (
    "You write the prompt for the banner image at the top of a web page. Read the page below and answer with "
    "one prompt of at most 60 words, in English, on one line, and nothing else: no preamble, no quotes, no "
    "list. Show the subject of the page as one concrete scene: its main objects, the setting and the light. "
    "Use a wide, horizontal composition with the subject near the centre and calm space at the sides. No "
    "text, letters, numbers, captions, logos, user interfaces or screenshots, and no real people or their "
    "likeness. Say nothing about art style, medium or colour palette: the site adds its own style to every "
    "prompt."
)
ALT_INSTRUCTIONS = (
    "You write the alt text of the banner image at the top of a web page, for people who cannot see it. You "
    "are given the image, the page's title and the prompt the image was made from. Answer with one sentence "
    "of at most 125 characters that says what the image shows, as it matters to the page, and nothing "
    "else: one line, no preamble, no quotes, and do not begin with \"Image of\" or \"Picture of\"."
)
LIMITS = {"brief": 600, "alt": 125}  # characters an answer may have
KEYS = {"brief": "banner_prompt", "alt": "banner_alt"}
OUTPUT_TOKENS = {"brief": 100, "alt": 40}  # what an answer is assumed to cost, for estimates
_QUOTES = ("\"\"", "''", "\u201c\u201d", "\u2018\u2019", "``")


@dataclass(frozen=True)
class SitePage:
    src: str
    path: Path
    meta: Mapping[str, Any]
    markdown: str
    spec: BannerSpec | None  # its banner request, from its front matter or `prompt_template`


@dataclass
class DraftSite:
    config_file: Path
    config: MkDocsConfig
    settings: Settings
    options: Mapping[str, Any]  # the plugin's options (brief_model, alt_instructions, ...)
    pages: list[SitePage]
    _registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from mkdocs_imagegen.build.session import make_registry

            self._registry = make_registry(self.settings)
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()

    def named(self, paths: list[Path]) -> list[SitePage]:
        """The pages given on the command line; CommandStopped (a usage error) for a path that is not one of them."""
        by_path = {page.path.resolve(): page for page in self.pages}
        chosen = []
        for path in paths:
            page = by_path.get(path.resolve())
            if page is None:
                raise CommandStopped(f"{path}: not a Markdown page of {self.config_file}", 2)
            chosen.append(page)
        return chosen


def load(config_file: Path, warn: Echo) -> DraftSite:
    """mkdocs.yml, the plugin's options and every Markdown page (drafts and excluded pages too), read as every
    command reads them: a page that cannot be read stops the command (FrontMatterError naming it)."""
    from mkdocs.structure.files import get_files

    from mkdocs_imagegen.commands.site import find_plugin, load_settings, mkdocs_messages
    from mkdocs_imagegen.pages.reading import read_page

    config, settings, _ = load_settings(config_file, warn=warn)
    options = dict(find_plugin(config, config_file).config)
    with mkdocs_messages():
        files = get_files(config)
    pages = []
    for file in files.documentation_pages(inclusion=lambda level: True):
        path = Path(file.abs_src_path or "")
        page = read_page(path, file.src_uri, settings.template)
        pages.append(SitePage(file.src_uri, path, page.meta, page.body, page.spec))
    return DraftSite(config_file, config, settings, options, pages)


def default_brief_pages(config: MkDocsConfig) -> list[str]:
    """The blog's posts when Material's blog plugin is on, else every page."""
    for name, plugin in config.plugins.items():
        if name.split("/")[-1] == "blog" and hasattr(plugin, "config"):
            options = plugin.config
            if options.get("enabled", True) is False:
                continue
            blog = str(options.get("blog_dir", "blog")).strip("/") or "."
            posts = str(options.get("post_dir", "{blog}/posts")).format(blog=blog).strip("/")
            return [f"{posts}/**/*.md"]
    return ["**/*.md"]


# --- one request per page ----------------------------------------------------------------------------


@dataclass
class Job:
    page: SitePage
    request: TextRequest
    key: str
    cached: Draft | None = None
    draft: Draft | None = None  # the checked answer, cached or new
    problem: str | None = None  # why there is none

    @property
    def estimate_tokens(self) -> tuple[int, int]:
        image = 1100 if self.request.image is not None else 0  # a 1024-pixel banner, about 1,000 tokens
        return (len(self.request.instructions) + len(self.request.text) + 3) // 4 + image, OUTPUT_TOKENS[
            self.request.task]


@dataclass
class Plan:
    task: str
    route: TextRoute
    cache: DraftCache
    jobs: list[Job] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # pages left out, and why

    @property
    def to_send(self) -> list[Job]:
        return [job for job in self.jobs if job.cached is None]

    @property
    def cost(self) -> float | None:
        estimates = [self.route.model.estimate(*job.estimate_tokens) for job in self.to_send]
        return None if any(value is None for value in estimates) else sum(v or 0.0 for v in estimates)


def new_job(task: str, text_route: TextRoute, cache: DraftCache, page: SitePage, instructions: str, text: str,
            image: bytes | None = None) -> Job:
    model = text_route.model
    request = TextRequest(task, model.name, instructions, text, image, "image/jpeg", model.reasoning_effort)
    image_hash = hashlib.sha256(image).hexdigest() if image is not None else None
    key = draft_key(task, model.name, instructions, text, image_hash)
    cached = cache.get(key)
    if cached is not None and check_answer(cached.answer, task)[1] is not None:
        cached = None  # a cache file that says something it must not: drafted anew
    return Job(page, request, key, cached, cached)


def make_plan(site: DraftSite, task: str, model: str | None) -> tuple[Plan, str]:
    """An empty plan for `task` (its route and cache), and the instructions it sends."""
    try:
        text_route = route(site.registry, task, model or site.options.get(f"{task}_model"), planning=True)
    except ImagegenError as error:
        raise CommandStopped(error.message, 2 if isinstance(error, ConfigError) else 1) from None
    instructions = str(site.options.get(f"{task}_instructions") or "").strip()
    default = BRIEF_INSTRUCTIONS if task == "brief" else ALT_INSTRUCTIONS
    return Plan(task, text_route, DraftCache(site.settings.cache_dir, task)), instructions or default


def check_answer(text: str | None, task: str) -> tuple[str | None, str | None]:
    """(the answer to use, None) or (None, why it cannot be used)."""
    if text is None:
        return None, "no answer"
    answer = text.strip()
    for pair in _QUOTES:
        if len(answer) >= 2 and answer[0] == pair[0] and answer[-1] == pair[-1]:
            answer = answer[1:-1].strip()
            break
    if not answer:
        return None, "the answer is empty"
    if any(char in answer for char in "\r\n\u2028\u2029\x85"):
        return None, "the answer has a line break"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co") for char in answer):
        return None, "the answer has control characters"
    if len(answer) > LIMITS[task]:
        return None, f"the answer is {len(answer):,} characters long; the limit is {LIMITS[task]}"
    return answer, None


def send_all(plan: Plan, *, timeout: float, retries: int, log: logging.Logger) -> None:
    """Each uncached job's request, in order; a failure is that job's `problem`, and the next one goes on."""
    from mkdocs_imagegen.build.sending import retry_delay

    if plan.to_send:
        try:
            plan.route.check_ready()
        except ImagegenError as error:
            raise CommandStopped(error.message, 1) from None
    for job in plan.to_send:
        hinted = 0.0  # seconds waited on the provider's retry hints for this page
        for attempt in range(retries + 1):
            try:
                answer = ask(plan.route, job.request, timeout=timeout)
            except ImagegenError as error:
                if not error.retryable or attempt == retries:
                    job.problem = error.message
                    break
                try:
                    delay, hinted = retry_delay(error, attempt, hinted, outcome="not drafted")
                except ImagegenError as too_long:
                    job.problem = too_long.message
                    break
                log.info("%s: %s; retrying in %.1f s", job.page.src, error.message, delay)
                time.sleep(delay)
                continue
            if answer.refusal is not None:
                job.problem = f"{answer.refusal}; nothing was written"
                break
            text, problem = check_answer(answer.text, plan.task)
            if text is None:
                job.problem = f"{problem}; nothing was written"
                break
            provider = plan.route.provider.name
            job.draft = Draft(text, plan.route.model.name, provider, answer.input_tokens, answer.output_tokens)
            plan.cache.put(job.key, job.draft)
            break


def write_all(plan: Plan, docs_dir: Path | None) -> tuple[list[str], list[str]]:
    """Each drafted answer into its page's front matter: (pages written, one line per page not written).
    Only the site's own files change: a page that links out of `docs_dir` is not written."""
    from mkdocs_imagegen.commands.page_edit import edit_target, write_keys
    from mkdocs_imagegen.pages.edit import EditError

    key = KEYS[plan.task]
    written, failed = [], []
    for job in plan.jobs:
        if job.draft is None:
            continue
        target = edit_target(job.page.path, docs_dir)
        if target is None:
            failed.append(f"{job.page.src}: is a link to a file outside docs_dir, and only the site's own files are "
                          f"edited; set {key} by hand")
            continue
        try:
            write_keys(target, {key: job.draft.answer})
        except EditError as error:
            failed.append(f"{job.page.src}: cannot edit the front matter safely ({error}); set {key} by hand")
            continue
        except OSError as error:
            failed.append(f"{job.page.src}: cannot write the page ({error.strerror or error})")
            continue
        written.append(job.page.src)
    return written, failed


# --- brief: pages without a prompt ---------------------------------------------------------------------


def plan_brief(site: DraftSite, paths: list[Path], model: str | None) -> Plan:
    """A request per page without `banner_prompt`: the pages named, else those `brief_pages` matches."""
    from mkdocs_imagegen.pages.excerpt import brief_text
    from mkdocs_imagegen.pages.template import glob_match

    plan, instructions = make_plan(site, "brief", model)
    if paths:
        pages = site.named(paths)
    else:
        globs = list(site.options.get("brief_pages") or default_brief_pages(site.config))
        pages = [page for page in site.pages if any(glob_match(glob, page.src) for glob in globs)]
    for page in pages:
        if page.meta.get("banner_prompt") is not None:
            if paths:
                plan.notes.append(f"{page.src}: has a banner_prompt already; left alone")
            continue
        text = brief_text(page.meta, page.markdown, page.src)
        plan.jobs.append(new_job("brief", plan.route, plan.cache, page, instructions, text))
    return plan
