"""Render the analysis result (the stable JSON contract) as one self-contained HTML page.

Why a view model built here: every formatting decision (local time, rounding, ranking,
how many rows) is made in Python, where it is tested; the template only lays out strings.

Why autoescape and never ``|safe``: every string in the result comes from the cluster —
pod and service names, log lines, probe messages — and any of them can contain markup.
The only raw values the page carries are our own base64 PNG data URIs, and those need no
escaping. A Content-Security-Policy in the page (no scripts, images only from ``data:``)
is the second lock on the same door.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rca.report.figures import Span, failure_heatmap, timeline_figure
from rca.store.atomic import atomic_write
from rca.timeutil import get_zone, to_display

__all__ = ["render_report", "write_report"]

ZOOM_PAD = pd.Timedelta(minutes=5)  # context either side of an incident in its zoom
MAX_ZOOMS = 20  # beyond this the page gets slow to render and to read
MAX_DAY_SIGNALS = 5
MAX_ZOOM_SIGNALS = 3
_STATUS_ORDER = {"ok": 0, "no_data": 1, "error": 2}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_UNITS = (("_seconds", "s"), ("_ms", "ms"), ("_s", "s"), ("_bytes", "B"), ("_pct", "%"))
_NON_PROD = re.compile(r"(^|[^a-z])(dev|develop|test|testing|staging|sandbox|local)([^a-z]|$)")

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_report(result: dict, timeline: dict[str, pd.DataFrame], zone_name: str, *,
                  max_evidence_rows: int = 20, top_causes: int = 2,
                  cause_signals: Mapping[str, Sequence[str]] | None = None,
                  cause_lines: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """The report page. ``timeline`` frames have a UTC index; signal keys may carry the
    engine's ``signal:`` prefix or not. Causes keep the engine's ranking (the report never
    re-ranks); those ranked ``top_causes`` or better show their evidence open. The signal
    panels are those the top causes declare they read (``cause_signals``: cause id ->
    signal names), drawn as "no data" when absent, then those the evidence cites. In each
    incident's zoom the top causes' thresholds (``cause_lines``: cause id -> signal ->
    value) are drawn on their signals' panels."""
    key = _key_signals(result, cause_signals or {}, top_causes)
    zone = get_zone(zone_name)
    frames = {str(k).removeprefix("signal:"): v for k, v in (timeline or {}).items()}
    raw = [i for i in result.get("incidents") or [] if isinstance(i, Mapping)]
    incidents = [_incident(n, inc, zone, max_evidence_rows, top_causes)
                 for n, inc in enumerate(raw, 1)]
    spans = [Span(str(i["n"]), i["_start"], i["_end"]) for i in incidents
             if i["_start"] is not None and i["_end"] is not None]
    since, until = _window(result.get("window") or {}, frames, spans)
    day = heatmap = None
    if since is not None:
        day = timeline_figure(frames.get("requests"), frames,
                              _signal_names(frames, raw, MAX_DAY_SIGNALS, key(raw)), spans,
                              since, until, zone, zone_name)
        heatmap = failure_heatmap(frames.get("requests"), spans, since, until, zone,
                                  zone_name)
    for inc, src in list(zip(incidents, raw, strict=True))[:MAX_ZOOMS]:
        if inc["_start"] is not None and inc["_end"] is not None:
            names = _signal_names({}, [src], MAX_ZOOM_SIGNALS, key([src]))
            inc["zoom"] = timeline_figure(frames.get("requests"), frames, names, spans,
                                          inc["_start"] - ZOOM_PAD, inc["_end"] + ZOOM_PAD,
                                          zone, zone_name, compact=True,
                                          lines=_lines(src, cause_lines or {}, top_causes))
    context = str(result.get("context") or "unknown")
    return _ENV.get_template("report.html.j2").render(
        context=context,
        context_warn=bool(_NON_PROD.search(context.lower())),
        zone_name=zone_name,
        window=_span(since, until, zone) if since is not None else "unknown",
        verdict=_verdict(incidents),
        collection=_collection(result.get("collection") or {}, zone),
        day=day,
        heatmap=heatmap,
        incidents=incidents,
        zooms_omitted=max(0, len(incidents) - MAX_ZOOMS),
        zoom_pad_min=round(ZOOM_PAD.total_seconds() / 60),
        gaps=_gaps(result.get("gaps") or []),
        unchecked=_unchecked(day, incidents),
    )


def write_report(html: str, path: Path) -> Path:
    """Write ``html`` to ``path`` atomically: a reader (or a web server publishing the
    reports directory) sees the old page or the new one, never half of one."""
    return atomic_write(path, html, mode=0o644)  # a report is meant to be shared


