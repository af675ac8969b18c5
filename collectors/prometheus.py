"""Prometheus (and engines with its HTTP API: Thanos, Mimir, VictoriaMetrics) as a live source.

Why evaluated signals instead of raw samples: a day of a 1,000-node cluster is millions of
raw series points; the causes only read the declared signals (``rca.signals``), each an
aggregation that the server computes far faster than we could after downloading
everything. So each signal is one PromQL range query per chunk of the window
(``collectors.promql_plan``), its aggregation pushed down, returning per-node /
per-service series; the rows are stored under the signal's name in ``metrics`` and the
engine takes them as collected (``rca.engine.signal_timeline``).

``node_nf_conntrack_stat_*`` is typed GAUGE by node_exporter but counts up since boot:
the signals ``rate`` it, which treats any drop as a counter reset (a node reboot), exactly
as the offline evaluator does.

A failed query (HTTP error, timeout, refused range) or a signal with no series at all
becomes a named ``Gap`` in the batch, never an exception: the other signals and sources
still land, and the report says what is missing and why. Queries run concurrently with a
bound (``concurrency``) so a large cluster is not hit by dozens at once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from collectors import http_auth
from collectors.base import Batch, ParseContext
from collectors.promql_plan import Query, plan, restore_labels
from rca import live, record
from rca.config import Config
from rca.signals import SIGNALS, Signal

__all__ = ["PrometheusSource", "Settings", "settings_from", "shape"]

NAME = "prometheus"


@dataclass(frozen=True)
class Settings:
    """One Prometheus-compatible endpoint and how to query it (from ``sources.prometheus``)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    verify: bool | str = True
    step_s: int = 60
    max_points: int = 11_000
    max_range_s: int = 86_400
    concurrency: int = 4
    timeout_s: float = 60.0
    retries: int = 2
    hole_s: float = 900.0
    metric_names: dict[str, str] = field(default_factory=dict)
    label_names: dict[str, str] = field(default_factory=dict)
    signals: tuple[str, ...] = ()  # empty: every declared signal
    raw_metrics: dict[str, list[str]] = field(default_factory=dict)  # metric -> kept labels


def settings_from(config: Config, flags: live.Flags) -> Settings | None:
    """Settings from ``sources.prometheus`` with the flags on top; ``None`` if no URL."""
    sec = config.get("sources.prometheus")
    url = flags.get("prometheus", sec["url"])
    if not url:
        return None
    unknown = [s for s in sec["signals"] if s not in SIGNALS]
    if unknown:
        raise live.SourceError(f"sources.prometheus.signals: unknown {', '.join(unknown)} "
                               f"(declared: {', '.join(SIGNALS)})")
    try:
        hdrs = {**sec["headers"],
                **http_auth.parse_header_flags(flags.get("prometheus_header", []))}
        return Settings(
            url=url.rstrip("/"),
            headers=http_auth.headers(hdrs, flags.get("prometheus_token_file",
                                                       sec["bearer_token_file"]),
                                      sec["bearer_token_env"], NAME),
            verify=http_auth.verify(flags.get("prometheus_ca_file", sec["ca_file"]),
                                    bool(flags.get("insecure", sec["insecure"]))),
            step_s=int(sec["step_s"]), max_points=int(sec["max_points"]),
            max_range_s=int(sec["max_range_s"]), concurrency=max(1, int(sec["concurrency"])),
            timeout_s=float(sec["timeout_s"]), retries=int(sec["retries"]),
            hole_s=float(sec["hole_s"]),
            metric_names=dict(sec["metric_names"]), label_names=dict(sec["label_names"]),
            signals=tuple(sec["signals"]), raw_metrics=dict(sec["raw_metrics"]))
    except http_auth.AuthError as exc:
        raise live.SourceError(f"prometheus: {exc}") from None


