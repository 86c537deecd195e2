"""Drafted prompts and alt text, kept in `<cache_dir>/drafts/<task>/<key>.json` so a second `brief` or `alt`
sends nothing. The key is a hash of everything sent (model, instructions, text, the image's hash), so a
changed page, model or instruction drafts anew. Only answers that passed the checks are kept.

Files here are read as untrusted (the cache is committed): a size cap, a JSON object, the key it names
and an answer that is text; anything else is ignored and drafted again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs_imagegen.cache.files import atomic_write

MAX_RECORD_BYTES = 64 * 1024
FOLDER = "drafts"


def draft_key(task: str, model: str, instructions: str, text: str, image_sha256: str | None = None) -> str:
    sent = {"task": task, "model": model, "instructions": instructions, "text": text, "image_sha256": image_sha256}
    return hashlib.sha256(json.dumps(sent, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Draft:
    answer: str
    model: str
    provider: str
    input_tokens: int | None = None
    output_tokens: int | None = None


class DraftCache:
    def __init__(self, cache_dir: Path, task: str) -> None:
        self.folder = cache_dir / FOLDER / task

    def linked(self) -> bool:
        """A drafts folder that is a link is never used: links are not followed out of cache_dir."""
        return self.folder.parent.is_symlink() or self.folder.is_symlink()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Draft | None:
        path = self.path(key)
        try:
            if self.linked() or path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
                return None
            record = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key or not isinstance(record.get("answer"), str):
            return None
        return Draft(record["answer"], str(record.get("model", "")), str(record.get("provider", "")),
                     _count(record.get("input_tokens")), _count(record.get("output_tokens")))

    def put(self, key: str, draft: Draft) -> None:
        record = {"key": key, "answer": draft.answer, "model": draft.model, "provider": draft.provider,
                  "input_tokens": draft.input_tokens, "output_tokens": draft.output_tokens}
        if self.linked():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path(key), (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
