"""ingress-nginx controller access log, default ``log_format upstreaminfo``.

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
    [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
    $upstream_response_time $upstream_status $req_id

Why the upstream fields are read as lists: when nginx retries the next upstream (the
usual symptom of a pod timing out behind a Service) it logs every attempt, e.g.
``10.244.1.17:8080, 10.244.2.9:8080``; that text is kept whole in ``upstream`` because
the retry itself is evidence. ``$proxy_upstream_name`` is ``<namespace>-<service>-<port>``;
the port is dropped so the service matches the other sources.

The controller's own output (klog lines, the startup banner, nginx error-log lines) is
interleaved with the access lines: those lines are skipped with their reason.
"""

from __future__ import annotations

import re
from functools import lru_cache

from collectors.base import ParseContext
from collectors.logs.nginx_combined import (
    COMBINED_PIECES,
    FieldPattern,
    not_a_request,
    parse_time_local,
    skip_reason,
)

__all__ = ["NAME", "parse", "skip_reason", "sniff"]

NAME = "ingress-nginx"

# One nginx upstream list: items joined by ", " (next upstream) or " : " (internal redirect).
_LIST = r"[^\s,]+(?:(?:, | : )[^\s,]+)*"

_HEAD_PIECES = [
    *COMBINED_PIECES,
    ("request_length", r" (\d+)"),
    ("request_time", r" (\d+(?:\.\d+)?)"),
    ("proxy_upstream_name", r" \[([^\]]*)\]"),
    ("proxy_alternative_upstream_name", r" \[([^\]]*)\]"),
]
_TAIL_PIECES = [
    ("upstream_addr", rf" ({_LIST})"),
    ("upstream_response_length", rf" ({_LIST})"),
    ("upstream_response_time", rf" ({_LIST})"),
    ("upstream_status", rf" ({_LIST})"),
    ("req_id", r" (\S+)"),
]
_PATTERN = FieldPattern(_HEAD_PIECES + _TAIL_PIECES)
# Fast path (the full pattern costs twice as much): the head by regex, then the five tail
# fields by split, when no upstream field is a list (no ", " or " : ").
_HEAD = re.compile("".join(piece for _, piece in _HEAD_PIECES) + r" (.*)\Z")
_PORT_SUFFIX = re.compile(r"-\d+\Z")


def sniff(line: str) -> bool:
    return _PATTERN.match(line) is not None


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    fields = _fields(line)
    if fields is None:
        return []
    upstream_addr = fields[12]
    return [
        (
            "requests",
            {
                "time": parse_time_local(fields[2]),
                "side": "server",
                "station": fields[0],
                "service": _service(fields[10]),
                "latency_s": float(fields[9]),
                "status": fields[4],
                "bytes": float(fields[5]),
                "request_id": fields[16],
                "upstream": "" if upstream_addr == "-" else upstream_addr,
            },
        )
    ]


def _fields(line: str) -> tuple[str, ...] | None:
    head = _HEAD.match(line)
    if head is not None:
        rest = head[13]
        if "," not in rest and " : " not in rest:
            tail = rest.split(" ")
            if len(tail) == len(_TAIL_PIECES):
                return head.groups()[:-1] + tuple(tail)
    fields = _PATTERN.match(line)
    if fields is None:
        if not_a_request(line):
            return None
        raise _PATTERN.explain(line)
    return fields


@lru_cache(maxsize=1024)
def _service(upstream_name: str) -> str:
    """``inference-neishi-8080`` -> ``inference-neishi`` (cached: a log has few upstreams)."""
    return _PORT_SUFFIX.sub("", upstream_name)
