"""What every World writes the same way: line files and the answer key.

Why shared: ``docs/scenarios.md`` fixes the layout and ``expected.json``; each world
(``uploads``, ``gpu``, ``balancer``, ``oom``) writes its own telemetry but the key and
the files must come out alike for ``rca demo`` and ``rca eval`` to read them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rca.replay.writers import Clock

__all__ = ["Setup", "expected_json", "setup", "write_lines", "write_text"]


@dataclass(frozen=True)
class Setup:
    """What every world's ``write`` starts from: where, its clock, its random stream and
    its window in unix seconds."""

    out: Path
    clock: Clock
    rng: np.random.Generator
    since: float
    until: float


def setup(world, out_dir: Path, stream: int) -> Setup:
    """``world`` has ``zone``, ``seed``, ``since`` (zone-less local wall time) and
    ``hours``; ``stream`` keeps each world's random draws apart."""
    clock = Clock(world.zone)
    since = clock.epoch(world.since)
    return Setup(Path(out_dir), clock, np.random.default_rng([world.seed, stream]), since,
                 since + world.hours * 3600)


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(line + "\n" for line in lines))


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def expected_json(clock: Clock, since: float, until: float, zone: str,
                  incidents: list[tuple], notes: dict) -> str:
    """The answer key: window, zone, incidents ``(start, end, cause, also[, entity])`` in
    time order; ``entity`` is what the world knows must be acted on (the broken
    Deployment, the waiting pod), graded by ``rca eval``'s entity hit rate."""
    def one(a: float, b: float, cause: str, also: list[str], entity: str = "") -> dict:
        item = {"start": clock.iso(a), "end": clock.iso(b), "cause": cause, "also": list(also)}
        return {**item, "entity": entity} if entity else item

    doc = {"window": {"since": clock.iso(since, "seconds"), "until": clock.iso(until, "seconds")},
           "tz": zone, "incidents": [one(*i) for i in sorted(incidents)], "notes": notes}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
