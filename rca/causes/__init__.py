"""The cause catalogue: one module per cause id, registered here and nowhere else.

Every cause module defines ``CAUSE`` (``rca.causes.base.Cause``): the stable id, what it
needs as predicates over the incident window (the engine reports *no data* when one does
not hold), the signals it wants, its thresholds with the reason for each default (config
takes its defaults from here: ``thresholds.<id with _>``), its fix, and ``judge(window,
th) -> Finding``, a pure function. A new cause is three files: its module, its entry in
``docs/causes.md`` (Meaning, Impact, Diagnosis, Mitigation) and
``tests/rca/causes/test_<id with _>.py``; the catalogue test fails when one is missing.
"""

from __future__ import annotations

from rca.causes import (
    app_slow_response,
    config_wrong_target,
    cpu_throttling,
    dns_resolver_timeout,
    http_body_too_large,
    lb_dead_backend,
    memory_oom_kill,
    network_saturation,
    probe_timeout_too_tight,
    scheduling_gpu_fragmentation,
    storage_io_stall,
)
from rca.causes.base import Cause

__all__ = ["REGISTRY", "Cause", "select"]

REGISTRY: dict[str, Cause] = {c.id: c for c in (
    dns_resolver_timeout.CAUSE,
    app_slow_response.CAUSE,
    memory_oom_kill.CAUSE,
    scheduling_gpu_fragmentation.CAUSE,
    http_body_too_large.CAUSE,
    lb_dead_backend.CAUSE,
    config_wrong_target.CAUSE,
    network_saturation.CAUSE,
    probe_timeout_too_tight.CAUSE,
    storage_io_stall.CAUSE,
    cpu_throttling.CAUSE,
)}


def select(ids: list[str] | None, registry: dict[str, Cause] | None = None) -> dict[str, Cause]:
    """The causes named by ``rca analyze --cause ID…`` (all when none); an unknown id is a
    ``KeyError`` naming the known ones."""
    registry = REGISTRY if registry is None else registry
    if not ids:
        return dict(registry)
    unknown = [i for i in ids if i not in registry]
    if unknown:
        raise KeyError(f"unknown cause {', '.join(unknown)}; known: {', '.join(registry)}")
    return {i: registry[i] for i in ids}
