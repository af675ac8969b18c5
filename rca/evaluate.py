"""``rca eval``: how often the analysis is right, measured on labelled scenario directories.

Why: a rule that is right on the replay it was written against proves little. Each
scenario directory (``docs/scenarios.md``) carries its answer key; ``rca eval`` collects it
into a temporary store exactly as a user would, analyzes it, and grades the result:

- **recall**: expected incidents that some found incident overlaps (two minutes of slack
  on each side: an incident's edges are fuzzy by the length of a retry);
- **precision**: found incidents that overlap some expected incident;
- **AC@1 / AC@3**: of the expected incidents found, the share whose expected cause ranks
  first / in the top three of the incident that found it (judged causes only);
- **entity hit rate**: of those with an expected ``entity``, the share where the finding of
  the expected cause names it;
- **false incidents on quiet days**: incidents found in scenarios that expect none.

A path is a scenario directory, a folder of them, or a corpus: a ``.py`` file (or a folder
of them) defining ``SCENARIOS = {name: factory}``, generated into a work folder first.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rca.collect import Source, collect
from rca.config import Config
from rca.engine import analyze, load_record
from rca.store import Store
from rca.timeutil import get_zone

__all__ = ["Grade", "Total", "collect_scenario", "expand", "grade", "run_scenario", "total"]

#: Slack on each side of an expected incident when matching: the edges of an incident are
#: fuzzy by a retry or two (a 5 s resolver timeout, a 30 s scrape), and a minute of padding.
SLACK = pd.Timedelta(minutes=2)


@dataclass
class Grade:
    """One scenario's result against its answer key."""

    name: str
    expected: int
    found: int
    matched_expected: int
    matched_found: int
    at1: int
    at3: int
    entity_checked: int
    entity_hits: int
    seconds: float
    misses: list[str] = field(default_factory=list)  # a line per wrong or missing answer

    @property
    def quiet(self) -> bool:
        return self.expected == 0


@dataclass
class Total:
    scenarios: int
    recall: float
    precision: float
    ac1: float
    ac3: float
    entity_hit_rate: float
    false_on_quiet: int
    quiet_days: int

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def expand(paths: list[Path], work: Path) -> list[Path]:
    """Scenario directories from each path (corpora generated under ``work``)."""
    out: list[Path] = []
    for path in paths:
        if path.is_file() and path.suffix == ".py":
            out += _generate_corpus(path, work)
        elif (path / "expected.json").is_file():
            out.append(path)
        elif path.is_dir():
            corpus = sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
            dirs = sorted(p.parent for p in path.glob("*/expected.json"))
            for py in corpus:
                out += _generate_corpus(py, work)
            out += dirs
            if not corpus and not dirs:
                raise ValueError(f"{path}: no scenario directory or corpus module in it")
        else:
            raise ValueError(f"{path}: not a scenario directory, folder or corpus .py file")
    return out


def _generate_corpus(py: Path, work: Path) -> list[Path]:
    from rca.replay import generate

    spec = importlib.util.spec_from_file_location(f"rca_corpus_{py.stem}", py)
    if spec is None or spec.loader is None:
        raise ValueError(f"{py}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scenarios = getattr(module, "SCENARIOS", None)
    if not isinstance(scenarios, dict):
        raise ValueError(f"{py}: defines no SCENARIOS = {{name: factory}}")
    return [generate(factory(), work / py.stem / name) for name, factory in scenarios.items()]


def run_scenario(directory: Path, config: Config) -> tuple[dict, Any]:
    """Collect ``directory`` into a temporary store and analyze its window."""
    tmp = Path(tempfile.mkdtemp(prefix="rca-eval-"))
    try:
        expected, record = collect_scenario(directory, Store(tmp), config)
        analysis = analyze(record, config)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return expected, analysis


def collect_scenario(directory: Path, store: Store, config: Config) -> tuple[dict, Any]:
    """Collect ``directory`` into ``store`` as ``rca collect`` would; (its answer key, the
    record of its window)."""
    expected = json.loads((directory / "expected.json").read_text(encoding="utf-8"))
    zone = get_zone(expected["tz"])
    since = pd.Timestamp(expected["window"]["since"]).tz_convert("UTC")
    until = pd.Timestamp(expected["window"]["until"]).tz_convert("UTC")
    sources = ([Source("kube", p) for p in sorted((directory / "kube").glob("*.json"))]
               + [Source("metrics", p) for p in sorted((directory / "metrics").glob("*.om"))]
               + [Source("logs", p) for p in sorted((directory / "logs").glob("*"))
                  if p.is_file()])
    collect(store, sources, since, until, config, zone)
    return expected, load_record(store, since, until, config)


def grade(name: str, expected: dict, analysis, seconds: float) -> Grade:
    exp = [(pd.Timestamp(e["start"]), pd.Timestamp(e["end"]), e) for e in expected["incidents"]]
    found = analysis.incidents
    g = Grade(name, len(exp), len(found), 0, 0, 0, 0, 0, 0, round(seconds, 2))
    used: set[int] = set()
    for start, end, e in exp:
        hits = [i for i, inc in enumerate(found)
                if inc.start <= end + SLACK and start - SLACK <= inc.end]
        if not hits:
            g.misses.append(f"missed {e['cause']} at {e['start']}")
            continue
        g.matched_expected += 1
        best = max(hits, key=lambda i: _overlap(found[i], start, end))
        used.update(hits)
        judged = [f for f in found[best].causes if f.status == "ok" and f.score > 0]
        ranked = [f.id for f in judged]
        g.at1 += int(ranked[:1] == [e["cause"]])
        g.at3 += int(e["cause"] in ranked[:3])
        if ranked[:1] != [e["cause"]]:
            g.misses.append(f"{e['cause']} at {e['start']}: ranked {ranked[:3] or 'nothing'}")
        if e.get("entity"):
            g.entity_checked += 1
            mine = [f.entity for f in found[best].causes if f.id == e["cause"]]
            g.entity_hits += int(bool(mine) and e["entity"] in mine[0])
    g.matched_found = len(used)
    for i, inc in enumerate(found):
        if i not in used:
            top = inc.causes[0].id if inc.causes else "?"
            g.misses.append(f"false incident {inc.id} (top: {top})")
    return g


def _overlap(inc, start: pd.Timestamp, end: pd.Timestamp) -> float:
    return (min(inc.end, end) - max(inc.start, start)).total_seconds()


def total(grades: list[Grade]) -> Total:
    def ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    exp = sum(g.expected for g in grades)
    matched = sum(g.matched_expected for g in grades)
    quiet = [g for g in grades if g.quiet]
    return Total(
        scenarios=len(grades),
        recall=ratio(matched, exp),
        precision=ratio(sum(g.matched_found for g in grades), sum(g.found for g in grades)),
        ac1=ratio(sum(g.at1 for g in grades), matched),
        ac3=ratio(sum(g.at3 for g in grades), matched),
        entity_hit_rate=ratio(sum(g.entity_hits for g in grades),
                              sum(g.entity_checked for g in grades)),
        false_on_quiet=sum(g.found for g in quiet),
        quiet_days=len(quiet),
    )
