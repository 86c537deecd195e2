"""Set top-level keys in a page's YAML front matter, leaving every other byte as it was.

Comments, quoting, key order, other keys, line endings (LF or CRLF), a BOM and the body are kept:
only the lines of the keys being set change. A key that is there has its value replaced on its
own line (its quote style and a trailing comment are kept); a key that is not is added as the
last line of the front matter. The result is read back as MkDocs reads it, and refused if the
keys do not come out as asked (flow-style front matter, say).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mkdocs_imagegen.errors import EditError

BOM = b"\xef\xbb\xbf"
_OPEN = re.compile(r"^-{3}[ \t]*$")
_CLOSE = re.compile(r"^(?:-{3}|\.{3})[ \t]*$")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")


def scalar(value: str | int) -> str:
    """`value` as a YAML scalar that reads back as exactly `value` (a string stays a string)."""
    if isinstance(value, int):
        return str(value)
    import yaml

    if _PLAIN.match(value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    import json

    return json.dumps(value, ensure_ascii=False)


def set_keys(data: bytes, values: Mapping[str, str | int]) -> bytes:
    """`data` (a Markdown page) with the top-level front-matter `values` set. EditError if it cannot be."""
    bom = data.startswith(BOM)
    try:
        text = data[len(BOM):].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EditError(f"the page is not UTF-8 ({error.reason})") from None
    lines = text.splitlines(keepends=True)
    if not lines or not _OPEN.match(_strip_eol(lines[0])):
        raise EditError("the page has no front matter (a first line of ---)")
    close = next((i for i in range(1, len(lines)) if _CLOSE.match(_strip_eol(lines[i]))), None)
    if close is None:
        raise EditError("the page's front matter has no closing --- line")
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    head, body = lines[1:close], lines[close:]
    for key, value in values.items():
        head = _set(head, key, scalar(value), newline)
    result = "".join([lines[0], *head, *body])
    _check(result, values)
    return (BOM if bom else b"") + result.encode("utf-8")


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def _eol(line: str) -> str:
    return line[len(_strip_eol(line)):]


def _set(head: list[str], key: str, value: str, newline: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(key)}[ \t]*:(?=[ \t]|$)")
    found = [i for i, line in enumerate(head) if pattern.match(line)]
    if not found:
        last = head[-1] if head else ""
        if head and not _eol(last):  # a last line without its line ending
            head = [*head[:-1], last + newline]
        return [*head, f"{key}: {value}{newline}"]
    out = list(head)
    for index in reversed(found):  # YAML's last one wins; set them all, so none disagrees
        line = out[index]
        rest = _strip_eol(line)[pattern.match(line).end():]  # type: ignore[union-attr]
        out[index:_value_end(out, index, rest)] = [f"{key}:{_replace_value(rest, value)}{_eol(line) or newline}"]
    return out


def _value_end(lines: list[str], index: int, rest: str) -> int:
    """The index after the last line of the value that starts on `lines[index]` (`rest` follows its colon).

    The indented lines after it go on the value, but a comment line ends a plain or quoted one (as YAML
    reads it); in a block scalar (| or >) or a quote that closes on a later line, every indented line is
    text. Blank lines count only between lines of the value.
    """
    start = rest.lstrip(" \t")
    text_lines = start[:1] in ("|", ">") or (start[:1] in ("'", '"') and _QUOTED.match(start) is None)
    end = index + 1
    for at in range(index + 1, len(lines)):
        line = lines[at]
        if not line.strip():
            continue
        if line[:1] not in (" ", "\t") or (not text_lines and line.lstrip(" \t").startswith("#")):
            break
        end = at + 1
    return end


_QUOTED = re.compile(r"""^(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*')""")


def _replace_value(rest: str, value: str) -> str:
    """` old  # comment` -> ` new  # comment`, in the old quote style when both read the same.

    Read in one pass: a backtracking pattern took minutes over a line of 400,000 blanks."""
    body = rest.lstrip(" \t")
    space = rest[:len(rest) - len(body)] or " "
    quoted = _QUOTED.match(body)
    at = _comment_at(body, quoted.end() if quoted else 0)
    old = body if at is None else body[:at]
    comment = "" if at is None else body[len(old.rstrip(" \t")):]
    if old[:1] in ("'", '"') and not value.startswith(("'", '"')) and "'" not in value and '"' not in value \
            and "\\" not in value:
        value = f"{old[0]}{value}{old[0]}"
    return f"{space}{value}{comment}"


def _comment_at(text: str, start: int) -> int | None:
    """Where the comment in `text[start:]` begins: the first # after a blank; None if there is none."""
    at = text.find("#", start)
    while at != -1:
        if at > 0 and text[at - 1] in " \t":
            return at
        at = text.find("#", at + 1)
    return None


def _check(text: str, values: Mapping[str, str | int]) -> None:
    from mkdocs.utils.meta import get_data

    _, meta = get_data(text.replace("\r\n", "\n"))
    wrong = [key for key, value in values.items() if meta.get(key) != value]
    if wrong:
        raise EditError(f"{', '.join(wrong)} did not read back as set (front matter in a style this edit "
                        "does not handle)")
