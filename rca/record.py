"""The record: the four time-indexed tables every collector fills and every rule reads.

Why a fixed schema: collectors (files today, live APIs later) and causes are written by
different people at different times. The only thing they share is this module, so a
collector that emits a column with the wrong name or type fails here, at the boundary,
instead of silently producing a cause that never fires.

Every table has a UTC ``DatetimeIndex`` named ``time`` and a string ``row_id`` column:
the identity of the row in its source. The store de-duplicates on ``row_id`` (keeping the
latest write), which is what makes re-collecting the same window idempotent.

Tables
------
events    one row per Kubernetes event or discrete log event (probe failure, SIGTERM,
          broken pipe). ``time`` is ``last_seen``, or the end of the collected window
          for an event that was active in it and repeated after it.
metrics   one row per sample: ``name`` is a raw metric name (from a file or a remote
          read) or a signal name (already evaluated, e.g. by PromQL); ``labels`` is the
          canonical JSON of the sample's labels; ``entity`` is where it sits, kubectl
          style (``node/worknode1``), derived from the labels.
requests  one row per request seen in a log. ``side`` is ``client`` (the caller's view:
          station logs) or ``server`` (ingress, the app, RGW). ``status`` is the HTTP code
          as text, or ``timeout`` / ``error`` when the caller gave up.
dns       one row per DNS query seen in a DNS server's query log (CoreDNS ``log``):
          client socket, query id, type, name, rcode, latency. Typed, because a lost
          lookup is recognised by the same socket asking the same name again.
objects   facts about pods, deployments and nodes at collection time: restart counts,
          last termination reason, probe settings, replicas.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DNS_SERVICE",
    "between",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "RecordError",
    "canonical_labels",
    "empty",
    "frame",
    "repeating",
    "request_start",
    "row_id",
    "validate",
]

#: ``requests.service`` that names a DNS server: its queries live in the ``dns`` table, and
#: requests to it (if any source logs them as requests) are not the application traffic
#: whose failures make an incident.
DNS_SERVICE = "coredns"

#: Bumped when a column changes meaning or type. The store refuses newer versions and
#: migrates older ones it knows (see ``rca.store``).
SCHEMA_VERSION = 2  # 2: DNS queries in their own typed table


class RecordError(ValueError):
    """A frame does not match the record schema."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # "string", "float", "int", "time"
    doc: str
    #: few distinct values over many rows (metric names, entities, label sets): the store reads
    #: the column as a pandas categorical (a code per row), a tenth of the memory of a
    #: string per row on a week of samples. Rules read it as they read strings.
    repeats: bool = False


_COMMON = (Column("row_id", "string", "identity of the row in its source; the store dedupes"),)

