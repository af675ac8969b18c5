"""``rca lab SCENARIO|all [--quick] [--keep DIR] [--json]``: run scenarios, print the table.

Exit codes: 0 when every run passed, 1 when one failed (wrong top cause, an incident on a
quiet run, a step that broke), 2 when the lab cannot run here at all (not root, a missing
program, no network namespaces), with one ``rca: error:`` line naming what is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rca.lab.host import LabError, preflight
from rca.lab.run import Result, run
from rca.lab.scenarios import SCENARIOS

__all__ = ["lab", "runs_of"]


def runs_of(name: str) -> list[tuple]:
    """(scenario, variant) pairs ``name`` stands for (``all``: every scenario)."""
    scenarios = list(SCENARIOS.values()) if name == "all" else [SCENARIOS[name]]
    return [(s, v) for s in scenarios for v in (None, *s.variants)]


def lab(args) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    runs = runs_of(args.scenario)
    try:
        preflight(("ip", "iptables", "prometheus", "prometheus-node-exporter",
                   *{t for s, _ in runs for t in s.tools}))
    except LabError as exc:
        print(f"rca: error: {exc}", file=sys.stderr)
        return 2
    keep = Path(args.keep) if args.keep else None

    def say(text: str) -> None:
        err.print(Text(text, style="dim"))

    results = []
    for scenario, variant in runs:
        try:
            result = run(scenario, quick=args.quick, variant=variant, keep=keep, say=say)
        except KeyboardInterrupt:
            print("rca: error: interrupted; everything the run started was stopped and "
                  "removed", file=sys.stderr)
            return 130
        results.append(result)
        err.print(Text(f"{result.scenario}: {'PASS' if result.passed else 'FAIL'} "
                       f"({result.seconds:.0f} s){' ' + result.error if result.error else ''}"))
    if args.json:
        json.dump([r.as_dict() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        Console(highlight=False, width=200).print(table(results))
    return 0 if all(r.passed for r in results) else 1


def table(results: list[Result]) -> Table:
    t = Table(title="rca lab")
    for col in ("scenario", "injected cause", "detected top cause", "rank of truth",
                "incident window (UTC)", "incidents", "duration", "result"):
        t.add_column(col)
    for r in results:
        window = f"{r.incident[0][11:19]}–{r.incident[1][11:19]}" if r.incident else "–"
        truth = r.cause if r.expect_incident else f"none ({r.cause or 'no fault'} + fix)" \
            if r.cause else "none"
        t.add_row(Text(r.scenario), Text(truth), Text(r.top or "–"),
                  Text(str(r.rank) if r.rank else "–"), Text(window), Text(str(r.incidents)),
                  Text(f"{r.seconds:.0f} s"),
                  Text("PASS" if r.passed else f"FAIL {r.error}".strip()))
    return t
