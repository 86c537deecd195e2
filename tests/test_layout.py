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


# --- the import layers, no cycles, small rooms ---------------------------------------------------------

MAX_MODULE_LINES = 450
MAX_TOP_MODULES = 12


def test_the_import_contracts_hold() -> None:
    """`lint-imports` (contracts in pyproject.toml): a lower layer never imports a higher one, lazily or not."""
    import subprocess
    import sys

    script = Path(sys.executable).with_name("lint-imports")
    assert script.exists(), f"import-linter is not installed beside {sys.executable}: pip install -e '.[test]'"
    done = subprocess.run([str(script), "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"an import contract is broken:\n{done.stdout}{done.stderr}"


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def test_no_import_cycles_between_modules() -> None:
    """Every import counts, also those inside functions and under TYPE_CHECKING."""
    import grimp

    graph = grimp.build_graph("mkdocs_imagegen", cache_dir=None)
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    cycles = strongly_connected(edges)
    assert cycles == [], "modules that import each other:\n" + "\n".join(" <-> ".join(group) for group in cycles)


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_every_module_is_one_room() -> None:
    long = {str(path.relative_to(PACKAGE)): count for path in sorted(PACKAGE.rglob("*.py"))
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: split them along their seams"
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, f"{len(top)} modules directly under mkdocs_imagegen/: {top}"
