"""The contact sheet of a `compare`: index.html (static, opens from disk, no fonts or scripts from
anywhere) and sheet.png (the same grid as one labelled image). Images are the renditions at the
requested size, copied next to the page: what you see is what would be published."""

from __future__ import annotations

import html
import io
import json
import shutil
from pathlib import Path

from mkdocs_imagegen.cache.files import TEMP_PREFIX, atomic_write
from mkdocs_imagegen.commands.compare import TIMES_FILE, Candidate, Comparison, as_json

THUMB_WIDTH = 360  # sheet.png column width
PAD = 12
LINE = 18

_CSS = """
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       overflow-wrap: anywhere; }
h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .25rem; word-break: break-all; }
.prompt { color: var(--muted); margin: 0 0 .75rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr)); }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
figure img { display: block; width: 100%; height: auto; }
figcaption { padding: .5rem .6rem; font-size: .85rem; }
figcaption b { font-size: .95rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0 .6rem; margin: .35rem 0; }
dt { color: var(--muted); } dd { margin: 0; }
code { display: block; font: .8rem ui-monospace, SFMono-Regular, Menlo, monospace; padding: .35rem;
       border-radius: 4px; background: rgba(127,127,127,.15); overflow-wrap: anywhere; user-select: all; }
.failed { padding: 1rem; color: var(--bad); aspect-ratio: var(--ratio); overflow: auto; }
"""




GITIGNORE = b"# written by mkdocs-imagegen compare: a scratch folder\n*\n"
_WRITTEN = frozenset({"index.html", "sheet.png", TIMES_FILE, ".gitignore", "images"})