TABLES: dict[str, tuple[Column, ...]] = {
    "events": _COMMON
    + (
        Column("source", "string", "kube (API event) or log (discrete log event)"),
        Column("type", "string", "Normal / Warning for kube events; severity for logs"),
        Column("kind", "string", "kind of the involved object: Pod, Node, Deployment…"),
        Column("reason", "string", "machine-readable reason: Unhealthy, Killing, BrokenPipe…"),
        Column("object", "string", "involved object, kubectl style: pod/<ns>/<name>"),
        Column("namespace", "string", "namespace of the involved object, '' if cluster-scoped"),
        Column("node", "string", "node the event happened on, '' if unknown"),
        Column("message", "string", "human message as reported"),
        Column("count", "int", "how many times the event repeated"),
        Column("first_seen", "time", "first occurrence, UTC"),
        Column("last_seen", "time", "last occurrence, UTC (also the index)"),
    ),
    "metrics": _COMMON
    + (
        Column("name", "string", "raw metric name or signal name", repeats=True),
        Column("entity", "string",
               "where the sample sits, kubectl style: node/x, pod/ns/name", repeats=True),
        Column("labels", "string", "canonical JSON of the sample's labels", repeats=True),
        Column("value", "float", "sample value"),
    ),
    "requests": _COMMON
    + (
        Column("side", "string", "client (caller's view) or server (ingress, app, rgw)"),
        Column("station", "string", "client identity: station, client IP or user"),
        Column("service", "string", "service called"),
        Column("latency_s", "float", "time to response or to giving up, seconds"),
        Column("status", "string", "HTTP code as text, or timeout / error"),
        Column("bytes", "float", "bytes sent or received, NaN if unknown"),
        Column("request_id", "string", "request id if logged"),
        Column("upstream", "string", "upstream address the request went to, if logged"),
        Column("source", "string", "file (or stream) and line the row came from"),
    ),
    "dns": _COMMON
    + (
        Column("client_ip", "string", "address the query came from (a pod, a node)"),
        Column("client_port", "int", "source port: one resolver socket; a retry reuses it"),
        Column("query_id", "int", "DNS message id"),
        Column("qtype", "string", "A, AAAA, SRV, PTR…"),
        Column("name", "string", "the name asked, fully qualified with its trailing dot"),
        Column("proto", "string", "udp or tcp"),
        Column("rcode", "string", "NOERROR, NXDOMAIN, SERVFAIL…; '' when no answer was sent"),
        Column("latency_s", "float", "time to answer (CoreDNS duration), seconds"),
        Column("server", "string", "the DNS server that logged it (file or pod), if known"),
        Column("source", "string", "file (or stream) and line the row came from"),
    ),
    "objects": _COMMON
    + (
        Column("kind", "string", "Pod, Deployment, Node"),
        Column("object", "string", "kubectl style: pod/<ns>/<name>, node/<name>"),
        Column("namespace", "string", "namespace, '' if cluster-scoped"),
        Column("node", "string", "node a pod runs on; the node itself for nodes"),
        Column("app", "string", "app label (app.kubernetes.io/name, app, k8s-app)"),
        Column("container", "string", "container name for per-container facts, else ''"),
        Column("restarts", "float", "container restart count"),
        Column("last_termination_reason", "string", "e.g. OOMKilled, Error, Completed"),
        Column("last_termination_at", "time", "when the last termination finished, UTC"),
        Column("liveness_timeout_s", "float", "liveness probe timeoutSeconds"),
        Column("liveness_period_s", "float", "liveness probe periodSeconds"),
        Column("liveness_failure_threshold", "float", "liveness probe failureThreshold"),
        Column("readiness_timeout_s", "float", "readiness probe timeoutSeconds"),
        Column("replicas", "float", "desired replicas (deployments)"),
        Column("ready_replicas", "float", "ready replicas (deployments)"),
        Column("detail", "string", "JSON of further facts (limits, images, conditions)"),
    ),
}


def _empty_series(col: Column) -> pd.Series:
    if col.dtype == "float":
        return pd.Series([], dtype="float64")
    if col.dtype == "int":
        return pd.Series([], dtype="int64")
    if col.dtype == "time":
        return pd.Series([], dtype="datetime64[ns, UTC]")
    return pd.Series([], dtype=str)


def empty(table: str) -> pd.DataFrame:
    """An empty frame with the table's columns, types and a UTC index."""
    cols = TABLES[table]
    df = pd.DataFrame({c.name: _empty_series(c) for c in cols})
    df.index = pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ns")
    return df


def frame(table: str, rows: Iterable[Mapping], time_key: str = "time") -> pd.DataFrame:
    """Build a validated frame from dict rows, each carrying a timezone-aware ``time``.

    Missing columns get their empty value ('' / NaN), so a collector only fills what its
    source knows.
    """
    rows = list(rows)
    if not rows:
        return empty(table)
    df = pd.DataFrame.from_records(rows)
    if time_key not in df:
        raise RecordError(f"{table}: rows carry no '{time_key}'")
    times = pd.to_datetime(df.pop(time_key), utc=True)
    df.index = pd.DatetimeIndex(times, name="time")
    return validate(table, df)


def validate(table: str, df: pd.DataFrame, ids: bool = True) -> pd.DataFrame:
    """Coerce ``df`` to the table's schema, or raise ``RecordError`` naming the field.
    ``ids=False``: the schema without ``row_id`` (the record analysis reads, see
    ``rca.engine.load_record``)."""
    if table not in TABLES:
        raise RecordError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None:
        raise RecordError(f"{table}: index must be a timezone-aware DatetimeIndex")
    cols = _columns(table, ids)
    if _conforms(cols, df):
        return df  # already the schema (a frame the store wrote): no copy of a week
    out = pd.DataFrame(index=df.index.tz_convert("UTC").as_unit("ns").rename("time"))
    for col in cols:
        values = df[col.name] if col.name in df else None
        out[col.name] = _coerce(table, col, values, len(df))
    extra = set(df.columns) - {c.name for c in cols}
    if extra:
        raise RecordError(f"{table}: unknown columns {sorted(extra)}")
    if ids and out["row_id"].eq("").any():
        raise RecordError(f"{table}: every row needs a row_id")
    return out


def _columns(table: str, ids: bool) -> tuple[Column, ...]:
    return TABLES[table] if ids else tuple(c for c in TABLES[table] if c.name != "row_id")


