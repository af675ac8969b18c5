"""One incident for drill-down: its ranked causes, their evidence, and the rows behind it.

Why a view over the engine's ``Incident`` rather than a copy: the ranking, the evidence
and the suspects are exactly what ``rca analyze`` and the report show; this only reshapes
them into DataFrames in the user's zone and slices the record around the incident.

Example (``s`` as in ``rca.api.session``)::

    >>> inc = s.incident(0)
    >>> inc.causes.iloc[0][["cause", "status"]].tolist()
    ['dns.resolver_timeout', 'ok']
    >>> bool(inc.evidence["supports"].any()), inc.requests().index[0].isoformat()[-6:]
    (True, '+08:00')
    >>> inc.signals()[:2]   # the top causes' declared signals, first cause's first
    ['conntrack_insert_failed_per_second', 'conntrack_drop_per_second']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from rca.finding import Finding, Incident
from rca.report.figures import Span, draw_timeline

if TYPE_CHECKING:
    from rca.api.session import Session

__all__ = ["IncidentView"]

#: Context either side of the incident in its tables and plot: enough to see the quiet
#: before and after a 1-5 minute alarm, as the report's zooms do.
CONTEXT = pd.Timedelta(minutes=5)

#: Signal panels under the request latency in ``plot``: the top causes' declared signals.
TOP_CAUSES = 2


class IncidentView:
    """An incident of a ``Session``; ``start``/``end`` are in the session's zone."""

    def __init__(self, session: Session, incident: Incident) -> None:
        self._s, self.raw = session, incident
        self.id: str = incident.id
        self.start: pd.Timestamp = incident.start.tz_convert(session.zone)
        self.end: pd.Timestamp = incident.end.tz_convert(session.zone)
        self.scope: dict[str, Any] = dict(incident.scope)
        self.symptoms: dict[str, Any] = dict(incident.symptoms)
        self.unexplained: str = incident.unexplained

    def __repr__(self) -> str:
        top = self.raw.causes[0].id if self.raw.causes else "no cause"
        return f"<rca.IncidentView {self.id} {self.start.isoformat()} … top: {top}>"

    @property
    def causes(self) -> pd.DataFrame:
        """Every cause in the engine's order (judged by score, then the unjudged)."""
        rows = [{"rank": n, "cause": f.id, "status": f.status, "score": round(f.score, 3),
                 "entity": f.entity, "summary": f.summary,
                 "for": sum(e.supports for e in f.evidence),
                 "against": sum(not e.supports for e in f.evidence), "fix": f.fix}
                for n, f in enumerate(self.raw.causes, 1)]
        return pd.DataFrame(rows, columns=["rank", "cause", "status", "score", "entity",
                                           "summary", "for", "against", "fix"])

    @property
    def evidence(self) -> pd.DataFrame:
        """Each observation for or against each cause, in rank order, with its time range
        and the number of record rows behind it (``finding(cause)`` has the rows)."""
        rows = [{"cause": f.id, "supports": e.supports, "text": e.text,
                 "start": self._local(e.start), "end": self._local(e.end),
                 "source": e.source, "rows": len(e.rows)}
                for f in self.raw.causes for e in f.evidence]
        df = pd.DataFrame(rows, columns=["cause", "supports", "text", "start", "end",
                                         "source", "rows"])
        for col in ("start", "end"):
            df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(self._s.zone)
        return df

    @property
    def suspects(self) -> pd.DataFrame:
        """Series that moved most at the onset, by robust z-score (rule-free)."""
        return pd.DataFrame(self.raw.suspects, columns=["entity", "series", "before", "during",
                                                       "change", "score"])

    def finding(self, cause: str) -> Finding:
        """The engine's finding for one cause id (with evidence rows)."""
        for f in self.raw.causes:
            if f.id == cause:
                return f
        raise KeyError(f"no cause {cause!r} (judged: {', '.join(f.id for f in self.raw.causes)})")

    def requests(self, **filters: Any) -> pd.DataFrame:
        """Request log rows from 5 minutes before to 5 minutes after; filters as
        ``Session.requests``."""
        return self._s._table("requests", *self._around(), filters)

    def events(self, **filters: Any) -> pd.DataFrame:
        """Kubernetes events around the incident; filters as ``Session.events``."""
        return self._s._table("events", *self._around(), filters)

    def signal(self, name: str, entity: str | None = None) -> pd.DataFrame:
        """A declared signal around the incident, one column per entity."""
        return self._s._signal(name, *self._around(), entity)

    def signals(self, top: int = TOP_CAUSES) -> list[str]:
        """The signals the ``top`` ranked causes declare they read (the plot's panels)."""
        registry = self._causes()
        names = [s for f in self.raw.causes[:top] if f.id in registry
                 for s in registry[f.id].signals()]
        return list(dict.fromkeys(names))

    def plot(self, signals: list[str] | None = None) -> Figure:
        """The symptom (request latency, failures ringed) over the top causes' signals on
        one time axis in the session's zone, the incident shaded, as the report draws it."""
        t0, t1 = (t.tz_convert("UTC") for t in self._around())
        names = self.signals() if signals is None else list(signals)
        reqs = self._s.record.tables["requests"]
        frames = {n: self._signal_long(n, t0, t1) for n in names}
        fig, _ = draw_timeline(reqs, frames, names, [Span(self.id, self.raw.start, self.raw.end)],
                               t0, t1, self._s.zone, self._s.tz, compact=True)
        fig.suptitle(f"{self.id}: {self.raw.causes[0].id if self.raw.causes else 'no cause'}",
                     x=0.01, ha="left", fontsize=10)
        return fig

    def _signal_long(self, name: str, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame | None:
        wide = self._s._signal(name, t0, t1, None)
        if wide.empty:
            return None
        long = wide.tz_convert("UTC").stack().rename("value").reset_index(level=1)
        return long.rename(columns={name: "entity"})[["entity", "value"]]

    def _causes(self) -> dict:
        from rca.causes import REGISTRY

        return self._s._causes if self._s._causes is not None else REGISTRY

    def _around(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return self.start - CONTEXT, self.end + CONTEXT

    def _local(self, ts: pd.Timestamp | None) -> pd.Timestamp | None:
        return None if ts is None else pd.Timestamp(ts).tz_convert(self._s.zone)
