"""Ceph RADOS Gateway daemon log: finished requests, broken pipes and SIGTERMs.

    debug 2019-10-25 02:35:14.549 7f4880b98700  1 ====== req done req=0x55aa678c48e0 op
        status=0 http_status=200 latency=1.076s ======        (one line; Nautilus, zone-less)
    2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 ====== req done ... ======   (Pacific+)

Why these three: ``req done`` is RGW's own view of each request (server side, so a client
timeout with a fast ``req done`` points away from RGW); ``Broken pipe`` is RGW finding the
client already gone, the server-side trace of a client timeout; SIGTERM is the pod being
killed (liveness failure, eviction, rollout). Every other line is valid but carries
nothing for the record. Older releases print no zone, so those times take ``ctx.zone``.

Settings: ``service`` (default ``rgw``) names the service of request rows; ``object``
(kubectl style, ``pod/<ns>/<name>``) is the object of event rows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from collectors.base import LineError, ParseContext

__all__ = ["NAME", "parse", "sniff"]

NAME = "rgw"

# time, thread id, debug level, message. The level is right-aligned to two columns.
_PREFIX = re.compile(
    r"(?:debug )?"
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?"
    r" +[0-9a-f]+ +-?\d+ (.*)\Z"
)
# Luminous prints no latency; the row then has NaN latency but still its status.
_REQ_DONE = re.compile(
    r"====== req done req=(\S+) op status=-?\d+ http_status=(\d+)(?: latency=(\d+(?:\.\d+)?)s)?"
)
_BROKEN_PIPE = re.compile(r"broken pipe", re.IGNORECASE)
_SIGTERM = re.compile(r"SIGTERM|received\s+signal: Terminated|handle_sigterm")


def sniff(line: str) -> bool:
    return _PREFIX.match(line) is not None


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    prefix = _PREFIX.match(line)
    if prefix is None:
        raise LineError(
            "time", "expected an RGW log line: '[debug ]<date> <time> <thread> <level> ...'"
        )
    message = prefix.group(9)
    done = _REQ_DONE.match(message)
    if done is not None:
        req, http_status, latency = done.groups()
        return [
            (
                "requests",
                {
                    "time": _time(prefix.groups()[:8], ctx),
                    "side": "server",
                    "service": ctx.settings.get("service", "rgw"),
                    "request_id": req,
                    "status": http_status,
                    "latency_s": float("nan") if latency is None else float(latency),
                },
            )
        ]
    if _BROKEN_PIPE.search(message):
        return [("events", _event(prefix, ctx, "BrokenPipe"))]
    if _SIGTERM.search(message):
        return [("events", _event(prefix, ctx, "SIGTERM"))]
    return []


def _event(prefix: re.Match, ctx: ParseContext, reason: str) -> dict:
    time = _time(prefix.groups()[:8], ctx)
    return {
        "time": time,
        "type": "Warning",
        "kind": "Pod",
        "reason": reason,
        "object": ctx.settings.get("object", ""),
        "message": prefix.group(9),
        "count": 1,
        "first_seen": time,
        "last_seen": time,
    }


def _time(parts: tuple, ctx: ParseContext) -> datetime:
    year, month, day, hour, minute, second, fraction, zone = parts
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro
        )
    except ValueError as exc:
        raise LineError("time", f"not a valid date/time: {exc}") from exc
    return local.replace(tzinfo=_zone(zone) if zone else ctx.zone).astimezone(UTC)


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)
