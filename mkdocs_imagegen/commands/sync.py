"""`mkdocs-imagegen sync`: banners for a site that no MkDocs plugin runs on (Zensical).

Zensical builds an existing mkdocs.yml but silently skips plugins it does not know, imagegen among
them. `sync` does the plugin's work ahead of the build, through the same session, pipeline and
cache, and leaves what the generator needs where it looks anyway:

    <docs_dir>/<output_dir>/     the published renditions (and narrower widths): the one folder of
                                 docs_dir it owns, copied as static files like any other asset
    <custom_dir>/imagegen/       head.html (og:/twitter: tags) and banner.html (the <img>), rewritten
                                 by every sync; a page is recognised by its own banner_* front matter
    <custom_dir>/main.html       written once if missing: includes those two; yours is left alone

Both templates render nothing when the imagegen plugin is loaded (`mkdocs build`), so one
mkdocs.yml serves both: the plugin under MkDocs, `sync` + `zensical build` under Zensical.
Nothing is written when nothing changed (the second sync leaves every mtime alone); `--check`
writes nothing and fails when a banner is missing from the cache or from what is published.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mkdocs_imagegen.build.renditions import widths_for
from mkdocs_imagegen.cache.files import atomic_write
from mkdocs_imagegen.commands.sync_templates import (
    MAIN_TEMPLATE,
    MARKER,
    TEMPLATE_DIR,
    Shown,
    banner_template,
    head_template,
)
from mkdocs_imagegen.errors import FrontMatterError, SyncError
from mkdocs_imagegen.pages.frontmatter import BannerSpec
from mkdocs_imagegen.pages.reading import read_page
from mkdocs_imagegen.request import Size

# The files `sync` publishes (and so may remove): renditions, their widths, placeholders.
_PUBLISHED = re.compile(r"^(?:[0-9a-f]{16}-[0-9a-f]{12}(?:-w\d+)?|placeholder-[0-9a-f]{20})\.(?:webp|png|jpg)$")


@dataclass
class SyncSite:
    config_file: Path
    docs_dir: Path
    custom_dir: Path | None
    site_url: str | None
    options: Any  # ImagegenConfig
    settings: Any  # session.Settings
    pages: list[tuple[str, BannerSpec, dict[str, Any], str]] = field(default_factory=list)  # src, spec, meta, title

    @property
    def published_dir(self) -> Path:
        return self.docs_dir / self.settings.output_dir


# -- reading mkdocs.yml without MkDocs' plugins ---------------------------------------------------


class _Loader(__import__("yaml").SafeLoader):
    """mkdocs.yml as data: `!ENV` read, `!!python/name:` and other tags kept as None (never imported)."""


def _env_tag(loader: _Loader, node: Any) -> Any:
    names = loader.construct_scalar(node) if node.id == "scalar" else loader.construct_sequence(node)
    names = [names] if isinstance(names, str) else list(names)
    default = names.pop() if len(names) > 1 else None
    return next((os.environ[name] for name in names if name in os.environ), default)


_Loader.add_constructor("!ENV", _env_tag)
_Loader.add_multi_constructor("", lambda loader, suffix, node: None)


def _plugin_options(plugins: Any) -> dict[str, Any] | None:
    entries = plugins.items() if isinstance(plugins, dict) else (
        (next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (item, {}))
        for item in plugins or [])
    for name, options in entries:
        if name == "imagegen":
            return dict(options or {})
    return None


def load_site(config_file: Path) -> SyncSite:
    import yaml
    from mkdocs.exceptions import PluginError

    from mkdocs_imagegen.plugin.config import ImagegenConfig, settings_from

    try:
        raw = yaml.load(config_file.read_text(encoding="utf-8-sig"), Loader=_Loader) or {}  # noqa: S506 - SafeLoader
    except (OSError, yaml.YAMLError) as error:
        raise SyncError(f"{config_file}: cannot read it: {error}") from None
    if not isinstance(raw, dict):
        raise SyncError(f"{config_file}: not a mapping of options")
    options = _plugin_options(raw.get("plugins"))
    if options is None:
        raise SyncError(f"{config_file}: the imagegen plugin is not in `plugins:`; add it there, so `sync` (and "
                        "`mkdocs build`) know its options")
    plugin_config = ImagegenConfig(config_file_path=str(config_file))
    plugin_config.load_dict(options)
    failed, _ = plugin_config.validate()
    if failed:
        key, error = failed[0]
        raise SyncError(f"{config_file}: imagegen option '{key}': {error}")
    root = config_file.resolve().parent
    docs_dir = (root / str(raw.get("docs_dir") or "docs")).resolve()
    try:
        settings = settings_from(plugin_config, SimpleNamespace(config_file_path=str(config_file),
                                                                docs_dir=str(docs_dir)))
    except PluginError as error:
        raise SyncError(str(error)) from None
    theme = raw.get("theme") if isinstance(raw.get("theme"), dict) else {}
    custom_dir = (root / str(theme["custom_dir"])).resolve() if theme.get("custom_dir") else None
    site_url = raw.get("site_url") if isinstance(raw.get("site_url"), str) and raw.get("site_url") else None
    site = SyncSite(config_file, docs_dir, custom_dir, site_url, plugin_config, settings)
    site.pages = _pages(site, raw.get("exclude_docs"))
    return site


def _pages(site: SyncSite, exclude_docs: Any) -> list[tuple[str, BannerSpec, dict[str, Any], str]]:
    """Every Markdown page of docs_dir with a banner_prompt, as MkDocs and Zensical find them: dotted
    names and `exclude_docs` left out."""
    import pathspec

    if not site.docs_dir.is_dir():
        raise SyncError(f"{site.config_file}: docs_dir {site.docs_dir} is not a folder")
    patterns = [".*", "/templates/", *(str(exclude_docs).splitlines() if exclude_docs else [])]
    excluded = pathspec.PathSpec.from_lines("gitwildmatch", patterns)
    found = []
    for path in sorted(site.docs_dir.rglob("*.md")):
        src = path.relative_to(site.docs_dir).as_posix()
        if excluded.match_file(src):  # a page in the banners' folder is still a page: sync writes no .md there
            continue
        try:
            page = read_page(path, src)
        except FrontMatterError as error:  # never a partial site: a page left out would lose its banner
            raise SyncError(str(error)) from None
        for warning in page.warnings:
            print(f"warning: imagegen: {warning}", file=sys.stderr)
        if page.spec is not None:
            found.append((src, page.spec, page.meta, page.title))
    return found


# -- sync and check ---------------------------------------------------------------------------------


@dataclass
class Report:
    banners: int = 0
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)


def _custom_dir(site: SyncSite) -> Path:
    """theme.custom_dir, checked before anything is paid for: inside the project (the folder of mkdocs.yml),
    its imagegen/ folder not a link, and no template there that `sync` did not write."""
    if site.custom_dir is None:
        raise SyncError(f"{site.config_file}: set `theme: custom_dir: overrides` (any folder name): Zensical shows "
                        "banners through two small templates `sync` writes there")
    custom, root = site.custom_dir, site.config_file.resolve().parent
    if not custom.is_relative_to(root):  # resolved: an absolute path, `..` or a link out of the project
        raise SyncError(f"{site.config_file}: theme.custom_dir {custom} is outside the project ({root}): `sync` "
                        "writes its templates only into a folder of the project")
    folder = custom / TEMPLATE_DIR
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise SyncError(f"{folder} is not a real folder (a link or a file): `sync` writes its templates only into "
                        "a real folder of theme.custom_dir")
    for name in ("head.html", "banner.html"):
        path = folder / name
        if path.is_symlink() or (path.exists() and MARKER not in _head_of(path)):
            raise SyncError(f"{path} is not a template `sync` wrote (no '{MARKER}' line): `sync` rewrites that "
                            "file; move yours out of theme.custom_dir/imagegen/")
    return custom


def _head_of(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(200).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _write(path: Path, data: bytes, report: Report) -> None:
    """`data` at `path`, unless it is there already: an unchanged file keeps its mtime."""
    try:
        if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    if path.is_symlink():
        path.unlink()
    atomic_write(path, data)
    report.written.append(path)


def _published_folder(site: SyncSite) -> Path:
    """docs_dir/output_dir, checked before anything is paid for: not a link, and no link in a folder above it
    leads out of docs_dir (its writes and removals would land there)."""
    folder = site.published_dir
    if folder.is_symlink():
        raise SyncError(f"{folder} is a symbolic link: `sync` writes only into a real folder of docs_dir")
    if not Path(os.path.realpath(folder)).is_relative_to(site.docs_dir):
        raise SyncError(f"{folder} leads outside docs_dir ({site.docs_dir}) through a symbolic link: `sync` writes "
                        "only into a real folder of docs_dir")
    return folder


def _publish(site: SyncSite, files: dict[str, Path | bytes], report: Report, check: bool) -> None:
    """`files` (name -> cached file or bytes) in the published folder, and nothing else of ours."""
    folder = _published_folder(site)
    present = {path.name: path for path in folder.iterdir()} if folder.is_dir() else {}
    for name, source in sorted(files.items()):
        target = folder / name
        size = len(source) if isinstance(source, bytes) else source.stat().st_size
        existing = present.get(name)
        same = existing is not None and existing.is_file() and not existing.is_symlink() \
            and existing.stat().st_size == size
        if check:
            if not same:
                report.problems.append(f"{target.relative_to(site.docs_dir)} is not published yet")
            continue
        if not same:
            atomic_write(target, source if isinstance(source, bytes) else source.read_bytes())
            report.written.append(target)
    for name, path in sorted(present.items()):
        if name not in files and _PUBLISHED.match(name) and (path.is_file() or path.is_symlink()):
            if check:
                report.problems.append(f"{path.relative_to(site.docs_dir)} is published but no page uses it")
            else:
                path.unlink()
                report.removed.append(path)


def _templates(site: SyncSite, shown: list[Shown], report: Report, check: bool) -> None:
    custom = _custom_dir(site)
    wanted = {
        custom / TEMPLATE_DIR / "head.html": head_template(shown, site.site_url),
        custom / TEMPLATE_DIR / "banner.html": banner_template(shown, site.options.sizes),
    }
    for path, text in wanted.items():
        data = text.encode("utf-8")
        if check:
            if not path.is_file() or path.read_bytes() != data:
                report.problems.append(f"{path} is not up to date")
        else:
            _write(path, data, report)
    main = custom / "main.html"
    if not main.exists():
        if check:
            report.problems.append(f"{main} is missing: `sync` writes one that includes the banner templates")
        else:
            _write(main, MAIN_TEMPLATE.encode("utf-8"), report)
        return
    text = main.read_text(encoding="utf-8", errors="replace")
    missing = [name for name in ("head.html", "banner.html") if f"{TEMPLATE_DIR}/{name}" not in text]
    if missing:
        report.problems.append(
            f"{main} is yours and does not include {' and '.join(f'{TEMPLATE_DIR}/{m}' for m in missing)}: add "
            f'`{{% include "{TEMPLATE_DIR}/head.html" %}}` to its `extrahead` block and '
            f'`{{% include "{TEMPLATE_DIR}/banner.html" %}}` to its `tabs` block, after `{{{{ super() }}}}`')


def _shown(site: SyncSite, src: str, spec: BannerSpec, meta: dict[str, Any], title: str, uri: str, size: Size,
           widths: list[tuple[str, int]]) -> Shown:
    return Shown({k: v for k, v in meta.items() if isinstance(k, str) and k.startswith("banner_")}, title,
                 spec.alt or title, uri, size, tuple(widths), True)


def check(site: SyncSite) -> Report:
    """What `sync` would change, changing nothing: no provider is called, nothing is encoded."""
    from mkdocs_imagegen.build.session import BannerSession

    report = Report(banners=len(site.pages))
    with BannerSession(site.settings, log=logging.getLogger("mkdocs_imagegen.commands.sync.quiet")) as session:
        cache, fmt, output_dir = session.cache, site.settings.fmt, site.settings.output_dir
        files: dict[str, Path | bytes] = {}
        shown = []
        for src, spec, meta, title in site.pages:
            try:
                request = session.request(spec, src, checked=False)
            except Exception as error:  # noqa: BLE001 - a PageError names the page and key
                report.problems.append(str(error))
                continue
            entry = cache.lookup(request, fmt)
            if entry.rendition is None:
                why = entry.problem or ("its rendition is not derived yet" if entry.original else "not in the cache")
                report.problems.append(f"{src}: banner missing ({why}): run `mkdocs-imagegen sync`")
                continue
            found = widths_for(cache, request, entry.rendition, fmt, site.options.widths, derive=False)
            if found is None:
                report.problems.append(f"{src}: narrower copies of its banner are missing: run `mkdocs-imagegen sync`")
                continue
            files[entry.rendition.name] = entry.rendition
            files.update({width.path.name: width.path for width in found})
            shown.append(_shown(site, src, spec, meta, title, f"{output_dir}/{entry.rendition.name}", request.size,
                                [(f"{output_dir}/{w.path.name}", w.width) for w in found]))
        if report.problems:
            return report
        _publish(site, files, report, check=True)
        _templates(site, shown, report, check=True)
    return report


def sync(site: SyncSite, log: logging.Logger) -> Report:
    """Generate what is missing (exactly as a build would), then publish it for the generator."""
    from mkdocs_imagegen.build.session import BannerSession

    _custom_dir(site)  # before anything is paid for
    _published_folder(site)
    report = Report(banners=len(site.pages))
    with BannerSession(site.settings, log=log) as session:
        session.pipeline.cache.sweep_temp_files()
        for src, spec, _, _ in site.pages:
            try:
                session.add(spec, src)
            except Exception as error:  # noqa: BLE001 - PageError / ImagegenError name the page and key
                raise SyncError(str(error)) from None
        titles = {src: title for src, _, _, title in site.pages}
        session.finish(titles)
        files: dict[str, Path | bytes] = {}
        shown = []
        for (src, spec, meta, title), banner in zip(site.pages, session.banners, strict=True):
            published = banner.published
            assert published is not None
            name = published.uri.rsplit("/", 1)[-1]
            widths: list[tuple[str, int]] = []
            if published.path is not None:
                files[name] = published.path
                for width in widths_for(session.cache, banner.request, published.path, site.settings.fmt,
                                        site.options.widths, log=log) or []:
                    files[width.path.name] = width.path
                    widths.append((f"{site.settings.output_dir}/{width.path.name}", width.width))
            else:
                files[name] = published.content or b""
                report.placeholders.append(src)
            shown.append(_shown(site, src, spec, meta, title, published.uri, published.size, widths))
        _publish(site, files, report, check=False)
        _templates(site, shown, report, check=False)
    return report

