"""Signals: the metrics the causes read, declared once and usable two ways.

Why one declaration: a cause such as "conntrack insert failures on the node" must mean
the same thing when it is read from a live Prometheus (``promql(signal)``) and when it is
computed offline from a metrics file in the store (``evaluate(signal, samples, …)``). If
the two were written separately they would drift, and a finding would depend on where
the data came from. ``tests/integration/test_signals_prometheus.py`` holds every signal
in ``SIGNALS`` to that promise against a real Prometheus.

A signal is one of a few shapes (``kind``), each a fixed PromQL template:

``rate``                ``<agg> by (<by>) (rate(<metric>{<matchers>}[<range>]))``
``gauge``               ``<agg> by (<by>) (<metric>{<matchers>})``
``histogram_quantile``  ``histogram_quantile(<q>, <agg> by (<by>, le) (rate(<metric>[<range>])))``
``rate_per_gauge``      ``<agg> by (<by>) (rate(<metric>[<range>]) / on (<on>) <denominator>)``

Adding a signal is adding one ``Signal(...)`` to ``SIGNALS``; adding a shape is one case
in :func:`promql` and one in ``_vecs``.

Names follow ``<source>_<what>_<unit>``. Node-level signals group by ``instance`` *and*
``node``: when scrape relabeling adds a ``node`` label it names the entity, otherwise the
instance host does (see :func:`entity_of`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rca import record
from rca.entities import entity_of
from rca.promql_eval import (
    AGGREGATIONS,
    Matcher,
    Vec,
    aggregate,
    divide_on,
    histogram_quantile,
    instant,
    rate,
    select,
)

__all__ = ["KINDS", "SIGNALS", "Signal", "available", "entity_of", "evaluate", "promql"]

_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
            "d": 86400 * 10**9, "w": 7 * 86400 * 10**9, "y": 365 * 86400 * 10**9}
_OPS = ("=", "!=", "=~", "!~")
#: The shapes a signal can take; each is one case in ``promql`` and one in ``_vecs``.
KINDS = ("rate", "gauge", "histogram_quantile", "rate_per_gauge")


@dataclass(frozen=True)
class Signal:
    """One declared signal. See the module docstring for what each ``kind`` renders to."""

    name: str
    doc: str
    kind: str
    metric: str
    by: tuple[str, ...] = ()
    agg: str = "sum"
    range: str = "5m"
    matchers: tuple[Matcher, ...] = ()
    quantile: float | None = None
    denominator: str = ""
    on: tuple[str, ...] = ()
    #: Entity from the grouped labels of one output series.
    entity: Callable[[Mapping[str, str]], str] = entity_of

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.fullmatch(self.name):
            problems.append("name is not <source>_<what>_<unit>")
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {KINDS}")
        if self.agg not in AGGREGATIONS:
            problems.append(f"agg must be one of {sorted(AGGREGATIONS)}")
        if not _DURATION.fullmatch(self.range):
            problems.append(f"range {self.range!r} is not a duration like 5m")
        if any(op not in _OPS for _, op, _ in self.matchers):
            problems.append(f"matcher ops must be in {_OPS}")
        if (self.kind == "histogram_quantile") != (self.quantile is not None):
            problems.append("quantile is required by, and only by, histogram_quantile")
        if (self.kind == "rate_per_gauge") != bool(self.denominator and self.on):
            problems.append("denominator and on are required by, and only by, rate_per_gauge")
        if self.kind == "rate_per_gauge" and not set(self.by) <= set(self.on):
            problems.append("by must be within on: the division keeps only the on labels")
        if not self.doc:
            problems.append("doc must say why the signal matters")
        if problems:
            raise ValueError(f"signal {self.name!r}: " + "; ".join(problems))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The raw metric names the signal reads."""
        return (self.metric, self.denominator) if self.denominator else (self.metric,)


# -- PromQL ---------------------------------------------------------------------------
def promql(signal: Signal) -> str:
    """The PromQL a live Prometheus evaluates for ``signal``."""
    s = signal
    rates = f"rate({_selector(s.metric, s.matchers)}[{s.range}])"
    match s.kind:
        case "rate":
            return _aggregated(s.agg, s.by, rates)
        case "gauge":
            return _aggregated(s.agg, s.by, _selector(s.metric, s.matchers))
        case "histogram_quantile":
            return f"histogram_quantile({s.quantile!r}, {_aggregated(s.agg, (*s.by, 'le'), rates)})"
        case "rate_per_gauge":
            return _aggregated(s.agg, s.by, f"{rates} / on ({', '.join(s.on)}) {s.denominator}")
    raise AssertionError(s.kind)  # unreachable: Signal checks kind


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(metric: str, matchers: tuple[Matcher, ...] = ()) -> str:
    if not matchers:
        return metric
    return metric + "{" + ", ".join(f"{k}{op}{_quote(v)}" for k, op, v in matchers) + "}"


