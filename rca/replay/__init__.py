"""Replayed days: a seeded simulation that writes raw telemetry in real public formats.

Why: on a laptop with no cluster the toolkit must still show the 2021-08-23 day end to
end, and the rules need labelled days (with decoys) to be graded against. ``builtin``
gives the named days; ``generate`` writes any ScenarioSpec to a scenario directory with
its answer key, ``expected.json``.
"""

from __future__ import annotations

from collections.abc import Callable

from rca.replay import balancer, dataloader, day_20210823, gpu, oom, rgw, uploads, variants
from rca.replay.generate import World, generate
from rca.replay.spec import ScenarioSpec

__all__ = ["BUILTINS", "ScenarioSpec", "builtin", "generate"]

#: name -> factory(seed). A factory returns a ScenarioSpec (the inference-station world) or
#: any ``World`` (another seed system) that writes itself.
_FACTORIES: dict[str, Callable[[int], ScenarioSpec | World]] = {
    day_20210823.NAME: day_20210823.spec,
    "decoy-app-slow": variants.decoy_app_slow,
    "quiet": variants.quiet,
    rgw.NAME: rgw.spec,
    dataloader.NAME: dataloader.spec,
    "upload-413": lambda seed: uploads.UploadWorld(seed=seed),
    "gpu-fragmentation": lambda seed: gpu.GpuWorld(seed=seed),
    "dead-backend-dev-target": lambda seed: balancer.BalancerWorld(seed=seed),
    "oom-loop": lambda seed: oom.OomWorld(seed=seed),
}

BUILTINS: tuple[str, ...] = tuple(_FACTORIES)


def builtin(name: str, seed: int = 20210823) -> ScenarioSpec | World:
    """The built-in scenario ``name`` (one of ``BUILTINS``), drawn with ``seed``."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; built-in: {', '.join(BUILTINS)}") from None
    return factory(seed)
