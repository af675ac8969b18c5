"""nginx ``combined`` access log, and the endings people append to it.

Read, all as the same format (each ending optional, in this order)::

    combined  '$remote_addr - $remote_user [$time_local] "$request" $status '
              '$body_bytes_sent "$http_referer" "$http_user_agent"'
    main      combined + ' "$http_x_forwarded_for"'     (nginx's stock nginx.conf)
    timed     ... + ' $request_time' [+ ' $upstream_response_time']

Why plain ``combined`` is read although it has no latency: its 4xx/5xx waves are still
evidence (most 413s in the wild are in plain combined logs); the row's latency is NaN.

nginx logs a request when it **ends**: the time is kept as logged, and the start is
``time - latency_s`` (``rca.record.request_start``).

Lines a controller prints between its access lines (klog lines, the startup banner, nginx
error-log lines) are valid lines with no request in them: counted as skipped, never as
malformed (``skip_reason``).

Shared with ``ingress_nginx``: the ``$time_local`` reader and ``FieldPattern`` (a line
format as named fields, so a line that does not match says *which* field broke).

    log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from collectors.base import LineError, ParseContext

__all__ = [
    "NAME",
    "FieldPattern",
    "not_a_request",
    "parse",
    "parse_time_local",
    "skip_reason",
    "sniff",
]

NAME = "nginx-combined"

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_TIME_LOCAL = re.compile(
    r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)


@lru_cache(maxsize=4096)
def parse_time_local(text: str) -> datetime:
    """``23/Aug/2021:11:03:05 +0800`` as a UTC datetime.

    Why not ``strptime``: it costs ~10 µs a line, more than the rest of the parse. Busy
    logs repeat the same second many times, so results are cached per string.
    """
    m = _TIME_LOCAL.fullmatch(text)
    if m is None or m.group(2) not in _MONTHS:
        raise LineError(
            "time", f"cannot read {text!r} as nginx $time_local (23/Aug/2021:11:03:05 +0800)"
        )
    day, mon, year, hour, minute, sec, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        local = datetime(
            int(year),
            _MONTHS[mon],
            int(day),
            int(hour),
            int(minute),
            int(sec),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise LineError("time", f"cannot read {text!r}: {exc}") from exc


class FieldPattern:
    """A line format as an ordered list of ``(field, regex piece)``.

    Why: the joined regex is the fast path (one match per line); when it fails, the pieces
    are matched one after the other to find the first field that does not fit, so the
    malformed-line report names a field rather than saying "no match".  Each piece holds
    exactly one capture group, so ``match(line)`` yields the fields in order.
    """

    def __init__(self, pieces: list[tuple[str, str]], hints: dict[str, str] | None = None):
        self._pieces = [(name, re.compile(piece)) for name, piece in pieces]
        self._hints = hints or {}
        self._full = re.compile("".join(piece for _, piece in pieces) + r"\Z")

    def match(self, line: str) -> tuple[str, ...] | None:
        m = self._full.match(line)
        return None if m is None else m.groups()

    def explain(self, line: str) -> LineError:
        """The error for a line ``match`` rejected: the first field that does not fit."""
        pos = 0
        for name, piece in self._pieces:
            m = piece.match(line, pos)
            if m is None:
                if name in self._hints:
                    return LineError(name, self._hints[name])
                found = line[pos : pos + 30].lstrip()
                return LineError(name, f"cannot read {name} at column {pos + 1}: {found!r}")
            pos = m.end()
        last = self._pieces[-1][0]
        return LineError(last, f"unexpected text after {last} at column {pos + 1}")


#: nginx's predefined ``combined`` log_format, field by field; ingress-nginx's default
#: format starts with the same fields.
COMBINED_PIECES = [
    ("remote_addr", r"(\S+)"),
    ("remote_user", r" - (\S+)"),
    ("time", r" \[([^\]]*)\]"),
    ("request", r' "([^"]*)"'),
    ("status", r" (\d{3})"),
    ("body_bytes_sent", r" (\d+)"),
    ("http_referer", r' "([^"]*)"'),
    ("http_user_agent", r' "([^"]*)"'),
]

_SECONDS = r"\d+(?:\.\d+)?"
_PATTERN = FieldPattern(
    [
        *COMBINED_PIECES,
        ("http_x_forwarded_for", r'(?: "([^"]*)")?'),
        ("request_time", rf"(?: ({_SECONDS}))?"),
        # one time per upstream tried (", "), "-" when no upstream answered
        ("upstream_response_time", rf"(?: ((?:{_SECONDS}|-)(?:(?:, | : )(?:{_SECONDS}|-))*))?"),
    ],
)
_SNIFF = re.compile(r'\S+ - \S+ \[[^\]]*\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*"')

#: What else a controller or an nginx container prints to the same stream, by reason.
_NOT_REQUESTS = [
    ("klog line", re.compile(r"[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+ +\d+ \S+:\d+\] ")),
    ("nginx error log", re.compile(
        r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(?:debug|info|notice|warn|error|crit|alert|emerg)\]"
    )),
    ("startup banner", re.compile(
        r"-{10,}\Z|NGINX Ingress controller\Z|(?:Release|Build|Repository|nginx version):"
    )),
]


def not_a_request(line: str) -> str | None:
    """Why a line that is no access line is still a valid line of the stream, or None."""
    for reason, pattern in _NOT_REQUESTS:
        if pattern.match(line):
            return reason
    return None


def skip_reason(line: str) -> str:
    return f"not a request: {not_a_request(line) or 'other'}"


def sniff(line: str) -> bool:
    return _SNIFF.match(line) is not None


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    fields = _PATTERN.match(line)
    if fields is None:
        if not_a_request(line):
            return []
        raise _PATTERN.explain(line)
    addr, _user, time_local, request, status, size, _referer, _agent = fields[:8]
    request_time = fields[9]
    return [
        (
            "requests",
            {
                "time": parse_time_local(time_local),
                "side": "server",
                "station": addr,
                "service": _first_segment(request),
                "latency_s": float("nan") if request_time is None else float(request_time),
                "status": status,
                "bytes": float(size),
            },
        )
    ]


def _first_segment(request: str) -> str:
    """``GET /predict/v1?x=1 HTTP/1.1`` -> ``predict``: the service, for path-routed proxies."""
    parts = request.split(" ")
    if len(parts) < 2:
        return ""
    path = parts[1].split("?", 1)[0]
    if "://" in path:  # absolute-form request target (forward proxy)
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return path.lstrip("/").split("/", 1)[0]
