"""The layout keeps its promises: a provider is added in its table row, its provider module and its
emulator module, and nowhere else; files stay small enough to be one room."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs_imagegen.provider_table import PROVIDERS

PACKAGE = Path(__file__).resolve().parent.parent / "mkdocs_imagegen"


def own_rooms() -> set[Path]:
    """The table, and each provider's module and emulator module (plus the helpers only they import)."""
    rooms = {PACKAGE / "provider_table.py", PACKAGE / "providers" / "openai_common.py",
             PACKAGE / "emulator" / "mai.py"}
    for spec in PROVIDERS:
        for reference in (spec.provider, spec.emulator, spec.text, spec.text_emulator):
            module = reference.partition(":")[0].removeprefix("mkdocs_imagegen.").replace(".", "/")
            rooms.add(PACKAGE / f"{module}.py")
    return rooms


def test_no_module_but_a_providers_own_names_it() -> None:
    names = "|".join(re.escape(spec.name) for spec in PROVIDERS)
    quoted = re.compile(rf"""["']({names})["']""")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in own_rooms():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if quoted.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == [], "a provider named outside its own rooms:\n" + "\n".join(offenders)


def test_the_emulator_and_the_config_are_built_from_the_table() -> None:
    from mkdocs_imagegen.emulator import APIS
    from mkdocs_imagegen.plugin.config import ProvidersOptions

    assert [api.provider for api in APIS] == [spec.name for spec in PROVIDERS]
    schema = dict(ProvidersOptions._schema)  # type: ignore[attr-defined]
    for spec in PROVIDERS:
        assert set(dict(schema[spec.name].config_class._schema)) == set(spec.options)