class PrometheusSource:
    """Every wanted signal for a window, as evaluated rows in ``metrics``."""

    def __init__(self, settings: Settings, client: PrometheusConnect | None = None) -> None:
        self.settings = settings
        self.name = f"{NAME} {http_auth.redact(settings.url, {})}"
        self._client = client

    def client(self) -> PrometheusConnect:
        if self._client is None:
            s = self.settings
            session = requests.Session()
            session.verify = s.verify
            retry = Retry(total=s.retries, backoff_factor=0.5, backoff_jitter=0.25,
                          status_forcelist=(429, 502, 503, 504), allowed_methods=None)
            self._client = PrometheusConnect(s.url, headers=s.headers, session=session,
                                             retry=retry, timeout=s.timeout_s)
        return self._client

    def wanted(self) -> dict[str, Signal]:
        """The declared signals, plus each raw metric a detector reads itself (restart
        counters), kept per its listed labels (``max by``) and stored under its own name."""
        s = self.settings
        out = {n: SIGNALS[n] for n in (s.signals or SIGNALS)}
        for metric, labels in s.raw_metrics.items():
            out[metric] = Signal(metric, "raw series read by a detector", "gauge", metric,
                                 by=tuple(labels), agg="max")
        return out

    def queries(self, since: pd.Timestamp, until: pd.Timestamp) -> list[Query]:
        s = self.settings
        wanted = list(self.wanted().values())
        return plan(wanted, since, until, step_s=s.step_s, max_points=s.max_points,
                    max_range_s=s.max_range_s, metrics=s.metric_names, labels=s.label_names)

    def fetch(self, since: pd.Timestamp, until: pd.Timestamp,
              ctx: ParseContext) -> Iterator[Batch]:
        """One batch per signal, as its chunks come back (concurrently, bounded)."""
        by_signal: dict[str, list[Query]] = {}
        for q in self.queries(since, until):
            by_signal.setdefault(q.signal, []).append(q)
        wanted = self.wanted()
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="promql") as pool:
            running = {name: [pool.submit(self._run, q) for q in qs]
                       for name, qs in by_signal.items()}
            for name, futures in running.items():
                yield self._batch(wanted[name], by_signal[name], [f.result() for f in futures])

    def _run(self, q: Query, splits: int = 0) -> list[dict] | str:
        """The query's result series, or the reason it failed (text, secrets removed).

        A server that refuses the range for its points per series (Prometheus' 11,000,
        or a lower limit of a front-end) gets it in two halves, each split again if
        need be: what a plan asked for is fetched whatever the server's limit."""
        try:
            return self.client().custom_query_range(
                q.expr, q.start.to_pydatetime(), q.end.to_pydatetime(), f"{q.step_s}s")
        except Exception as exc:  # any failure of one query is a gap, never a crash
            reason = http_auth.redact(_reason(exc, self.settings), self.settings.headers)
        if not _TOO_MANY_POINTS.search(reason) or q.points < 2 or splits >= _MAX_SPLITS:
            return reason
        halves = [self._run(h, splits + 1) for h in _halves(q)]
        failed = [h for h in halves if isinstance(h, str)]
        return failed[0] if failed else halves[0] + halves[1]

    def _batch(self, signal: Signal, queries: list[Query], answers: list) -> Batch:
        batch = Batch(source=f"{NAME}: {signal.name}")
        series: list[dict] = []
        holes: list[live.Gap] = []
        for q, answer in zip(queries, answers, strict=True):
            batch.lines += 1
            if isinstance(answer, str):
                batch.gaps.append(live.Gap(NAME, f"signal {signal.name}", answer,
                                           q.start, _after(q)))
            else:
                series += answer
                holes += self._holes(signal, q, answer)
        if series:
            batch.gaps += holes
        elif not batch.gaps:
            names = ", ".join(self.settings.metric_names.get(m, m) for m in signal.metrics)
            batch.gaps.append(live.Gap(
                NAME, f"signal {signal.name}",
                f"no series: {names} not found (renamed? set sources.prometheus.metric_names)",
                queries[0].start if queries else None,
                _after(queries[-1]) if queries else None))
        batch.frames["metrics"] = shape(signal, series, self.settings.label_names)
        batch.gaps = live.merge_gaps(batch.gaps)
        return batch

    def _holes(self, signal: Signal, q: Query, series: list[dict]) -> list[live.Gap]:
        """Spans of a query's range longer than ``hole_s`` where no series has a point:
        the server holds data for part of the window only (retention, a late start, a
        scrape outage). Shorter spans are a scrape interval or a ``rate`` range at a
        series' start, not missing data. (No series in any chunk is the "no series" gap.)"""
        step = pd.Timedelta(seconds=q.step_s)
        edges, start = [], q.start  # [first step without a point, next point)
        for first, last in _covered(series, q.step_s):
            edges.append((start, first))
            start = last + step
        edges.append((start, _after(q)))
        hole = pd.Timedelta(seconds=self.settings.hole_s)
        return [live.Gap(NAME, f"signal {signal.name}",
                         "partial: no points in this span (the server holds no data there)",
                         a, b)
                for a, b in edges if b - a > hole]


