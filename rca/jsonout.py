"""The analysis as the stable JSON contract (``rca analyze -o json``, the report's input).

Why a separate step: detection decides, output only reports. Times leave here as ISO 8601
with the user's offset, so the same instant reads the same in JSON, table and HTML.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import pandas as pd

from rca.engine import Analysis
from rca.finding import Chart, Evidence, Finding, Incident
from rca.timeutil import to_display

__all__ = ["analysis_to_dict"]


def analysis_to_dict(analysis: Analysis, zone: tzinfo,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "incidents": [_incident(i, zone) for i in analysis.incidents],
        "gaps": analysis.gaps,
    }
    if analysis.since is not None and analysis.until is not None:
        out["window"] = {"since": to_display(analysis.since, zone),
                         "until": to_display(analysis.until, zone)}
    out.update(extra or {})
    return out


def _incident(inc: Incident, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": inc.id,
        "start": to_display(inc.start, zone),
        "end": to_display(inc.end, zone),
        "scope": inc.scope,
        "symptoms": inc.symptoms,
        "causes": [_finding(f, zone) for f in inc.causes],
        "suspects": inc.suspects,
        "unexplained": inc.unexplained,
    }


def _finding(f: Finding, zone: tzinfo) -> dict[str, Any]:
    out = {
        "id": f.id,
        "entity": f.entity,
        "score": round(f.score, 3),
        "status": f.status,
        "summary": f.summary,
        "evidence": [_evidence(e, zone) for e in f.evidence],
        "fix": f.fix,
    }
    if f.chart is not None:
        out["chart"] = _chart(f.chart, zone)
    return out


def _chart(c: Chart, zone: tzinfo) -> dict[str, Any]:
    return {
        "title": c.title, "unit": c.unit, "line": c.line, "line_label": c.line_label,
        "series": {k: [[to_display(t, zone), float(v)] for t, v in pts]
                   for k, pts in c.series.items()},
        "bars": {g: {k: float(v) for k, v in vals.items()} for g, vals in c.bars.items()},
        "marks": [[to_display(t, zone), str(label)] for t, label in c.marks],
    }


def _evidence(e: Evidence, zone: tzinfo) -> dict[str, Any]:
    return {
        "supports": e.supports,
        "text": e.text,
        "start": to_display(e.start, zone) if e.start is not None else None,
        "end": to_display(e.end, zone) if e.end is not None else None,
        "source": e.source,
        "rows": [{k: _local(v, zone) for k, v in row.items()} for row in e.rows],
    }


def _local(value: Any, zone: tzinfo) -> Any:
    """Row times are stored as UTC ISO strings; show them in the user's zone."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return to_display(pd.Timestamp(value), zone)
        except ValueError:
            return value
    if isinstance(value, float) and value != value:
        return None
    return value
