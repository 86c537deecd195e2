"""Scripted failures: the fault kinds, which providers each exists for, and `Fault` itself.

How a kind looks on the wire is each protocol's business (its ``error`` and ``success`` methods);
the server only tells the kinds answered at once with an error (`ERROR_KINDS`) from the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from mkdocs_imagegen.emulator.apis import APIS, PROVIDERS

# Kinds every protocol has: answered at once with an error (or, for "reset", a dropped connection)...
COMMON_ERROR_KINDS = frozenset({"rate_limit", "server_error", "overloaded", "reset"})
# ...or applied to a 200 answer.
COMMON_ANSWER_KINDS = frozenset({"slow", "truncated_b64", "not_image", "bomb"})
# Kinds that exist for some protocols only, as each declares them.
KIND_PROVIDERS: dict[str, frozenset[str]] = {
    kind: frozenset(api.provider for api in APIS if kind in api.error_faults | api.answer_faults)
    for kind in frozenset().union(*(api.error_faults | api.answer_faults for api in APIS))
}
ERROR_KINDS = COMMON_ERROR_KINDS.union(*(api.error_faults for api in APIS))
FAULT_KINDS = ERROR_KINDS | COMMON_ANSWER_KINDS | frozenset(KIND_PROVIDERS)


@dataclass
class Fault:
    """A scripted failure for matching image-generation requests.

    provider: a provider name from the provider table, or None (any provider the kind exists for).
    times: how many matching requests it applies to; -1 means forever.
    match: substring the prompt must contain (None: any prompt).
    retry_after: seconds advertised by rate-limit kinds.  delay: seconds added by "slow".
    """

    provider: str | None = None
    kind: str = "rate_limit"
    times: int = 1
    match: str | None = None
    retry_after: float = 1.0
    delay: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; known: {PROVIDERS}")
        allowed = KIND_PROVIDERS.get(self.kind)
        if self.provider and allowed and self.provider not in allowed:
            raise ValueError(f"fault {self.kind!r} exists only for {sorted(allowed)}")
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be a positive count or -1 (forever)")

    def applies(self, provider: str, prompt: str) -> bool:
        if self.provider not in (None, provider):
            return False
        if provider not in KIND_PROVIDERS.get(self.kind, PROVIDERS):
            return False
        return self.match is None or self.match in prompt


def parse_fault_spec(spec: str) -> Fault:
    """`KIND[:MATCH]` (the command line's `--fault`): a fault of KIND for every image request whose prompt
    contains MATCH (every request without one), at each provider the kind exists for. ValueError says why not."""
    kind, colon, match = spec.partition(":")
    kind = kind.strip()
    if colon and not match:
        raise ValueError(f"expected KIND or KIND:MATCH, got {spec!r} (MATCH is text the prompt contains)")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
    return Fault(kind=kind, times=-1, match=match or None)
