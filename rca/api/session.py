"""``rca.open``: one analysed window of a store, as DataFrames in the user's zone.

Why a facade: the notebook, a user's own scripts and the ``rca analyze`` / ``rca report``
commands all read the record and the analysis through this one object, so what a person
types in a notebook cannot drift from what the report says. Everything it returns is a
pandas object whose time index is tz-aware, in the zone the session was opened with
(the same instants as the UTC store).

Example (the replay's store is built by the test fixture; any store works the same)::

    >>> s = rca.open(STORE, since="2021-08-23T00:00:00", until="2021-08-24T00:00:00",
    ...              tz="Asia/Shanghai")
    >>> s.incidents["start"].dt.strftime("%H:%M:%S").tolist()   # local time, as paged
    ['11:03:21', '13:29:54', '14:35:04', '15:54:43', '16:03:46']
    >>> s.incidents["top_cause"].unique().tolist()
    ['dns.resolver_timeout']
    >>> slow = s.requests(side="client", min_latency=5)
    >>> slow.index[0].isoformat()[-6:], sorted(slow["status"].unique())
    ('+08:00', ['timeout'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, tzinfo
from functools import cached_property
from typing import Any

import pandas as pd

from rca import signals as declared
from rca.api.incident import IncidentView
from rca.api.select import local, select
from rca.causes import Cause
from rca.config import Config
from rca.config import load as load_config
from rca.engine import analyze, load_record, signal_timeline
from rca.finding import Analysis, Incident, Record
from rca.jsonout import analysis_to_dict
from rca.store import Store, StoreError
from rca.timeutil import get_zone, parse_since

__all__ = ["Session", "open"]

When = str | datetime | pd.Timestamp


def open(store: str | os.PathLike | Store, since: When = "24h", until: When | None = None,
         tz: str | None = None, config: str | os.PathLike | Config | None = None,
         causes: Mapping[str, Cause] | None = None) -> Session:
    """Open ``[since, until)`` of ``store`` for drill-down.

    ``since`` is ``24h``/``90m``/``7d`` before ``until`` or a time; ``until`` defaults to
    now; a zone-less time is read in ``tz``. ``tz`` defaults to the config's (an IANA
    name, ``UTC`` or ``+08:00``). ``config`` is a file or a loaded ``Config`` (default:
    ``$RCA_CONFIG``, ``./rca.yaml`` or the defaults). Raises ``StoreError`` when the
    store does not exist, so a typo is not an empty day."""
    root = store if isinstance(store, Store) else Store(store)
    if isinstance(config, Config):
        cfg = config
    else:
        cfg = load_config(os.fspath(config) if config is not None else None,
                          {"tz": tz, "store": str(root.root)})
    zone = get_zone(tz or cfg.get("tz"))
    end = _instant(until, zone) if until is not None else pd.Timestamp.now(tz="UTC")
    start = _instant(since, zone, end)
    if start >= end:
        raise ValueError(f"since ({start}) must be before until ({end})")
    if not root.exists():
        raise StoreError(f"store {root.root} not found: collect into it first "
                         "(rca collect --store …)")
    return Session(root, cfg, start, end, causes=causes, zone=zone)


def _instant(value: When, zone: tzinfo, now: pd.Timestamp | None = None) -> pd.Timestamp:
    if isinstance(value, str):
        return parse_since(value, now if now is not None else pd.Timestamp.now(tz="UTC"), zone)
    ts = pd.Timestamp(value)
    return (ts.tz_localize(zone) if ts.tzinfo is None else ts).tz_convert("UTC")


class Session:
    """An analysed window of a store. Build one with ``rca.open``; the analysis runs on
    first use of ``incidents``/``incident``/``analysis`` and is kept."""

    def __init__(self, store: Store, config: Config, since: pd.Timestamp, until: pd.Timestamp,
                 causes: Mapping[str, Cause] | None = None, zone: tzinfo | None = None) -> None:
        self.store, self.config, self._causes = store, config, causes
        self.tz: str = str(config.get("tz"))
        self.zone: tzinfo = zone or get_zone(self.tz)
        self.since: pd.Timestamp = since.tz_convert(self.zone)
        self.until: pd.Timestamp = until.tz_convert(self.zone)

    def __repr__(self) -> str:
        return (f"<rca.Session {self.store.root} {self.since.isoformat()} … "
                f"{self.until.isoformat()} tz={self.tz}>")

    # -- the analysis ------------------------------------------------------------------
    @cached_property
    def record(self) -> Record:
        """The record the engine reads: the window and a baseline before it (UTC)."""
        return load_record(self.store, self.since.tz_convert("UTC"),
                           self.until.tz_convert("UTC"), self.config)

    @cached_property
    def analysis(self) -> Analysis:
        """The engine's result, as ``rca analyze`` computes it."""
        return analyze(self.record, self.config, self._causes)

    def to_dict(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The stable JSON contract (``rca analyze -o json``), times in the session zone."""
        return analysis_to_dict(self.analysis, self.zone, extra)

    @property
    def incidents(self) -> pd.DataFrame:
        """One row per incident, indexed by id: when, where, how bad, the top cause."""
        rows = [_incident_row(i) for i in self.analysis.incidents]
        df = pd.DataFrame(rows, columns=list(_INCIDENT_COLUMNS))
        for col in ("start", "end"):
            df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(self.zone)
        return df.set_index("id")

    @property
    def gaps(self) -> pd.DataFrame:
        """What was not collected, so no cause could look at it (never "healthy")."""
        return pd.DataFrame(self.analysis.gaps, columns=["source", "message"])

    def incident(self, key: str | int) -> IncidentView:
        """One incident by id (``"INC-…"``) or by its position in ``incidents``."""
        found = self.analysis.incidents
        if isinstance(key, int) and not isinstance(key, bool):
            if not -len(found) <= key < len(found):
                raise IndexError(f"incident #{key}: the window has {len(found)} incident(s)")
            return IncidentView(self, found[key])
        for inc in found:
            if inc.id == key:
                return IncidentView(self, inc)
        known = ", ".join(i.id for i in found) or "none in this window"
        raise KeyError(f"no incident {key!r} (incidents: {known})")

    def suspects(self, key: str | int) -> pd.DataFrame:
        """The metric series that moved most at the incident's onset (rule-free)."""
        return self.incident(key).suspects

    # -- the record --------------------------------------------------------------------
    def requests(self, **filters: Any) -> pd.DataFrame:
        """Request log rows of the window; filters as ``rca.api.select.select``
        (``station``, ``service``, ``status``, ``min_latency``, ``max_latency``, ``side``…)."""
        return self._table("requests", self.since, self.until, filters)

    def events(self, **filters: Any) -> pd.DataFrame:
        """Kubernetes events of the window (``pod``, ``node``, ``reason``, ``namespace``…)."""
        return self._table("events", self.since, self.until, filters)

    def metrics(self, **filters: Any) -> pd.DataFrame:
        """Raw metric samples of the window (``name``, ``pod``, ``node``, ``entity``…)."""
        return self._table("metrics", self.since, self.until, filters)

    def signal(self, name: str, entity: str | None = None) -> pd.DataFrame:
        """A declared signal (``rca.signals.SIGNALS``) over the window, one column per
        entity, or an empty frame when its metrics were not collected."""
        return self._signal(name, self.since, self.until, entity)

    # -- shared with IncidentView --------------------------------------------------------
    def _table(self, table: str, start: pd.Timestamp, end: pd.Timestamp,
               filters: Mapping[str, Any]) -> pd.DataFrame:
        df = self.record.tables.get(table)
        if df is None:
            df = self.store.load(table)
        df = df[(df.index >= start) & (df.index < end)]
        return local(select(df, **filters), self.zone)

    def _signal(self, name: str, start: pd.Timestamp, end: pd.Timestamp,
                entity: str | None) -> pd.DataFrame:
        if name not in declared.SIGNALS:
            raise KeyError(f"unknown signal {name!r}; declared: {', '.join(declared.SIGNALS)}")
        metrics = self.record.tables["metrics"]
        series = signal_timeline(metrics, [name], start.tz_convert("UTC"),
                                 end.tz_convert("UTC")).get(name)
        if series is None or series.empty:
            return pd.DataFrame(index=pd.DatetimeIndex([], tz=self.zone, name="time"))
        series = series[(series.index >= start) & (series.index < end)]
        if entity is not None:
            series = select(series, entity=entity)
        wide = series.reset_index().pivot_table(index="time", columns="entity", values="value")
        wide.columns.name = name
        return local(wide, self.zone)


_INCIDENT_COLUMNS = ("id", "start", "end", "duration", "stations", "services", "failed",
                     "top_cause", "score", "status", "explained")


def _incident_row(inc: Incident) -> dict[str, Any]:
    top = inc.causes[0] if inc.causes else None
    return {"id": inc.id, "start": inc.start, "end": inc.end, "duration": inc.end - inc.start,
            "stations": ", ".join(inc.scope.get("stations", [])),
            "services": ", ".join(inc.scope.get("services", [])),
            "failed": inc.symptoms.get("failed_requests", 0),
            "top_cause": top.id if top else "", "score": round(top.score, 3) if top else 0.0,
            "status": top.status if top else "", "explained": not inc.unexplained}