def unusable(folder: Path) -> str | None:
    """Why the sheet cannot go into `folder`: compare writes only into a new or empty folder, or one it
    made before, because it replaces what it wrote there."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return f"{folder} is not a folder"
    if folder.is_dir() and any(folder.iterdir()) and not _made_by_compare(folder):
        return f"{folder} holds files compare did not write; give an empty or new folder"
    return None


def _made_by_compare(folder: Path) -> bool:
    """Only names compare writes, its own .gitignore, and a candidates file of its shape: a folder of yours
    with a `candidates.json` of its own is not taken for a sheet (its images/ would be removed)."""
    names = {path.name for path in folder.iterdir()}
    if not names <= _WRITTEN | {name for name in names if name.startswith(TEMP_PREFIX)}:
        return False
    gitignore = folder / ".gitignore"
    try:
        if gitignore.is_symlink() or gitignore.read_bytes() != GITIGNORE:
            return False
        record = json.loads((folder / TIMES_FILE).read_text(encoding="utf-8")) \
            if TIMES_FILE in names else {"candidates": []}  # an earlier compare stopped before writing it
    except (OSError, ValueError):
        return False
    candidates = record.get("candidates") if isinstance(record, dict) else None
    if not isinstance(candidates, list) or not all(isinstance(c, dict) and "cache_key" in c for c in candidates):
        return False
    images = folder / "images"
    return not images.exists() or (images.is_dir() and not images.is_symlink() and all(
        path.is_file() and not path.is_symlink() for path in images.iterdir()))


def write(folder: Path, comparison: Comparison, prog: str, title: str) -> Path:
    """Write the sheet into `folder` (made if missing; files from an earlier compare are replaced). Every
    file is written to a new temporary name and renamed: a link in the folder is replaced, never written
    through."""
    images = folder / "images"
    if images.is_symlink() or images.is_file():
        images.unlink()
    elif images.is_dir():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    if not (folder / ".gitignore").exists() or (folder / ".gitignore").is_symlink():
        atomic_write(folder / ".gitignore", GITIGNORE)
    names: dict[int, str] = {}
    for index, candidate in enumerate(comparison.candidates):
        if candidate.image is not None:
            name = f"{index:03d}-{_slug(candidate.src)}-{_slug(candidate.id)}{candidate.image.suffix}"
            atomic_write(images / name, candidate.image.read_bytes())
            names[index] = f"images/{name}"
    atomic_write(folder / "index.html", _html(comparison, names, prog, title).encode("utf-8"))
    png = io.BytesIO()
    _png(comparison).save(png, "PNG", optimize=True)
    atomic_write(folder / "sheet.png", png.getvalue())
    record = as_json(comparison, prog)
    for index, entry in enumerate(record["candidates"]):
        entry["sheet_image"] = names.get(index)  # the copy beside index.html
    atomic_write(folder / TIMES_FILE, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
    return folder


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text).strip("-")[:60]


def rows(comparison: Comparison) -> list[tuple[str, str, list[tuple[int, Candidate]]]]:
    """(page, prompt, [(index, candidate)]) in the order the pages came."""
    found: dict[str, tuple[str, str, list[tuple[int, Candidate]]]] = {}
    for index, candidate in enumerate(comparison.candidates):
        found.setdefault(candidate.src, (candidate.src, candidate.request.prompt, []))[2].append((index, candidate))
    return list(found.values())


def facts(candidate: Candidate) -> list[tuple[str, str]]:
    from mkdocs_imagegen.commands.modeltable import usd

    seconds = f"{candidate.seconds:.1f} s" if candidate.seconds is not None else "not timed"
    status = "cached" if candidate.planned.status == "cached" else "new"
    return [("model", candidate.request.model), ("provider", candidate.provider or "-"),
            ("variant", str(candidate.request.variant)), ("request", f"{seconds} ({status})"),
            ("cost", usd(candidate.cost)), ("size", f"{candidate.request.size} {candidate.request.quality}")]


def _html(comparison: Comparison, names: dict[int, str], prog: str, title: str) -> str:
    esc = html.escape
    parts = ["<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>{esc(title)}</h1>",
             f'<p class="prompt">{len(comparison.candidates)} candidate(s); pick one with the command under it.</p>']
    for src, prompt, items in rows(comparison):
        parts += [f"<section><h2>{esc(src)}</h2>", f'<p class="prompt">{esc(prompt)}</p>', '<div class="grid">']
        for index, candidate in items:
            size = candidate.request.size
            label = f"{candidate.src}: {candidate.id}"
            if index in names:
                picture = (f'<img src="{esc(names[index])}" width="{size.width}" height="{size.height}" '
                           f'alt="{esc(label)}">')
            else:
                picture = (f'<div class="failed" style="--ratio: {size.width} / {size.height}">not made: '
                           f"{esc(candidate.error or 'unknown reason')}</div>")
            details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts(candidate))
            command = candidate.pick_command(prog)
            pick = (f"<code>{esc(command)}</code>" if command else
                    f"<code>banner_model: {esc(candidate.request.model)}\nbanner_variant: "
                    f"{candidate.request.variant}</code>")
            parts.append(f'<figure data-candidate="{esc(candidate.id)}" data-page="{esc(candidate.src)}">{picture}'
                         f"<figcaption><b>{esc(candidate.id)}</b><dl>{details}</dl>{pick}</figcaption></figure>")
        parts.append("</div></section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _png(comparison: Comparison):  # noqa: ANN202 - a PIL image
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=14)
    bold = ImageFont.load_default(size=16)
    table = rows(comparison)
    columns = max(len(items) for _, _, items in table)
    label_lines = 3

    def thumb_height(candidate: Candidate) -> int:
        size = candidate.request.size
        return round(THUMB_WIDTH * size.height / size.width)

    heights = [max(thumb_height(c) for _, c in items) for _, _, items in table]
    row_head = LINE * 2 + PAD
    width = PAD + columns * (THUMB_WIDTH + PAD)
    height = PAD + sum(row_head + h + label_lines * LINE + PAD * 2 for h in heights)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = PAD
    for (src, prompt, items), tallest in zip(table, heights, strict=True):
        draw.text((PAD, y), src, fill="black", font=bold)
        draw.text((PAD, y + LINE), _clip(prompt, width // 8), fill="#555555", font=font)
        y += row_head
        for column, (_, candidate) in enumerate(items):
            x = PAD + column * (THUMB_WIDTH + PAD)
            box = (x, y, x + THUMB_WIDTH, y + thumb_height(candidate))
            if candidate.image is not None:
                with Image.open(candidate.image, formats=["PNG", "JPEG", "WEBP"]) as image:
                    sheet.paste(image.convert("RGB").resize((THUMB_WIDTH, thumb_height(candidate))), box[:2])
            else:
                draw.rectangle(box, outline="#b91c1c", width=2)
                draw.multiline_text((x + PAD, y + PAD), _wrap(f"not made: {candidate.error}", 40), fill="#b91c1c",
                                    font=font)
            text_y = y + tallest + PAD // 2
            info = dict(facts(candidate))
            draw.text((x, text_y), candidate.id, fill="black", font=bold)
            draw.text((x, text_y + LINE), f"{info['provider']} · {info['request']}", fill="#333333", font=font)
            draw.text((x, text_y + 2 * LINE), f"{info['cost']} · {info['size']}", fill="#333333", font=font)
        y += tallest + label_lines * LINE + PAD * 2
    return sheet


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:8])
