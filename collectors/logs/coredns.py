"""CoreDNS ``log`` plugin, default format, as collected by ``kubectl logs --timestamps``.

    {remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}"
    {rcode} {>rflags} {rsize} {duration}

Why a timestamp prefix is required: CoreDNS prints none, so a query line only has a time
if the collector added one, either ``kubectl logs --timestamps`` (``<RFC3339Nano> <line>``)
or the node's CRI log file (``<RFC3339Nano> stdout F <line>``). A query line without one
cannot be placed in an incident and is reported as malformed with the fix.

Rows go to the typed ``dns`` table: a resolver that times out (5 s by default) asks the
same name again from the same socket (client ip and port), which is what the DNS cause
looks for; the id alone repeats across clients.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from collectors.base import LineError, ParseContext

__all__ = ["NAME", "parse", "parse_rfc3339", "sniff"]

NAME = "coredns"

_PREFIX = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) "
    r"(?:(?:stdout|stderr) [FP] )?"
)
_QUERY = re.compile(
    r"\[INFO\] (?P<remote>\[[^\]]+\]|[^\s:]+):(?P<port>\d+) - (?P<id>\d+) "
    r'"(?P<type>\S+) \S+ (?P<name>\S+) (?P<proto>\S+) \S+ \S+ \S+" '  # class size do bufsize
    r"(?P<rcode>\S+) \S* (?P<rsize>\S+) (?P<duration>\S+)\Z"  # rflags may be empty
)
#: What every query line starts with; a line that starts so but breaks later is malformed.
_QUERY_START = re.compile(r"\[INFO\] \S+:\d+ - \d+ \"")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_DURATION_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(s|ms|µs|us|ns)\Z")
_FORMAT = (
    '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
    "{rcode} {>rflags} {rsize} {duration}"
)
_NO_TIME = (
    "CoreDNS prints no timestamp: collect with `kubectl logs --timestamps` "
    "(or read the node's CRI log file)"
)


def sniff(line: str) -> bool:
    prefix = _PREFIX.match(line)
    return _QUERY.match(line, prefix.end() if prefix else 0) is not None


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    prefix = _PREFIX.match(line)
    if prefix is None:
        raise LineError("time", _NO_TIME)
    query = _QUERY.match(line, prefix.end())
    if query is None:
        if _QUERY_START.match(line, prefix.end()):
            raise LineError("query", f"not the default CoreDNS log format: {_FORMAT}")
        return []  # plugin/reload, [WARNING], banner: valid lines, nothing for the record
    rsize = query["rsize"]
    if not rsize.isdigit():
        raise LineError("rsize", f"expected a byte count, got {rsize!r}")
    return [
        (
            "dns",
            {
                "time": parse_rfc3339(prefix.group(1)),
                "client_ip": query["remote"].strip("[]"),
                "client_port": int(query["port"]),
                "query_id": int(query["id"]),
                "qtype": query["type"],
                "name": query["name"],
                "proto": query["proto"],
                "rcode": query["rcode"],
                "latency_s": _seconds(query["duration"]),
            },
        )
    ]


def parse_rfc3339(text: str) -> datetime:
    """RFC 3339 with up to nanoseconds (Kubernetes' timestamps) as a UTC datetime.

    Python reads at most microseconds, so the fraction is cut to six digits.
    """
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text)).astimezone(UTC)
    except ValueError as exc:
        raise LineError("time", f"cannot read {text!r}: {exc}") from exc


def _seconds(duration: str) -> float:
    """``0.000166s`` (current CoreDNS) or a Go duration like ``1.2ms`` (older releases)."""
    m = _DURATION.match(duration)
    if m is None:
        raise LineError("duration", f"expected a duration like 0.000166s, got {duration!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]
