"""Before each release: compare the packaged catalogue with what the providers serve today, and print every difference.

    python benchmarks/check_catalogue.py            # every provider whose credentials are set (env or `keys set`)

One listing call per provider with credentials (no image, no cost). It prints, per provider, the image models it
serves that the catalogue does not know (a new model: add an entry with its source and the day), the catalogue's
models it no longer serves (shut down? check the provider's deprecations page and add `shutdown` + `successor`),
and names the catalogue retired that are still served; and, as a note, the deprecated models it still serves (a
shutdown date may have been announced since). Foundry lists your resource's deployments, not Microsoft's
catalogue: its differences say what your resource has deployed, so compare Microsoft's model page by hand.

Exit status: 0 when nothing differs, 1 when something does, 2 when no provider has credentials (nothing compared).
The build never fetches catalogue data from the network: this check is how a maintainer keeps it current.
"""

from __future__ import annotations

import sys

from mkdocs_imagegen.catalogue.lookup import Catalogue, packaged_data
from mkdocs_imagegen.providers.discovery import LiveProvider, discover
from mkdocs_imagegen.providers.registry import Registry


def differences(catalogue: Catalogue, found: LiveProvider) -> list[str]:
    """The lines to print for one provider's answer (empty: it serves exactly what the catalogue says)."""
    if not found.check.ok:
        return [f"could not ask: {found.check.detail}"]
    served = set(found.known) | set(found.uncatalogued)
    lines = []
    new = [name for name in found.uncatalogued if name not in catalogue.retired]
    if new:
        lines.append(f"served, not in the catalogue: {', '.join(new)}")
    gone = [name for name in found.not_served if name not in catalogue.retired]
    if gone:
        lines.append(f"in the catalogue, not served: {', '.join(gone)}")
    revived = sorted(name for name in served if name in catalogue.retired)
    if revived:
        lines.append(f"retired in the catalogue, still served: {', '.join(revived)}")
    return lines


def reminders(catalogue: Catalogue, found: LiveProvider) -> list[str]:
    """Not differences: deprecated models still served (the provider may have announced a shutdown date since)."""
    deprecated = sorted(name for name in found.known if catalogue.deprecated(name) is not None)
    return [f"deprecated, still served: {', '.join(deprecated)} (check its deprecations page for a shutdown date)"] \
        if deprecated else []


def main() -> int:
    registry = Registry.from_options({})
    try:
        catalogue = registry.catalogue
        found = discover(registry)
    finally:
        registry.close()
    print(f"the catalogue of {packaged_data()['checked']} against the providers' live model lists")
    if not found:
        print("no provider has credentials (set them, or `mkdocs-imagegen keys set`): nothing compared")
        return 2
    differ = False
    for item in found:
        lines = differences(catalogue, item)
        differ = differ or bool(lines)
        print(f"{item.name} ({item.provider.label}): {'; '.join(lines) if lines else 'no difference'}")
        for note in reminders(catalogue, item):
            print(f"  note: {note}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