_DTYPES = {"float": "float64", "int": "int64", "time": "datetime64[ns, UTC]"}


def _conforms(cols: tuple[Column, ...], df: pd.DataFrame) -> bool:
    """Exactly the columns, in order, each of its type, strings without missing values, a
    UTC nanosecond index named ``time`` and every ``row_id`` (if one of them) set."""
    if list(df.columns) != [c.name for c in cols] or df.index.name != "time" \
            or str(df.index.dtype) != "datetime64[ns, UTC]":
        return False
    for col in cols:
        values = df[col.name]
        if col.dtype in _DTYPES:
            if str(values.dtype) != _DTYPES[col.dtype]:
                return False
        elif not _is_text(values, col):
            return False
    return "row_id" not in df or not df["row_id"].eq("").any()


def _is_text(values: pd.Series, col: Column) -> bool:
    """Strings without missing values: pandas strings, or for a column that ``repeats``
    the categorical the store reads it as (categories strings, no missing code)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return col.repeats and pd.api.types.is_string_dtype(dtype.categories.dtype) \
            and dtype.categories.dtype != np.dtype("O") and not (values.cat.codes < 0).any()
    return pd.api.types.is_string_dtype(dtype) and dtype != np.dtype("O") \
        and not values.isna().any()


def repeating(table: str) -> list[str]:
    """The table's columns the store reads as categoricals (``Column.repeats``)."""
    return [c.name for c in TABLES[table] if c.repeats]


def _coerce(table: str, col: Column, values, n: int):
    try:
        if col.dtype == "float":
            if values is None:
                return [float("nan")] * n
            return pd.to_numeric(values, errors="raise").astype("float64").array
        if col.dtype == "int":
            if values is None:
                return [0] * n
            return pd.to_numeric(values, errors="raise").fillna(0).astype("int64").array
        if col.dtype == "time":
            if values is None:
                return pd.DatetimeIndex([pd.NaT] * n, tz="UTC").as_unit("ns")
            return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("ns")
        if values is None:
            return [""] * n
        if isinstance(values.dtype, pd.CategoricalDtype):  # "" may not be a category
            values = values.astype(object)
        return values.fillna("").astype(str).array
    except (ValueError, TypeError) as exc:
        raise RecordError(f"{table}.{col.name}: cannot read as {col.dtype}: {exc}") from exc


def status_codes(status: pd.Series) -> pd.Series:
    """The ``status`` column as numbers (NaN for ``timeout``, ``error``, DNS rcodes).
    A handful of distinct strings in millions of rows: each is parsed once."""
    codes, distinct = pd.factorize(status)
    numeric = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce").to_numpy()
    return pd.Series(np.append(numeric.astype("float64"), np.nan)[codes], index=status.index)


def request_start(requests: pd.DataFrame) -> pd.Series:
    """When each request began: ``time - latency_s`` (the logged time if latency is NaN).

    Why: nginx, ingress-nginx, RGW and CoreDNS log a request when it *ends*, and the
    ``requests`` table keeps the time as logged. Two 504s logged at 03:01:00 after 15 s
    began at 03:00:45: incident windows and client/server matching should use this.
    """
    latency = pd.to_timedelta(requests["latency_s"].fillna(0.0).clip(lower=0.0), unit="s")
    return pd.Series(requests.index - latency.to_numpy(), index=requests.index, name="start")


def between(df: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None
            ) -> pd.DataFrame:
    """Rows with ``start <= time < end``. On a sorted index a binary search and a slice, not a
    mask over every row: the engine cuts a week-long table once per incident."""
    if df.empty:
        return df
    index = df.index
    if not index.is_monotonic_increasing:
        keep = np.ones(len(df), dtype=bool)
        if start is not None:
            keep &= index >= start
        if end is not None:
            keep &= index < end
        return df[keep]
    lo = index.searchsorted(start, side="left") if start is not None else 0
    hi = index.searchsorted(end, side="left") if end is not None else len(df)
    return df.iloc[lo:hi]


def canonical_labels(labels: Mapping[str, str]) -> str:
    """Labels as sorted compact JSON, so equal label sets compare equal as strings."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


def row_id(*parts: object) -> str:
    """A short stable hash of the parts that make a row unique in its source.

    The parts are hashed as their tuple's ``repr``: quoted and comma-separated, so
    ("ab", "") and ("a", "b") never hash alike, and built in C, so it stays cheap on the
    millions of rows of a large log.
    """
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"),
                           digest_size=10).hexdigest()
