"""Time: every instant is stored in UTC and every input is read with an explicit zone.

Why: the 2021-08-23 post-mortem gives local times (UTC+8) while nodes log in UTC; a
zone-less timestamp read in the wrong zone moves an incident by eight hours and the
evidence no longer lines up. So nothing here guesses: a zone-less input takes the zone
the user (or config) named.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

import pandas as pd
from dateutil import parser as dtparser
from dateutil import tz as dttz

__all__ = ["TimeError", "get_zone", "parse_instant", "parse_since", "to_display"]

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TimeError(ValueError):
    """A time or zone the user gave cannot be read."""


def get_zone(name: str) -> tzinfo:
    """The zone called ``name`` (IANA name, ``UTC`` or a fixed offset like ``+08:00``)."""
    zone = dttz.gettz(name) if name else None
    if zone is None:
        m = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2}):?(\d{2})?", name or "")
        if not m:
            raise TimeError(f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai)")
        sign = 1 if m.group(1) == "+" else -1
        offset = sign * (int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60)
        if abs(offset) > 14 * 3600:  # the widest real offsets are -12:00 and +14:00
            raise TimeError(f"time zone offset {name!r} is beyond ±14:00")
        zone = dttz.tzoffset(name, offset)
    return zone


def parse_instant(text: str, zone: tzinfo) -> pd.Timestamp:
    """An ISO-like time; zone-less input is read in ``zone``. Returns a UTC Timestamp."""
    try:
        iso = len(text) > 10 and text[10] == "T"  # 2021-08-23T…; not "… UTC"
        dt = dtparser.isoparse(text) if iso else dtparser.parse(text)
    except (ValueError, OverflowError) as exc:
        raise TimeError(f"cannot read time {text!r}: {exc}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return pd.Timestamp(dt).tz_convert("UTC")


def parse_since(text: str, now: pd.Timestamp, zone: tzinfo) -> pd.Timestamp:
    """``24h``, ``90m``, ``7d`` (before ``now``) or an absolute time."""
    m = _RELATIVE.match(text)
    if m:
        return now - pd.Timedelta(timedelta(**{_UNIT[m.group(2)]: float(m.group(1))}))
    return parse_instant(text, zone)


def to_display(ts: pd.Timestamp | datetime, zone: tzinfo) -> str:
    """ISO 8601 with the user's offset, seconds precision."""
    return pd.Timestamp(ts).tz_convert(zone).isoformat(timespec="seconds")
