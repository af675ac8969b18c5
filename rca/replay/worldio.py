"""What every World writes the same way: line files and the answer key.

Why shared: ``docs/scenarios.md`` fixes the layout and ``expected.json``; each world
(``uploads``, ``gpu``, ``balancer``, ``oom``) writes its own telemetry but the key and
the files must come out alike for ``rca demo`` and ``rca eval`` to read them.
"""

from __future__ import annotations

import json
from pathlib import Path

from rca.replay.writers import Clock

__all__ = ["expected_json", "write_lines", "write_text"]


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(line + "\n" for line in lines))


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def expected_json(clock: Clock, since: float, until: float, zone: str,
                  incidents: list[tuple[float, float, str, list[str]]], notes: dict) -> str:
    """The answer key: window, zone, incidents (start, end, cause, also) in time order."""
    doc = {"window": {"since": clock.iso(since, "seconds"), "until": clock.iso(until, "seconds")},
           "tz": zone,
           "incidents": [{"start": clock.iso(a), "end": clock.iso(b), "cause": cause,
                          "also": list(also)} for a, b, cause, also in sorted(incidents)],
           "notes": notes}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
