"""JSON lines: one request per object, with field names taken from the user's config.

Why configurable names: station and application logs are written by the user's own code
(``"timestamp"``, ``"cost_ms"``…), so ``logs.jsonl_fields`` maps each record field to the
user's name; unnamed fields keep the default name. Errors name the user's field, since
that is the word they will search their logs for.

Why ``ts`` accepts both ISO text and epoch numbers: both are what ``time.time()`` and
``datetime.isoformat()`` print. Epoch values above 1e11 are milliseconds (1e11 seconds is
the year 5138; 1e11 ms is 1973). A zone-less ISO time is read in ``ctx.zone``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from collectors.base import LineError, ParseContext, check_time
from rca.timeutil import TimeError, parse_instant

__all__ = ["DEFAULT_FIELDS", "NAME", "parse", "sniff"]

NAME = "jsonl"

DEFAULT_FIELDS = {
    name: name
    for name in "ts station service latency_ms status request_id side bytes upstream".split()
}
_EPOCH_MS_ABOVE = 1e11
_GAVE_UP = {"timeout", "error"}
_SIDES = {"client", "server"}


def sniff(line: str) -> bool:
    return line.startswith("{") and line.endswith("}")


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    names = {**DEFAULT_FIELDS, **ctx.settings.get("jsonl_fields", {})}
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise LineError("json", f"not valid JSON: {str(exc)[:120]}") from exc
    except RecursionError:
        raise LineError("json", "nested too deeply to be a request record") from None
    if not isinstance(obj, dict):
        raise LineError("json", f"expected a JSON object, got {type(obj).__name__}")

    def get(field: str):
        return obj.get(names[field])

    side = get("side")
    if side is None:
        side = "client"
    if not isinstance(side, str) or side not in _SIDES:
        raise LineError(names["side"], f"must be 'client' or 'server', got {_short(side)}")
    status = _status(get("status"), names["status"])
    # a request the caller gave up on may carry no latency: keep it (NaN), it is the
    # very row an incident is made of
    latency = _number(get("latency_ms"), names["latency_ms"], required=status not in _GAVE_UP)
    return [
        (
            "requests",
            {
                "time": _time(get("ts"), names["ts"], ctx),
                "side": side,
                "station": _text(get("station"), names["station"]),
                "service": _text(get("service"), names["service"]),
                "latency_s": latency / 1000.0,
                "status": status,
                "bytes": _number(get("bytes"), names["bytes"], required=False),
                "request_id": _text(get("request_id"), names["request_id"]),
                "upstream": _text(get("upstream"), names["upstream"]),
            },
        )
    ]


def _time(value, name: str, ctx: ParseContext) -> datetime:
    if value is None:
        raise LineError(name, "missing (every line needs a time)")
    if isinstance(value, str):
        try:
            return check_time(parse_instant(value, ctx.zone).to_pydatetime(), name)
        except TimeError as exc:
            raise LineError(name, str(exc)[:200]) from exc
        except (ValueError, OverflowError, ArithmeticError) as exc:  # 2262+, dateutil
            raise LineError(name, f"{_short(value)} is out of range: {exc}") from exc
    seconds = _number(value, name, required=True)
    if seconds > _EPOCH_MS_ABOVE:
        seconds /= 1000.0
    try:
        return check_time(datetime.fromtimestamp(seconds, UTC), name)
    except (OverflowError, OSError, ValueError) as exc:
        raise LineError(name, f"epoch {_short(value)} out of range") from exc


def _number(value, name: str, required: bool) -> float:
    """A finite, non-negative number (JSON number or numeric text); NaN if absent and optional."""
    if value is None:
        if required:
            raise LineError(name, "missing")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LineError(name, f"expected a number, got {_short(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise LineError(name, f"expected a finite number, got {_short(value)}") from None
    if not math.isfinite(number) or number < 0:
        raise LineError(name, f"expected a finite number >= 0, got {_short(value)}")
    return number


def _status(value, name: str) -> str:
    """HTTP code as text, or ``timeout`` / ``error`` when the caller gave up; '' if absent."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 3 and text.isascii() and text.isdigit() and 100 <= int(text) <= 599:
            return text
        if text.lower() in _GAVE_UP:
            return text.lower()
    raise LineError(name, f"expected an HTTP code, 'timeout' or 'error', got {_short(value)}")


def _text(value, name: str) -> str:
    """The value as text; a lone surrogate (``"\\ud800"``, valid JSON but no character)
    is refused here, as no store or terminal can hold it."""
    text = "" if value is None else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LineError(name, f"not valid Unicode (a lone surrogate): {_short(value)}") from None
    return text


def _short(value) -> str:
    """A value for an error message, cut: a bad line may hold megabytes of it."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"a number of ~{int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
