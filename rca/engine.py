"""The engine: load the record, find incidents, run every cause on each, rank the findings.

Why the engine owns the I/O and the causes do not: a cause is a pure function of one
incident window, so it is testable with small in-memory frames and cannot hang on a
network call. The engine decides what a cause can be given; when something it NEEDS
was not collected it reports *no data* (never "healthy"), and a cause that raises is
isolated: its error becomes a finding with status ``error`` and the others still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rca import incidents as incident_rules
from rca import signals
from rca.causes import REGISTRY
from rca.config import Config
from rca.finding import Finding, Incident, Window
from rca.store import Store

__all__ = ["Analysis", "analyze", "signal_timeline"]

log = logging.getLogger(__name__)

#: Step of offline signal evaluation. A minute resolves a 1–5 minute station alarm and
#: keeps a day at 1,440 points per series.
SIGNAL_STEP_S = 60


@dataclass
class Analysis:
    incidents: list[Incident]
    gaps: list[dict[str, str]]
    timeline: dict[str, pd.DataFrame] = field(default_factory=dict)
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None


def analyze(store: Store, since: pd.Timestamp, until: pd.Timestamp, config: Config,
            only: list[str] | None = None) -> Analysis:
    """Incidents in [since, until) with ranked causes; the baseline reaches back before
    ``since`` so an incident at the start of the window still has one."""
    th = config.thresholds("incidents")
    lookback = pd.Timedelta(seconds=float(th["baseline_s"]))
    tables = {t: store.load(t, since - lookback, until)
              for t in ("requests", "events", "objects", "metrics")}
    causes = {k: v for k, v in REGISTRY.items() if not only or k in only}
    wanted = _wanted_signals(causes)
    series = signal_timeline(tables["metrics"], wanted, since - lookback, until)
    gaps = _gaps(tables, wanted, series)
    in_window = tables["requests"][tables["requests"].index >= since]
    found = incident_rules.detect(in_window, tables["objects"], th)
    pad = pd.Timedelta(seconds=float(th["pad_s"]))
    spans = [(i.start - pad, i.end + pad) for i in found]
    for inc in found:
        window = _window(inc, tables, series, th, spans)
        inc.causes = _rank([_run(mod, window, config) for mod in causes.values()])
    timeline = {"requests": tables["requests"][tables["requests"].index >= since]}
    timeline.update({k: v[v.index >= since] for k, v in series.items()})
    return Analysis(found, gaps, timeline, since, until)


def _wanted_signals(causes: dict) -> list[str]:
    names: list[str] = []
    for mod in causes.values():
        for need in (*mod.NEEDS, *getattr(mod, "WANTS", ())):
            if need.startswith("signal:") and need[7:] not in names:
                names.append(need[7:])
    return names


def signal_timeline(metrics: pd.DataFrame, names: list[str], start: pd.Timestamp,
                    end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Each wanted signal over the whole range: taken as collected when a live source
    stored it evaluated, else computed from the raw samples; absent when neither."""
    out = {}
    for name in names:
        sig = signals.SIGNALS[name]
        stored = metrics[metrics["name"] == name]
        if not stored.empty:
            out[name] = stored[["entity", "value"]]
        elif signals.available(sig, metrics):
            out[name] = signals.evaluate(sig, metrics, start, end, SIGNAL_STEP_S)
    return out


def _gaps(tables: dict[str, pd.DataFrame], wanted: list[str],
          series: dict[str, pd.DataFrame]) -> list[dict]:
    gaps = [{"source": t, "message": f"no {t} collected in the window"}
            for t, df in tables.items() if df.empty]
    gaps += [{"source": f"signal:{n}", "message": f"signal {n} could not be computed: "
              f"its metrics ({', '.join(signals.SIGNALS[n].metrics)}) were not collected"}
             for n in wanted if n not in series]
    return gaps


def _window(inc: Incident, tables: dict, series: dict, th: dict,
            spans: list[tuple[pd.Timestamp, pd.Timestamp]]) -> Window:
    """The incident's window and the hour before it. Earlier incidents inside that hour
    are cut out of it: a baseline must be what normal looks like, or a burst at 15:54
    would make the one at 16:03 look ordinary."""
    pad = pd.Timedelta(seconds=float(th["pad_s"]))
    start, end = inc.start - pad, inc.end + pad
    baseline_start = start - pd.Timedelta(seconds=float(th["baseline_s"]))
    others = [(a, b) for a, b in spans if b <= start and b > baseline_start]
    frames = {n: df for n, df in tables.items() if n not in ("objects", "metrics")}
    frames.update({f"signal:{n}": df for n, df in series.items()})
    sliced = {n: _quiet(df[(df.index >= baseline_start) & (df.index < end)], others)
              for n, df in frames.items()}
    sliced["objects"] = tables["objects"]  # facts at collection time: the best we know
    return Window(start, end, baseline_start, sliced, dict(inc.scope))


def _quiet(df: pd.DataFrame, others: list[tuple[pd.Timestamp, pd.Timestamp]]) -> pd.DataFrame:
    keep = np.ones(len(df), dtype=bool)
    for a, b in others:
        keep &= ~((df.index >= a) & (df.index < b))
    return df[keep]


def _run(mod, window: Window, config: Config) -> Finding:
    missing = [n for n in mod.NEEDS if _missing(n, window)]
    if missing:
        return Finding(mod.ID, 0.0, f"not judged: {', '.join(missing)} not collected",
                       status="no_data", fix=mod.FIX)
    try:
        return mod.analyze(window, config.thresholds(mod.ID.replace(".", "_")))
    except Exception as exc:  # one broken cause must not hide the others
        log.exception("cause %s failed", mod.ID)
        return Finding(mod.ID, 0.0, f"cause failed: {type(exc).__name__}: {exc}",
                       status="error", fix=mod.FIX)


def _missing(need: str, window: Window) -> bool:
    df = window.tables.get(need)
    return df is None or df.empty


def _rank(findings: list[Finding]) -> list[Finding]:
    """Judged causes by score; then the unjudged, those whose partial evidence points
    their way first (a cause that could not be judged but is suggested by what was
    collected is the next thing to collect data for); errors last."""
    order = {"ok": 0, "no_data": 1, "error": 2}

    def key(f: Finding):
        hints = sum(1 for e in f.evidence if e.supports)
        return (order[f.status], -f.score, -hints, f.id)

    return sorted(findings, key=key)

