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

Rows go to the typed ``dns`` table: a resolver that times out (5 s by default) asks the
same name again from the same socket (client ip and port), which is what the DNS cause
looks for; the id alone repeats across clients. CoreDNS 0.9 logs neither port nor id:
those rows carry 0 for both.

Failures: a query CoreDNS never answered is logged with rcode ``-`` (``" - - 0
6.002435968s``); its row has rcode ``''`` (no answer was sent) and the logged latency. An
``errors`` plugin line ``[ERROR] plugin/errors: 2 <name> <type>: read udp A:p->B:53: i/o
timeout`` (CoreDNS's upstream did not answer) gives two rows: a ``dns`` row for the query
CoreDNS sent upstream (``client_ip``/``client_port`` = CoreDNS's own socket A:p, which is
the asker here; ``rcode`` the name of the code it answered, ``SERVFAIL`` for 2; latency
NaN, not logged), and an ``events`` row (``source = log``, reason ``UpstreamTimeout`` or
``UpstreamError``, the whole message, upstream address included) so the nature of the
failure is kept. CoreDNS logs a query when it is answered: its start is
``time - latency_s``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from collectors.base import LineError, ParseContext
from collectors.logs.nginx_combined import parse_time_local
from collectors.logs.wrappers import TIME_PREFIX

__all__ = ["NAME", "READS_TIME_PREFIX", "parse", "parse_rfc3339", "skip_reason", "sniff"]

NAME = "coredns"
#: The reader leaves the CRI / kubectl time on the line: most CoreDNS lines have no other.
READS_TIME_PREFIX = True

_PREFIX = TIME_PREFIX
#: CoreDNS 1.2-1.8.0's own time, after kubectl's (two times on one line).
_OWN_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}) ")
_QUERY = re.compile(
    r"(?:\[INFO\] )?(?P<remote>\[[^\]]+\]|[^\s:\[\]]+)(?::(?P<port>\d{1,5}))? - "
    r"(?:\[(?P<when>[^\]]+)\] )?(?:(?P<id>\d{1,5}) )?"
    r'"(?P<type>\S+) \S+ (?P<name>\S+) (?P<proto>\S+) \S+ \S+ \S+" '  # class size do bufsize
    r"(?P<rcode>\S+) \S* (?P<rsize>\S+) (?P<duration>\S+)\Z"  # rflags may be empty
)
#: What every query line starts with; a line that starts so but breaks later is malformed.
_QUERY_START = re.compile(r"(?:\[INFO\] )?\S+:\d+ - (?:\[[^\]]*\] )?\d+ \"")
_ERROR = re.compile(
    r"\[ERROR\] plugin/errors: (?P<rcode>\d{1,5}) (?P<name>\S+) (?P<type>[A-Z0-9]+): "
    r"(?P<error>.*)\Z"
)
_SOCKET = re.compile(r"(?P<proto>udp|tcp) (?P<ip>\[[^\]]+\]|[^\s:]+):(?P<port>\d{1,5})->")
_RCODES = {"0": "NOERROR", "1": "FORMERR", "2": "SERVFAIL", "3": "NXDOMAIN", "4": "NOTIMP",
           "5": "REFUSED"}
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
        return [("dns", _query_row(query, prefix))]
    error = _ERROR.match(line, start)
    if error is not None:
        if prefix is None:
            raise LineError("time", _NO_TIME)
        return _error_rows(error, parse_rfc3339(prefix.group(1)), ctx)
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
    return {
        "time": time,
        "client_ip": query["remote"].strip("[]"),
        "client_port": int(query["port"] or 0),
        "query_id": int(query["id"] or 0),
        "qtype": query["type"],
        "name": query["name"],
        "proto": query["proto"],
        "rcode": "" if rcode == "-" else rcode,  # "-": no answer was ever sent
        "latency_s": _seconds(query["duration"]),
    }


def _error_rows(error: re.Match, time: datetime, ctx: ParseContext) -> list[tuple[str, dict]]:
    text = error["error"]
    socket = _SOCKET.search(text)
    timeout = text.endswith("i/o timeout")
    query = {
        "time": time,
        "client_ip": socket["ip"].strip("[]") if socket else "",
        "client_port": int(socket["port"]) if socket else 0,
        "qtype": error["type"],
        "name": error["name"],
        "proto": socket["proto"] if socket else "",
        "rcode": _RCODES.get(error["rcode"], error["rcode"]),
        "latency_s": float("nan"),
    }
    event = {
        "time": time,
        "type": "Warning",
        "kind": "Pod",
        "reason": "UpstreamTimeout" if timeout else "UpstreamError",
        "object": ctx.settings.get("object", ""),  # the CoreDNS pod, when the user names it
        "message": f"[ERROR] plugin/errors: {error['rcode']} {error['name']} "
                   f"{error['type']}: {text}"[:1000],
        "count": 1,
        "first_seen": time,
        "last_seen": time,
    }
    return [("dns", query), ("events", event)]


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
