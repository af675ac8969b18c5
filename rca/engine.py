"""The engine: find incidents in a record and rank every cause on each.

Why pure (the command loads the record, the engine only computes): a cause is a pure
function of one incident window, so the whole analysis is testable with small in-memory
frames, runs the same from the CLI, the notebook and ``rca eval``, and cannot hang on I/O.
The engine does all *no data* gating from what each cause declares it needs (never
"healthy"), evaluates every wanted signal once for all causes, and isolates a cause that
raises: its error becomes a finding with status ``error`` and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rca import incidents as incident_rules
from rca import signals
from rca.causes import REGISTRY, Cause
from rca.config import Config
from rca.finding import Analysis, Finding, Incident, Record, Window
from rca.incidents import DETECTORS, Detector, Inputs
from rca.measure import latency_split
from rca.record import between, empty
from rca.suspects import suspects, unexplained

__all__ = ["Analysis", "analyze", "judge", "load_record", "lookback", "signal_timeline"]

log = logging.getLogger(__name__)

#: Step of offline signal evaluation. A minute resolves a 1–5 minute station alarm and
#: keeps a day at 1,440 points per series.
SIGNAL_STEP_S = 60

#: The record tables the engine reads.
TABLES = ("requests", "events", "objects", "metrics", "dns")


def lookback(config: Config) -> pd.Timedelta:
    """How far before ``since`` the record must reach so the first incident has a baseline."""
    return pd.Timedelta(seconds=float(config.thresholds("incidents")["baseline_s"]))


def load_record(store, since: pd.Timestamp, until: pd.Timestamp, config: Config) -> Record:
    """The tables of [since - baseline, until) from the store: the engine's input. Without
    ``row_id``: no rule identifies a row, and a week's ids are 0.3 GB per 10 M rows."""
    start = since - lookback(config)
    return Record({t: store.load(t, start, until, ids=False) for t in TABLES}, since, until)


def analyze(record: Record, config: Config, causes: Mapping[str, Cause] | None = None,
            detectors: Mapping[str, Detector] | None = None) -> Analysis:
    """Incidents in [record.since, record.until) with ranked causes."""
    causes = REGISTRY if causes is None else causes
    detectors = DETECTORS if detectors is None else detectors
    since, until = record.since, record.until
    tables = {t: _sorted(record.tables.get(t, empty(t))) for t in TABLES}
    start = since - lookback(config)
    wanted = _wanted_signals(causes, detectors)
    series = {n: _sorted(df) for n, df in
              signal_timeline(tables["metrics"], wanted, start, until).items()}
    gaps = _gaps(tables, wanted, series)
    inputs = Inputs({**tables, **{f"signal:{n}": df for n, df in series.items()}}, since, until)
    found, detector_gaps = incident_rules.detect(inputs, config.values["thresholds"], detectors)
    th = config.thresholds("incidents")
    pad = pd.Timedelta(seconds=float(th["pad_s"]))
    spans = [(i.start - pad, i.end + pad) for i in found]
    for inc in found:
        window = _window(inc, inputs.tables, th, spans)
        inc.symptoms.update(_split_figures(window))
        inc.causes = _rank([judge(c, window, config.thresholds(c.config_key))
                            for c in causes.values()])
        inc.suspects = suspects(tables["metrics"], window, config.thresholds("suspects"))
        inc.unexplained = unexplained(inc.causes, config.thresholds("suspects"))
    timeline = {"requests": tables["requests"][tables["requests"].index >= since]}
    timeline.update({k: v[v.index >= since] for k, v in series.items()})
    return Analysis(found, gaps + detector_gaps, timeline, since, until)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Time-sorted, so every per-incident cut is a binary search (``record.between``)."""
    return df if df.index.is_monotonic_increasing else df.sort_index(kind="stable")


def _wanted_signals(causes: Mapping[str, Cause], detectors: Mapping[str, Detector]) -> list[str]:
    names = [s for c in causes.values() for s in c.signals()]
    names += [s for d in detectors.values() for s in d.wants_signals]
    return list(dict.fromkeys(names))


def signal_timeline(metrics: pd.DataFrame, names: list[str], start: pd.Timestamp,
                    end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Each wanted signal over the whole range: taken as collected when a live source
    stored it evaluated, else computed from the raw samples; absent when neither."""
    out = {}
    # rows by metric name, found once: a week of samples is millions of rows, and every
    # signal scanning all of them for its own name cost seconds per signal
    rows = metrics.groupby("name", sort=False).indices if not metrics.empty else {}
    for name in names:
        sig = signals.SIGNALS[name]
        if name in rows:
            out[name] = metrics.iloc[rows[name]][["entity", "value"]]
        elif all(m in rows for m in sig.metrics):
            own = metrics.iloc[np.sort(np.concatenate([rows[m] for m in sig.metrics]))]
            if signals.available(sig, own):
                out[name] = signals.evaluate(sig, own, start, end, SIGNAL_STEP_S)
    return out