def _incident(n: int, inc: Mapping, zone: tzinfo, max_rows: int, top: int) -> dict:
    start, end = _instant(inc.get("start")), _instant(inc.get("end"))
    causes = [c for c in inc.get("causes") or [] if isinstance(c, Mapping)]
    views = [_cause(rank, c, zone, max_rows, rank <= top) for rank, c in enumerate(causes, 1)]
    scope = inc.get("scope") if isinstance(inc.get("scope"), Mapping) else {}
    symptoms = inc.get("symptoms") if isinstance(inc.get("symptoms"), Mapping) else {}
    return {
        "n": n, "anchor": f"inc-{n}", "id": str(inc.get("id") or f"incident {n}"),
        "_start": start, "_end": end, "range": _span(start, end, zone), "zoom": None,
        "scope": [(str(k), _items(v)) for k, v in scope.items()],
        "scope_brief": " · ".join(f"{k} {len(_items(v))}" for k, v in scope.items()),
        "symptoms": [_symptom(str(k), v) for k, v in symptoms.items()],
        "failed": _value(symptoms.get("failed_requests")),
        "causes": views, "top": views[0] if views else None,
        "unexplained": str(inc.get("unexplained") or ""),
        "suspects": [{k: str(s.get(k, "")) for k in ("entity", "series", "change", "score")}
                     for s in inc.get("suspects") or [] if isinstance(s, Mapping)],
    }


def _cause(rank: int, c: Mapping, zone: tzinfo, max_rows: int, is_top: bool) -> dict:
    score = _score(c.get("score"))
    status = str(c.get("status") or "ok")
    evidence = [_evidence(e, zone, max_rows) for e in c.get("evidence") or []
                if isinstance(e, Mapping)]
    return {
        "rank": rank, "id": str(c.get("id") or "?"), "entity": str(c.get("entity") or ""),
        "score": f"{score:.2f}", "pct": round(score * 100),
        "band": "hi" if score >= 0.6 else "mid" if score >= 0.3 else "lo",
        "status": status if status in _STATUS_ORDER else "error",
        "status_label": status.replace("_", " "), "summary": str(c.get("summary") or ""),
        "fix": str(c.get("fix") or ""), "is_top": is_top,
        "supporting": [e for e in evidence if e["supports"]],
        "against": [e for e in evidence if not e["supports"]],
    }


def _evidence(e: Mapping, zone: tzinfo, max_rows: int) -> dict:
    rows = [r for r in e.get("rows") or [] if isinstance(r, Mapping)]
    shown = rows[:max_rows]
    columns: list[str] = []
    for row in shown:
        columns += [str(k) for k in row if str(k) not in columns]
    return {
        "supports": bool(e.get("supports")), "text": str(e.get("text") or ""),
        "range": _span(_instant(e.get("start")), _instant(e.get("end")), zone),
        "source": str(e.get("source") or ""), "columns": columns,
        "rows": [[_value(_get(r, c), zone) for c in columns] for r in shown],
        "more": len(rows) - len(shown),
    }


def _lines(inc: Mapping, cause_lines: Mapping[str, Mapping[str, float]],
           top: int) -> dict[str, float]:
    """The thresholds of the incident's top causes, per signal (the first cause's wins)."""
    out: dict[str, float] = {}
    for c in (inc.get("causes") or [])[:top]:
        if isinstance(c, Mapping):
            for sig, value in cause_lines.get(str(c.get("id")), {}).items():
                out.setdefault(sig, value)
    return out


def _key_signals(result: Mapping, cause_signals: Mapping[str, Sequence[str]], top: int):
    """A function of some incidents: the signals their top causes read, most cited first.
    Without incidents, the signals of every cause (what would have been looked at)."""

    def key(incidents: list) -> list[str]:
        ids = [str(c.get("id")) for inc in incidents
               for c in (inc.get("causes") or [])[:top] if isinstance(c, Mapping)]
        if not incidents:
            ids = list(cause_signals)
        return list(dict.fromkeys(s for i in ids for s in cause_signals.get(i, ())))

    return key


def _signal_names(frames: Mapping, incidents: list, cap: int, key: Sequence[str]) -> list[str]:
    """The top causes' signals first (absent ones still get a "no data" panel), then the
    signals the evidence cites, then any other collected signal, up to ``cap`` panels."""
    cited = [str(e.get("source"))[7:] for inc in incidents for c in inc.get("causes") or []
             for e in c.get("evidence") or []
             if isinstance(e, Mapping) and str(e.get("source")).startswith("signal:")]
    names = [*key, *cited, *(k for k in frames if k != "requests")]
    return list(dict.fromkeys(n for n in names if n))[:cap]


