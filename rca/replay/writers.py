"""Format writers: one simulated fact in, one line of a real public format out.

Why kept apart from the simulation: the parsers in ``collectors`` are written against the
real formats (kubectl, ingress-nginx, CoreDNS, node_exporter, promtool), so every byte
here must look like what those tools print, and a format mistake must be fixable without
touching what the day *is*. Nothing here draws random numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "Clock",
    "coredns_query_line",
    "coredns_text_line",
    "ingress_line",
    "labels",
    "om_family",
    "om_histogram",
    "station_line",
]

# nginx prints English month names whatever the locale; strftime("%b") would not.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
USER_AGENT = "python-requests/2.25.1"


class Clock:
    """Unix seconds to each format's own notion of time, in one zone (DST-safe)."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def epoch(self, wall: str) -> float:
        """A zone-less ISO wall time is read in the scenario zone."""
        dt = datetime.fromisoformat(wall)
        return (dt if dt.tzinfo else dt.replace(tzinfo=self.zone)).timestamp()

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, self.zone)

    def iso(self, t: float, timespec: str = "milliseconds") -> str:
        """ISO 8601 with the zone's offset, as expected.json states times. Milliseconds are
        rounded exactly as ``station`` rounds them, so the key names the logged instant."""
        ms = round(t * 1000)
        dt = datetime.fromtimestamp(ms // 1000, self.zone).replace(microsecond=ms % 1000 * 1000)
        return dt.isoformat(timespec=timespec)

    def station(self, t: float) -> str:
        """Station PCs log zone-less local time with milliseconds."""
        ms = round(t * 1000)
        return f"{datetime.fromtimestamp(ms // 1000, self.zone):%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}"

    def nginx(self, t: float) -> str:
        """``$time_local``: whole seconds, English month, numeric offset."""
        d = datetime.fromtimestamp(int(t), self.zone)
        return f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year}:{d:%H:%M:%S %z}"

    @staticmethod
    def kubelet(t: float, ns: int | None = None) -> str:
        """``kubectl logs --timestamps``: kubelet's fixed-width RFC3339, 9 digits, UTC.
        ``ns`` (unix nanoseconds) overrides ``t``: a float cannot carry nanoseconds."""
        ns = round(t * 1e9) if ns is None else ns
        d = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
        return f"{d:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"

    @staticmethod
    def kube(t: float) -> str:
        """API object timestamps: RFC3339 UTC, whole seconds."""
        return f"{datetime.fromtimestamp(int(t), UTC):%Y-%m-%dT%H:%M:%SZ}"


def station_line(
    ts: str, station: str, service: str, latency_s: float, status: int | str,
    request_id: str, size: int,
) -> str:
    """One client-side record as the station SDK writes it (JSON lines)."""
    return json.dumps(
        {
            "ts": ts,
            "station": station,
            "service": service,
            "latency_ms": round(latency_s * 1000.0, 1),
            "status": status,
            "request_id": request_id,
            "side": "client",
            "bytes": size,
        }
    )


def ingress_line(
    *, remote_addr: str, time_local: str, path: str, status: int, body: int,
    request_length: int, request_time: float, upstream_name: str, upstream_addr: str,
    upstream_time: float, req_id: str,
) -> str:
    """ingress-nginx's default ``upstreaminfo`` log_format, one request."""
    return (
        f'{remote_addr} - - [{time_local}] "POST {path} HTTP/1.1" {status} {body} "-" '
        f'"{USER_AGENT}" {request_length} {request_time:.3f} [{upstream_name}] [] '
        f"{upstream_addr} {body} {upstream_time:.3f} {status} {req_id}"
    )


def _wire_length(name: str) -> int:
    """Bytes of a fully qualified name in DNS wire format (labels + root)."""
    return sum(len(label) + 1 for label in name.rstrip(".").split(".")) + 1


def coredns_query_line(
    ts: str, client: str, port: int, qid: int, qtype: str, name: str, duration_ns: int
) -> str:
    """The ``log`` plugin's default line. Sizes follow CoreDNS (no name compression):
    glibc sends no EDNS, an A answer repeats the name, an empty AAAA carries the
    cluster.local SOA (93 bytes)."""
    size = 12 + _wire_length(name) + 4
    rsize = size + (_wire_length(name) + 14 if qtype == "A" else 93)
    seconds = f"{duration_ns / 1e9:.9f}".rstrip("0").rstrip(".")
    return (
        f'{ts} [INFO] {client}:{port} - {qid} "{qtype} IN {name} udp {size} false 512" '
        f"NOERROR qr,aa,rd {rsize} {seconds}s"
    )


def coredns_text_line(ts: str, text: str) -> str:
    return f"{ts} [INFO] {text}"


def labels(pairs: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in pairs.items())


def _value(v: float) -> str:
    """Integers print as integers; floats with enough digits to round-trip a counter."""
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(round(f, 6))


def om_family(
    family: str, mtype: str, help_text: str,
    series: Iterable[tuple[str, str, Sequence[int], Sequence[float]]],
) -> list[str]:
    """One metric family: HELP, TYPE, then each series' samples in time order.

    ``series`` items are (sample name, label text, unix-second stamps, values). OpenMetrics
    names a counter family without ``_total``; its samples carry the suffix.
    """
    out = [f"# HELP {family} {help_text}", f"# TYPE {family} {mtype}"]
    for sample, label_text, stamps, values in series:
        head = f"{sample}{{{label_text}}} "
        out.extend(f"{head}{_value(v)} {t}" for t, v in zip(stamps, values, strict=True))
    return out


def om_histogram(
    family: str, help_text: str, bounds: Sequence[float],
    series: Iterable[tuple[str, Sequence[int], Sequence[Sequence[int]], Sequence[float]]],
) -> list[str]:
    """A classic histogram family. Each item is (label text, stamps, cumulative bucket
    counts per stamp (one per bound, then +Inf), sums). Samples of one metric point stay
    together, as OpenMetrics requires."""
    out = [f"# HELP {family} {help_text}", f"# TYPE {family} histogram"]
    les = [repr(b) for b in bounds] + ["+Inf"]
    for label_text, stamps, counts, sums in series:
        heads = [f'{family}_bucket{{{label_text},le="{le}"}} ' for le in les]
        for t, row, total in zip(stamps, counts, sums, strict=True):
            out.extend(f"{h}{c} {t}" for h, c in zip(heads, row, strict=True))
            out.append(f"{family}_count{{{label_text}}} {row[-1]} {t}")
            out.append(f"{family}_sum{{{label_text}}} {_value(total)} {t}")
    return out
