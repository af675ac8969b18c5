"""Ceph RADOS Gateway daemon log: finished requests, broken pipes and SIGTERMs.

    debug 2019-10-25 02:35:14.549 7f4880b98700  1 ====== req done req=0x55aa678c48e0 op
        status=0 http_status=200 latency=1.076s ======        (one line; Nautilus, zone-less)
    2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 ====== req done ... ======   (Pacific+)
    ... ====== req done req=0x7e773c754310 op=list_buckets bucket= status=0 http_status=200
        latency=0.000000000s request_id=tx00000edc699d2dc233606-0069f2f9c3-5529-s3 ======
                                                                      (Squid: op, bucket)

Why these three: ``req done`` is RGW's own view of each request (server side, so a client
timeout with a fast ``req done`` points away from RGW); ``Broken pipe`` is RGW finding the
client already gone, the server-side trace of a client timeout; SIGTERM is the pod being
killed (liveness failure, eviction, rollout); ``ERROR: RESTFUL_IO(s)->complete_header()
returned err=…`` is RGW failing to send a response's headers (the client is gone or the
socket broke), an event too. Every other line is valid but carries nothing for the record.

Older releases print no zone: RGW runs in a container, so those times are read in the
container logs' zone (``collectors.base.log_zone``: UTC unless ``logs.zone`` or
``logs.zones`` say otherwise), never in the zone of the person reading them.

Why ``op status`` matters: RGW sets ``http_status`` when the response starts, so a
download the client aborted half-way is logged ``op status=-104 http_status=206``
(ECONNRESET) or ``op status=-32`` (EPIPE). Such a request failed: its row's status is
``499``, what nginx logs when the client closed the connection; any other negative op
status behind a non-error HTTP status is ``500``. The logged figures are kept in
``upstream`` (``op status=-104 http_status=206``). RGW logs a request when it ends: its
start is ``time - latency_s``.

Settings: ``service`` (default ``rgw``) names the service of request rows; ``object``
(kubectl style, ``pod/<ns>/<name>``) is the object of event rows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from collectors.base import LineError, ParseContext, log_zone

__all__ = ["NAME", "OTHER_MESSAGE", "READS_TIME_PREFIX", "parse", "skip_reason", "sniff"]

NAME = "rgw"
#: RGW's own time starts the line; a kubectl/CRI time before it is taken off here.
READS_TIME_PREFIX = True

# kubectl/CRI time, then RGW's: time, thread id, debug level, message (level right-aligned).
_PREFIX = re.compile(
    r"(?:\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}) (?:(?:stdout|stderr) [FP] )?"
    r"(?=(?:debug )?\d{4}-\d{2}-\d{2}[ T]))?"
    r"(?:debug )?"
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?"
    r" +[0-9a-f]+ +-?\d+ (.*)\Z"
)
# Luminous prints no latency; the row then has NaN latency but still its status. Squid
# names the op and bucket (``op=list_buckets bucket= status=0``) and a request_id after.
_REQ_DONE = re.compile(
    r"====== req done req=(\S+) op(?:=\S* bucket=\S*)? status=(-?\d{1,10}) http_status=(\d{3})"
    r"(?: latency=(\S+?)s)?(?: |\Z)",
    re.ASCII,
)
_LATENCY = re.compile(r"\d+(?:\.\d+)?\Z", re.ASCII)
#: op statuses meaning the client went away: ECONNRESET, EPIPE.
_CLIENT_GONE = {-104, -32}
_RESTFUL_IO = re.compile(r"ERROR: RESTFUL_IO\(s\)->complete_header\(\) returned err=")
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
        req, op_status, http_status, latency = done.groups()
        return [
            (
                "requests",
                {
                    "time": _time(prefix.groups()[:8], ctx),
                    "side": "server",
                    "service": ctx.settings.get("service", "rgw"),
                    "request_id": req,
                    "status": _status(int(op_status), http_status),
                    "latency_s": _latency(latency),
                    "upstream": f"op status={op_status} http_status={http_status}",
                },
            )
        ]
    if _RESTFUL_IO.search(message):
        return [("events", _event(prefix, ctx, "CompleteHeaderFailed"))]
    if _BROKEN_PIPE.search(message):
        return [("events", _event(prefix, ctx, "BrokenPipe"))]
    if _SIGTERM.search(message):
        return [("events", _event(prefix, ctx, "SIGTERM"))]
    return []


#: Why a line that is neither a finished request nor an event gave no row (every such line).
OTHER_MESSAGE = "not a request: other RGW daemon message"


def skip_reason(line: str) -> str:
    return OTHER_MESSAGE


def _status(op_status: int, http_status: str) -> str:
    """The HTTP status, unless the op failed behind a status that says it did not."""
    if op_status >= 0 or int(http_status) >= 400:
        return http_status
    return "499" if op_status in _CLIENT_GONE else "500"


def _latency(text: str | None) -> float:
    if text is None:  # Luminous prints none
        return float("nan")
    if not _LATENCY.match(text):
        raise LineError("latency", f"expected seconds like 0.087, got {text[:30]!r}")
    return float(text)


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
        return local.replace(tzinfo=_zone(zone) if zone else log_zone(ctx)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise LineError("time", f"not a valid date/time: {exc}") from exc


def _zone(text: str) -> timezone:
    """``Z``, ``+08:00`` or ``+0800``; an offset of a day or more raises ValueError."""
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)