def _covered(series: list[dict], step_s: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(first, last) point of each stretch where some series has a point at every step,
    in time order. A series with a point at every step between its first and last is one
    stretch, found without reading its points (a day of 1,000 nodes is millions)."""
    spans: list[tuple[float, float]] = []
    for s in series:
        values = s.get("values") or []
        if not values:
            continue
        first, last = float(values[0][0]), float(values[-1][0])
        if round((last - first) / step_s) + 1 == len(values):
            spans.append((first, last))
            continue
        times = [float(v[0]) for v in values]
        begin = times[0]
        for a, b in zip(times, times[1:], strict=False):
            if b - a > 1.5 * step_s:
                spans.append((begin, a))
                begin = b
        spans.append((begin, times[-1]))
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a - merged[-1][1] <= 1.5 * step_s:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(pd.Timestamp(a, unit="s", tz="UTC"), pd.Timestamp(b, unit="s", tz="UTC"))
            for a, b in merged]


#: How many times a range refused for its points is halved: 2**12 pieces of a chunk
#: reach one point per piece from far past any server's limit.
_MAX_SPLITS = 12
#: Prometheus: "exceeded maximum resolution of 11,000 points per timeseries"
_TOO_MANY_POINTS = re.compile(r"exceeded maximum resolution|points per timeseries", re.I)


def _halves(q: Query) -> tuple[Query, Query]:
    """The query's steps in two ranges that share none."""
    mid = q.start + pd.Timedelta(seconds=q.step_s * ((q.points - 1) // 2))
    later = mid + pd.Timedelta(seconds=q.step_s)
    return (dataclasses.replace(q, end=mid), dataclasses.replace(q, start=later))


def _after(q: Query) -> pd.Timestamp:
    """The end of what a query covers: its last step plus one."""
    return q.end + pd.Timedelta(seconds=q.step_s)


_STATUS = re.compile(r"HTTP Status Code (\d+)")
_ERROR = re.compile(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _reason(exc: Exception, settings: Settings) -> str:
    """A one-line reason: the status and the server's own error text when it gave one;
    how long was waited and how often it was tried when the server never answered."""
    text = str(exc)
    status, error = _STATUS.search(text), _ERROR.search(text)
    tries = f" (tried {settings.retries + 1} times)" if settings.retries else ""
    if status:
        return f"HTTP {status.group(1)}: " + (_unquoted(error.group(1)) if error else text[:200])
    if isinstance(exc, requests.exceptions.RetryError):  # 429/5xx on every try
        code = _GAVE_UP.search(text)
        return (f"HTTP {code.group(1)}: the server kept failing{tries}" if code
                else f"gave up{tries}: {_cause(text)}")
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS: {_cause(text)}"
    if isinstance(exc, requests.Timeout) or "timed out" in text:
        return f"timed out: no answer within {settings.timeout_s:g} s{tries}"
    if isinstance(exc, requests.ConnectionError):
        errno = _ERRNO.search(text)
        return f"cannot connect: {errno.group(0) if errno else _cause(text)}{tries}"
    return f"{type(exc).__name__}: {text[:300]}"


def _unquoted(text: str) -> str:
    """The server's error text as it wrote it: the client quotes the body as a bytes
    repr (``\\'``) holding JSON (``\\"``, ``\\n``)."""
    text = text.replace("\\'", "'")
    try:
        return json.loads(f'"{text}"')
    except ValueError:
        return text


#: urllib3's "too many 503 error responses" after the last retry
_GAVE_UP = re.compile(r"too many (\d{3}) error responses")
#: the socket's own words: "[Errno 111] Connection refused"
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _cause(text: str) -> str:
    """urllib3's innermost reason (``certificate verify failed…``, ``Connection refused``)
    rather than the pool's preamble with the whole query in it."""
    return text.rsplit("Caused by ", 1)[-1].strip(" )")[:200]


def shape(signal: Signal, series: list[dict], label_names: Mapping[str, str]) -> pd.DataFrame:
    """``query_range`` result series as ``metrics`` rows named after the signal.

    Vectorised (a day of 1,000 nodes is millions of points): values are parsed by numpy,
    per-series strings are made once and repeated by Arrow. The row id is the series'
    hash plus the step time in hex: re-collecting a window yields the same ids (the store
    keeps one copy), at one hash per series, not per point.
    """
    series = [s for s in series if s.get("values")]
    if not series:
        return record.empty("metrics")
    per_series = [restore_labels(s.get("metric", {}), label_names) for s in series]
    canonical = [record.canonical_labels(labels) for labels in per_series]
    which = pa.array(np.repeat(np.arange(len(series)), [len(s["values"]) for s in series]))
    points = np.array(list(chain.from_iterable(s["values"] for s in series)), dtype=object)
    ns = np.round(points[:, 0].astype(np.float64) * 1000).astype(np.int64) * 1_000_000
    at, steps = pd.factorize(ns)  # hashing, not sorting: the few distinct step times
    keys = pa.array([record.row_id(signal.name, c) for c in canonical]).take(which)
    stamps = pa.array([f"{t:x}" for t in steps.tolist()]).take(pa.array(at))
    index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name="time").tz_localize("UTC")
    df = pd.DataFrame({
        "row_id": pd.array(pc.binary_join_element_wise(keys, stamps, ""), dtype="str"),
        "name": signal.name,
        "entity": pd.array(pa.array([signal.entity(x) for x in per_series]).take(which),
                           dtype="str"),
        "labels": pd.array(pa.array(canonical).take(which), dtype="str"),
        # Prometheus sends values as strings, "NaN", "+Inf" and "-Inf" included
        "value": points[:, 1].astype(np.float64),
    }, index=index)
    return record.validate("metrics", df)


def _factory(config: Config, flags: live.Flags) -> list[PrometheusSource]:
    settings = settings_from(config, flags)
    return [PrometheusSource(settings)] if settings else []


live.FACTORIES.append(_factory)