def _window(window: Mapping, frames: Mapping, spans: list[Span]):
    """The report window from the result, else the extent of the data and incidents."""
    since, until = _instant(window.get("since")), _instant(window.get("until"))
    if since is not None and until is not None and since < until:
        return since, until
    times = [t for s in spans for t in (s.start, s.end)]
    for df in frames.values():
        if isinstance(df, pd.DataFrame) and len(df) and isinstance(df.index, pd.DatetimeIndex):
            times += [df.index.min(), df.index.max()]
    times = [pd.Timestamp(t).tz_convert("UTC") for t in times if t is not None]
    if not times:
        return None, None
    pad = pd.Timedelta(minutes=5) if min(times) == max(times) else pd.Timedelta(0)
    return min(times) - pad, max(times) + pad


def _verdict(incidents: list[dict]) -> list[tuple[str, int]]:
    """How often each cause ranks first, for the one-line answer at the top."""
    tops = Counter(i["top"]["id"] for i in incidents
                   if i["top"] and i["top"]["status"] == "ok" and float(i["top"]["score"]) > 0)
    return tops.most_common()


def _collection(c: Mapping, zone: tzinfo) -> dict:
    tables = c.get("tables") if isinstance(c.get("tables"), Mapping) else {}
    malformed = c.get("malformed") if isinstance(c.get("malformed"), Mapping) else {}
    gaps = [g for g in c.get("gaps") or [] if isinstance(g, Mapping)]
    return {"tables": [(str(k), _value(v)) for k, v in tables.items()],
            "malformed": [(str(k), _value(v)) for k, v in malformed.items()],
            # what a live source could not read (403 on a namespace, expired events), for
            # which part of the window
            "gaps": [(str(g.get("source") or ""), str(g.get("what") or ""),
                      _span(_instant(g.get("since")), _instant(g.get("until")), zone),
                      str(g.get("reason") or "")) for g in gaps],
            "malformed_total": sum(v for v in malformed.values() if isinstance(v, int))}


def _gaps(gaps: list) -> list[tuple[str, str]]:
    return [(str(g.get("source") or ""), str(g.get("message") or "")) if isinstance(g, Mapping)
            else ("", str(g)) for g in gaps]


def _unchecked(day, incidents: list[dict]) -> list[tuple[str, str]]:
    """What the page itself could not show: empty plot panels and causes not judged."""
    out = [(name, "no data for the timeline plot") for name in (day.no_data if day else [])]
    out += [(f"{i['id']} · {c['id']}", f"{c['status_label']}: {c['summary']}")
            for i in incidents for c in i["causes"] if c["status"] != "ok"]
    return out


def _symptom(key: str, value: Any) -> tuple[str, str]:
    for suffix, unit in _UNITS:
        if key.endswith(suffix) and isinstance(value, int | float) and not isinstance(value, bool):
            return key[: -len(suffix)].replace("_", " "), f"{_value(value)} {unit}"
    return key.replace("_", " "), _value(value)


def _items(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [] if value in (None, "") else [str(value)]


def _get(row: Mapping, column: str) -> Any:
    return next((v for k, v in row.items() if str(k) == column), None)


def _value(v: Any, zone: tzinfo | None = None) -> str:
    """A cell as text: rounded numbers, local times, '—' for nothing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    if isinstance(v, str) and zone is not None and _ISO.match(v):
        ts = _instant(v)
        return _local(ts, zone) if ts is not None else v
    if isinstance(v, Mapping | list | tuple):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def _score(v: Any) -> float:
    try:
        s = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(s) else min(1.0, max(0.0, s))


def _instant(v: Any) -> pd.Timestamp | None:
    """A contract time as UTC; zone-less text is read as UTC, the record's convention."""
    if v is None or v == "":
        return None
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _local(ts: pd.Timestamp, zone: tzinfo) -> str:
    s = to_display(ts, zone)  # 2021-08-23T11:03:01+08:00
    return f"{s[:10]} {s[11:19]} {s[19:]}"


def _span(start: pd.Timestamp | None, end: pd.Timestamp | None, zone: tzinfo) -> str:
    """``2021-08-23 11:03:01 – 11:06:40 +08:00 (3 min 39 s)``: the date and offset once."""
    if start is None and end is None:
        return ""
    if start is None or end is None:
        return ("until " if start is None else "from ") + _local(start or end, zone)
    a, b = _local(start, zone), _local(end, zone)
    text = f"{a[:19]} – {b[11:]}" if a[:10] == b[:10] and a[20:] == b[20:] else f"{a} – {b}"
    return f"{text} ({_duration(end - start)})"


def _duration(d: pd.Timedelta) -> str:
    s = int(round(d.total_seconds()))
    if s < 90:
        return f"{s} s"
    if s < 90 * 60:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