def _gaps(tables: dict[str, pd.DataFrame], wanted: list[str],
          series: dict[str, pd.DataFrame]) -> list[dict]:
    gaps = [{"source": t, "message": f"no {t} collected in the window"}
            for t, df in tables.items() if df.empty]
    gaps += [{"source": f"signal:{n}", "message": f"signal {n} could not be computed: "
              f"its metrics ({', '.join(signals.SIGNALS[n].metrics)}) were not collected"}
             for n in wanted if n not in series]
    return gaps


def _window(inc: Incident, tables: Mapping[str, pd.DataFrame], th: dict,
            spans: list[tuple[pd.Timestamp, pd.Timestamp]]) -> Window:
    """The incident's window and the hour before it. Earlier incidents inside that hour
    are cut out of it: a baseline must be what normal looks like, or a burst at 15:54
    would make the one at 16:03 look ordinary."""
    pad = pd.Timedelta(seconds=float(th["pad_s"]))
    start, end = inc.start - pad, inc.end + pad
    baseline_start = start - pd.Timedelta(seconds=float(th["baseline_s"]))
    others = [(a, b) for a, b in spans if b <= start and b > baseline_start]
    sliced = {n: _quiet(between(_sorted(df), baseline_start, end), others)
              for n, df in tables.items() if n not in ("objects", "metrics")}
    sliced["objects"] = tables["objects"]  # facts at collection time: the best we know
    return Window(start, end, baseline_start, sliced, dict(inc.scope), dict(inc.symptoms))


def _split_figures(window: Window) -> dict:
    """Where a failed request is seen on both sides, the caller's wait split into the
    server's processing and the rest: the figure that clears (or blames) the app."""
    split = latency_split(window)
    if split is None:
        return {}
    return {"seen_both_sides": split.matched,
            "client_wait_p50_s": round(split.client_p50_s, 3),
            "server_processing_p50_s": round(split.server_p50_s, 3),
            "outside_server_p50_s": round(split.outside_p50_s, 3)}


def _quiet(df: pd.DataFrame, others: list[tuple[pd.Timestamp, pd.Timestamp]]) -> pd.DataFrame:
    if not others:
        return df
    keep = np.ones(len(df), dtype=bool)
    for a, b in others:
        keep &= ~((df.index >= a) & (df.index < b))
    return df[keep]


def judge(cause: Cause, window: Window, th: dict | None = None) -> Finding:
    """Judge one cause. When what it needs is missing it is *no data*; it still looks at
    what there is, so the evidence that points its way ranks it first among the unjudged
    (the next thing to collect data for)."""
    th = {**cause.defaults(), **(th or {})}
    missing = cause.missing(window)
    try:
        finding = cause.judge(window, th)
    except Exception as exc:  # one broken cause must not hide the others
        if missing:
            return _no_data(cause, missing, [])
        log.exception("cause %s failed", cause.id)
        return Finding(cause.id, 0.0, f"cause failed: {type(exc).__name__}: {exc}",
                       status="error", fix=cause.fix)
    if missing:
        return _no_data(cause, missing, finding.evidence, finding.entity)
    if finding.status == "no_data":  # the cause found its input empty where it looked
        finding.score, finding.missing = 0.0, finding.missing or [finding.summary]
    return finding


def _no_data(cause: Cause, missing: list[str], evidence: list, entity: str = "") -> Finding:
    hints = "; ".join(e.text for e in evidence if e.supports)
    summary = f"not judged: {', '.join(missing)}" + (f" ({hints})" if hints else "")
    return Finding(cause.id, 0.0, summary, entity=entity, status="no_data",
                   evidence=list(evidence), fix=cause.fix, missing=list(missing))


def _rank(findings: list[Finding]) -> list[Finding]:
    """Judged causes by score; then the unjudged, those whose partial evidence points
    their way first; errors last."""
    order = {"ok": 0, "no_data": 1, "error": 2}

    def key(f: Finding):
        hints = sum(1 for e in f.evidence if e.supports)
        return (order[f.status], -f.score, -hints, f.id)

    return sorted(findings, key=key)