def _aggregated(op: str, by: tuple[str, ...], expr: str) -> str:
    return f"{op} by ({', '.join(by)}) ({expr})" if by else f"{op}({expr})"


# -- offline evaluation -----------------------------------------------------------------
def evaluate(signal: Signal, samples: pd.DataFrame, start, end, step_s: float) -> pd.DataFrame:
    """``signal`` over ``[start, end]`` every ``step_s`` seconds, as ``query_range`` would.

    ``samples`` is a metrics-table frame of raw samples. Returns one row per step per
    output series: a UTC index ``time`` and columns ``entity``, ``labels`` (canonical JSON
    of the grouped labels) and ``value``. Steps are ``start + k * step`` like Prometheus'
    (no alignment), and a series absent at a step has no row there.
    """
    steps = _steps(start, end, step_s)
    vecs = _vecs(signal, samples, steps) if len(steps) else []
    times, entities, labels, values = [], [], [], []
    for vec in vecs:
        at = np.flatnonzero(vec.present)
        times.append(steps[at])
        values.append(vec.value[at])
        entities += [signal.entity(vec.labels)] * len(at)
        labels += [record.canonical_labels(vec.labels)] * len(at)
    ns = np.concatenate(times) if times else np.array([], dtype=np.int64)
    index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name="time").tz_localize("UTC")
    out = pd.DataFrame(
        {
            "entity": pd.Series(entities, dtype=str),
            "labels": pd.Series(labels, dtype=str),
            "value": np.concatenate(values) if values else np.array([], dtype="float64"),
        }
    ).set_axis(index)
    return out.sort_values(["time", "entity", "labels"], kind="stable")


def available(signal: Signal, samples: pd.DataFrame) -> bool:
    """Whether every raw metric the signal reads has a matching series in ``samples``."""
    return bool(select(samples, signal.metric, signal.matchers)) and all(
        select(samples, m) for m in signal.metrics[1:]
    )


def _steps(start, end, step_s: float) -> np.ndarray:
    step_ns = round(step_s * 1e9)
    if step_ns <= 0:
        raise ValueError(f"step must be positive, got {step_s!r}")
    first, last = _utc_ns(start), _utc_ns(end)
    count = (last - first) // step_ns + 1 if last >= first else 0
    return first + step_ns * np.arange(count, dtype=np.int64)


def _utc_ns(when) -> int:
    stamp = pd.Timestamp(when)
    if stamp.tz is None:
        raise ValueError(f"time {when!r} has no zone; evaluation times must be UTC-aware")
    return stamp.tz_convert("UTC").as_unit("ns").value


def _range_ns(text: str) -> int:
    m = _DURATION.fullmatch(text)
    return int(m.group(1)) * _UNIT_NS[m.group(2)]


def _vecs(s: Signal, samples: pd.DataFrame, steps: np.ndarray) -> list[Vec]:
    """The output series of ``promql(s)``, computed from raw samples (same shapes)."""
    if s.kind == "gauge":
        return aggregate(s.agg, instant(select(samples, s.metric, s.matchers), steps), s.by)
    rates = rate(select(samples, s.metric, s.matchers), steps, _range_ns(s.range))
    match s.kind:
        case "rate":
            return aggregate(s.agg, rates, s.by)
        case "histogram_quantile":
            return histogram_quantile(s.quantile, aggregate(s.agg, rates, (*s.by, "le")))
        case "rate_per_gauge":
            gauges = instant(select(samples, s.denominator), steps)
            return aggregate(s.agg, divide_on(rates, gauges, s.on), s.by)
    raise AssertionError(s.kind)  # unreachable: Signal checks kind


# -- the registry ------------------------------------------------------------------------
_NODE = ("instance", "node")
_VIRTUAL_NICS = ("device", "!~", "lo|veth.*|cali.*|flannel.*|cni.*|docker.*")

SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal(
            "coredns_request_p99_seconds",
            "p99 latency of all CoreDNS requests. If it stays low while clients hit the 5 s "
            "resolver timeout, the packets are lost before CoreDNS (conntrack, network).",
            "histogram_quantile",
            "coredns_dns_request_duration_seconds_bucket",
            quantile=0.99,
        ),
        Signal(
            "coredns_requests_per_second",
            "Query load on CoreDNS: a burst (e.g. ndots:5 search-path expansion) can "
            "saturate it, and a drop to zero while clients fail points at the path to it.",
            "rate",
            "coredns_dns_requests_total",
        ),
        Signal(
            "conntrack_insert_failed_per_second",
            "Packets dropped because their conntrack entry lost an insert race: the "
            "classic cause of 5 s DNS timeouts when A and AAAA queries leave together.",
            "rate",
            "node_nf_conntrack_stat_insert_failed",
            by=_NODE,
            range="1m",
        ),
        Signal(
            "conntrack_drop_per_second",
            "Packets dropped because the conntrack table was full: new connections from "
            "the node silently fail until entries expire.",
            "rate",
            "node_nf_conntrack_stat_drop",
            by=_NODE,
            range="1m",
        ),
        Signal(
            "node_receive_utilization_ratio",
            "Busiest physical NIC's receive rate over its link speed: near 1 the node "
            "drops or queues packets and every service on it looks slow.",
            "rate_per_gauge",
            "node_network_receive_bytes_total",
            by=_NODE,
            agg="max",
            range="1m",
            matchers=(_VIRTUAL_NICS,),
            denominator="node_network_speed_bytes",
            on=(*_NODE, "device"),
        ),
        Signal(
            "cadvisor_memory_working_set_bytes",
            "Peak working set of a pod's containers: what kubelet and the kernel's OOM "
            "killer compare with limits.memory (the pod cgroup itself, container=\"\", "
            "and the pause container are left out).",
            "gauge",
            "container_memory_working_set_bytes",
            by=("namespace", "pod"),
            agg="max",
            matchers=(("container", "!=", ""), ("container", "!=", "POD")),
        ),
        Signal(
            "node_transmit_utilization_ratio",
            "Busiest physical NIC's transmit rate over its link speed: a node serving a big "
            "transfer (an RGW download) saturates its uplink, and every answer it sends, "
            "probe replies included, waits in the queue.",
            "rate_per_gauge",
            "node_network_transmit_bytes_total",
            by=_NODE,
            agg="max",
            range="1m",
            matchers=(_VIRTUAL_NICS,),
            denominator="node_network_speed_bytes",
            on=(*_NODE, "device"),
        ),
        Signal(
            "node_network_drop_per_second",
            "Packets the node's physical NICs dropped on receive: the queue overflowed, the "
            "sign a link is past saturation rather than merely busy.",
            "rate",
            "node_network_receive_drop_total",
            by=_NODE,
            range="1m",
            matchers=(_VIRTUAL_NICS,),
        ),
        Signal(
            "node_procs_blocked",
            "Processes in uninterruptible sleep (D state), waiting on disk or NFS: a hung "
            "mount leaves them piling up while the CPUs sit idle.",
            "gauge",
            "node_procs_blocked",
            by=_NODE,
            agg="max",
        ),
        Signal(
            "node_disk_io_time_ratio",
            "Share of time the busiest disk had IO in flight: near 1 every read on the node "
            "queues behind it.",
            "rate",
            "node_disk_io_time_seconds_total",
            by=_NODE,
            agg="max",
            range="1m",
        ),
        Signal(
            "container_cpu_cfs_throttled_periods_per_second",
            "CFS periods in which a container wanted CPU but had used its quota: divided by "
            "container_cpu_cfs_periods_per_second it is the share of time the limit held it.",
            "rate",
            "container_cpu_cfs_throttled_periods_total",
            by=("namespace", "pod", "container"),
            matchers=(("container", "!~", "|POD"),),
        ),
        Signal(
            "container_cpu_cfs_periods_per_second",
            "CFS periods in which a container ran at all: the denominator of its throttled "
            "share.",
            "rate",
            "container_cpu_cfs_periods_total",
            by=("namespace", "pod", "container"),
            matchers=(("container", "!~", "|POD"),),
        ),
        Signal(
            "node_load1",
            "1-minute load average: runnable plus uninterruptible (often disk-waiting) "
            "tasks; far above the CPU count means work queues on the node.",
            "gauge",
            "node_load1",
            by=_NODE,
            agg="max",
        ),
    )
}
