"""Time: every instant is stored in UTC and every input is read with an explicit zone.

Why: the 2021-08-23 post-mortem gives local times (UTC+8) while nodes log in UTC; a
zone-less timestamp read in the wrong zone moves an incident by eight hours and the
evidence no longer lines up. So nothing here guesses: a zone-less input takes the zone
the user (or config) named.

Why a zone must be a zone *name*: dateutil's ``gettz`` also opens any file path
(``--tz /etc/passwd``) and reads POSIX TZ strings (``UTC+99``), so a typo became a
traceback or a silently wrong offset. Only IANA names, ``UTC`` and ±hh:mm offsets pass.

Why instants are bounded: the store keeps nanosecond UTC times, which end in 2262 and
start in 1677; pandas quietly switches to coarser units outside that range and the
failure surfaces far away (a window of year 1 failed when naming the report file).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

import pandas as pd
from dateutil import parser as dtparser
from dateutil import tz as dttz

__all__ = ["EARLIEST", "LATEST", "TimeError", "get_zone", "parse_instant", "parse_since",
           "to_display"]

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_NEGATIVE = re.compile(r"^\s*-\s*\d")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: An IANA zone key: path-like words, no leading slash, no ``..`` (checked apart).
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")
_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?")

#: The span of instants the store can hold (nanosecond UTC), with a margin of months on
#: each side so a baseline before the window or padding after it cannot overflow.
EARLIEST = pd.Timestamp("1678-01-01T00:00:00Z")
LATEST = pd.Timestamp("2262-01-01T00:00:00Z")


class TimeError(ValueError):
    """A time or zone the user gave cannot be read."""


def get_zone(name: str) -> tzinfo:
    """The zone called ``name`` (IANA name, ``UTC`` or a fixed offset like ``+08:00``)."""
    name = name or ""
    if _ZONE_NAME.fullmatch(name) and ".." not in name:
        zone = _named_zone(name)
        if zone is not None:
            return zone
    m = _OFFSET.fullmatch(name)
    if not m:
        raise TimeError(f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai, "
                        "UTC or an offset like +08:00)")
    sign = 1 if m.group(1) == "+" else -1
    offset = sign * (int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60)
    if abs(offset) > 14 * 3600:  # the widest real offsets are -12:00 and +14:00
        raise TimeError(f"time zone offset {name!r} is beyond ±14:00")
    return dttz.tzoffset(name, offset)


def _named_zone(name: str) -> tzinfo | None:
    """A zone from the tz database, or None; never a POSIX TZ string or a local file."""
    try:
        zone = dttz.gettz(name)
    except (ValueError, OSError):  # a file under the zone folder that is not a zone
        return None
    return zone if isinstance(zone, (dttz.tzfile, dttz.tzutc)) else None


def parse_instant(text: str, zone: tzinfo) -> pd.Timestamp:
    """An ISO-like time; zone-less input is read in ``zone``. Returns a UTC Timestamp."""
    try:
        iso = len(text) > 10 and text[10] == "T"  # 2021-08-23T…; not "… UTC"
        dt = dtparser.isoparse(text) if iso else dtparser.parse(text)
    except (ValueError, OverflowError) as exc:
        raise TimeError(f"cannot read time {text!r}: {exc}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    try:
        ts = pd.Timestamp(dt).tz_convert("UTC")
    except (ValueError, OverflowError) as exc:  # e.g. year 1 in a zone west of UTC
        raise TimeError(f"time {text!r} is out of range: {exc}") from exc
    return _in_range(ts, text)


def parse_since(text: str, now: pd.Timestamp, zone: tzinfo) -> pd.Timestamp:
    """``24h``, ``90m``, ``7d`` (before ``now``) or an absolute time."""
    if _NEGATIVE.match(text):
        raise TimeError(f"{text!r}: a duration counts back and cannot be negative "
                        "(write 5h, not -5h)")
    m = _RELATIVE.match(text)
    if m:
        try:
            start = now - pd.Timedelta(timedelta(**{_UNIT[m.group(2)]: float(m.group(1))}))
        except (ValueError, OverflowError):  # pandas' OutOfBounds errors are ValueErrors
            start = None
        if start is None or start < EARLIEST:
            raise TimeError(f"{text!r} reaches back before {EARLIEST:%Y-%m-%d}, "
                            "earlier than any stored time can be")
        return start
    return parse_instant(text, zone)


def _in_range(ts: pd.Timestamp, text: str) -> pd.Timestamp:
    if not EARLIEST <= ts < LATEST:
        raise TimeError(f"time {text!r} is outside {EARLIEST:%Y-%m-%d} … {LATEST:%Y-%m-%d}, "
                        "the range the store can hold")
    return ts.as_unit("ns")


def to_display(ts: pd.Timestamp | datetime, zone: tzinfo) -> str:
    """ISO 8601 with the user's offset, seconds precision."""
    return pd.Timestamp(ts).tz_convert(zone).isoformat(timespec="seconds")
