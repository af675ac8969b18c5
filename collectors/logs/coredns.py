"""CoreDNS ``log`` and ``errors`` plugins, every release's default format.

Query lines (the ``log`` plugin), newest first::

    [INFO] {remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}"
        {rcode} {>rflags} {rsize} {duration}                              (1.3 and later)
    {remote}:{port} - [{when}] {>id} "..." {rcode} {>rflags} {rsize} {duration}   (1.0-1.2)
    {remote} - [{when}] "..." {rcode} {>rflags} {rsize} {duration}               (0.9)

Why a time prefix is needed for the newer lines: CoreDNS 1.8.1 and later print none, so a
query line only has a time if the collector added one, either ``kubectl logs
--timestamps`` (``<RFC3339Nano> <line>``), the node's CRI log file (``<RFC3339Nano> stdout
F <line>``) or Docker's json-file (see ``wrappers``). CoreDNS 1.2-1.8.0 print their own
RFC 3339 time, so ``kubectl logs --timestamps`` gives two; the first is used. A query line
with no time at all is malformed, with the fix; every other line without one (the
banner, ``[INFO] Reloading``) is valid and skipped.

Why ``request_id`` is ``<port>/<id>``: a resolver that times out (5 s by default) retries
with the same query id from the same socket, so equal ids on one port mark a retry; the
id alone repeats across clients. ``upstream`` holds ``<type> <name>``, what was asked.

Failures: a query CoreDNS never answered is logged with rcode ``-`` (``" - - 0
6.002435968s``); its row has status ``timeout`` and the logged latency. An ``errors``
plugin line ``[ERROR] plugin/errors: 2 <name> <type>: read udp A->B: i/o timeout`` (the
upstream resolver did not answer) is a row too: status ``timeout`` (``error`` for other
errors), latency NaN (not logged), ``station`` empty (the asking client is not logged),
``request_id`` ``<CoreDNS's port towards the upstream>/`` and ``upstream`` ``<type>
<name>`` like query rows. All CoreDNS rows are ``side = server``, ``service = coredns``.
CoreDNS logs a query when it is answered: its start is ``time - latency_s``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from collectors.base import LineError, ParseContext
from collectors.logs.nginx_combined import parse_time_local
from collectors.logs.wrappers import TIME_PREFIX
from rca import record

__all__ = ["NAME", "READS_TIME_PREFIX", "parse", "parse_rfc3339", "skip_reason", "sniff"]

NAME = "coredns"
#: The reader leaves the CRI / kubectl time on the line: most CoreDNS lines have no other.
READS_TIME_PREFIX = True

_PREFIX = TIME_PREFIX
#: CoreDNS 1.2-1.8.0's own time, after kubectl's (two times on one line).
_OWN_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}) ")
_QUERY = re.compile(
    r"(?:\[INFO\] )?(?P<remote>\[[^\]]+\]|[^\s:\[\]]+)(?::(?P<port>\d+))? - "
    r"(?:\[(?P<when>[^\]]+)\] )?(?:(?P<id>\d+) )?"
    r'"(?P<type>\S+) \S+ (?P<name>\S+) \S+ \S+ \S+ \S+" '  # class proto size do bufsize
    r"(?P<rcode>\S+) \S* (?P<rsize>\S+) (?P<duration>\S+)\Z"  # rflags may be empty
)
#: What every query line starts with; a line that starts so but breaks later is malformed.
_QUERY_START = re.compile(r"(?:\[INFO\] )?\S+:\d+ - (?:\[[^\]]*\] )?\d+ \"")
_ERROR = re.compile(
    r"\[ERROR\] plugin/errors: (?P<rcode>\d+) (?P<name>\S+) (?P<type>[A-Z0-9]+): "
    r"(?P<error>.*)\Z"
)
_LOCAL_PORT = re.compile(r":(\d+)->")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_DURATION_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(s|ms|µs|us|ns)\Z", re.ASCII)
_FORMAT = (
    '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
    "{rcode} {>rflags} {rsize} {duration}"
)
_NO_TIME = (
    "CoreDNS prints no timestamp: collect with `kubectl logs --timestamps` "
    "(or read the node's CRI log file)"
)


def sniff(line: str) -> bool:
    return _QUERY.match(line, _body_start(line)) is not None


def skip_reason(line: str) -> str:
    return "not a query: CoreDNS banner, reload or plugin message"


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    prefix = _PREFIX.match(line)
    start = _body_start(line)
    query = _QUERY.match(line, start)
    if query is not None:
        return [("requests", _query_row(query, prefix))]
    error = _ERROR.match(line, start)
    if error is not None:
        if prefix is None:
            raise LineError("time", _NO_TIME)
        return [("requests", _error_row(error, parse_rfc3339(prefix.group(1))))]
    if _QUERY_START.match(line, start):
        raise LineError("query", f"not the default CoreDNS log format: {_FORMAT}")
    return []  # plugin/reload, [WARNING], banner: valid lines, nothing for the record


def _body_start(line: str) -> int:
    prefix = _PREFIX.match(line)
    pos = prefix.end() if prefix else 0
    own = _OWN_TIME.match(line, pos)
    return own.end() if own else pos


def _query_row(query: re.Match, prefix: re.Match | None) -> dict:
    if prefix is not None:
        time = parse_rfc3339(prefix.group(1))
    elif query["when"] is not None:
        time = parse_time_local(query["when"])
    else:
        raise LineError("time", _NO_TIME)
    rsize = query["rsize"]
    if not (rsize.isascii() and rsize.isdigit()):
        raise LineError("rsize", f"expected a byte count, got {rsize[:30]!r}")
    rcode = query["rcode"]
    port, qid = query["port"] or "", query["id"] or ""
    return {
        "time": time,
        "side": "server",
        "station": query["remote"].strip("[]"),
        "service": record.DNS_SERVICE,
        "latency_s": _seconds(query["duration"]),
        "status": "timeout" if rcode == "-" else rcode,  # "-": no answer was ever sent
        "bytes": float(rsize),
        "request_id": f"{port}/{qid}" if port or qid else "",
        "upstream": f"{query['type']} {query['name']}",
    }


def _error_row(error: re.Match, time: datetime) -> dict:
    text = error["error"]
    port = _LOCAL_PORT.search(text)
    return {
        "time": time,
        "side": "server",
        "station": "",
        "service": record.DNS_SERVICE,
        "latency_s": float("nan"),
        "status": "timeout" if text.endswith("i/o timeout") else "error",
        "request_id": f"{port.group(1)}/" if port else "",
        "upstream": f"{error['type']} {error['name']}",
    }


def parse_rfc3339(text: str) -> datetime:
    """RFC 3339 with up to nanoseconds (Kubernetes' timestamps) as a UTC datetime.

    Python reads at most microseconds, so the fraction is cut to six digits.
    """
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise LineError("time", f"cannot read {text!r}: {exc}") from exc


def _seconds(duration: str) -> float:
    """``0.000166s`` (current CoreDNS) or a Go duration like ``1.2ms`` (older releases)."""
    m = _DURATION.match(duration)
    if m is None:
        raise LineError("duration", f"expected a duration like 0.000166s, got {duration[:30]!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]
