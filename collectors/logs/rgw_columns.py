"""Ceph RGW daemon log read as Arrow columns, a block at once: ``req done`` rows, and the
daemon's other lines recognised as carrying none.

    2021-08-23T03:03:05.123456789Z stdout F debug 2021-08-23T03:03:05.123+0000
        7f2a1c8a9700  1 ====== req done req=0x7f2a1c8a4650 op status=0 http_status=200
        latency=0.001000018s ======                                         (one line)

Why most of the work is saying "no row": RGW prints several lines per request
(``starting new request``, ``beast:`` access lines, ``req N … s3:get_obj …`` steps at
``debug_rgw`` 2) and one ``req done``. Those lines are counted here under
``rgw.OTHER_MESSAGE`` (``blocks.ColumnParser``'s third item), as ``rgw.parse`` would
skip them, so the per-line parser sees only the odd line.

Why RE2 match first and capture later: a match without groups runs as a DFA, several
times faster than a capture; only the ``req done`` lines (a third or less) are cut.

Why the rows equal ``rgw.parse``'s: the patterns are that parser's, tightened: a CRI
``F`` line or kubectl's time or none, years 1970-2199, hours 00-23, an offset within
±23:59, a latency of at most 9+9 digits; a line with a ``req done`` the pattern does not
cut, one that may be an event (broken pipe, SIGTERM, ``RESTFUL_IO``), a day the month
lacks, or a zone-less minute the clocks skip or repeat in ``log_zone`` goes to
``rgw.parse``, which reads it or reports it malformed as before. Times are cut to
microseconds, as ``rgw._time`` does.
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectors.base import ParseContext, log_zone
from collectors.logs import rgw
from collectors.logs.jsonl_columns import cast_times, local_to_utc
from collectors.logs.line_bytes import repeated, take_at

__all__ = ["read_rgw"]

#: kubectl's or the CRI's time (not read: RGW's own time follows), then RGW's time,
#: thread and level, as ``rgw._PREFIX`` reads them.
_PREFIX = (
    r"^(?:\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}) (?:(?:stdout|stderr) F )?)?"
    r"(?:debug )?"
    r"(?P<date>(?:19[7-9]\d|2[01]\d\d)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))[ T]"
    r"(?P<clock>(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)? +[0-9a-f]+ +-?\d+ "
)
_DONE = "====== req done "
#: ``rgw._REQ_DONE``; a latency it would refuse (or that is not plain digits) is left
#: out of the match and caught by ``_LATENCY_LEFT`` below.
_REQ_DONE = (
    _DONE + r"req=(?P<req>\S+) op(?:=\S* bucket=\S*)? status=(?P<op>-?\d{1,10}) "
    r"http_status=(?P<http>\d{3})(?: latency=(?P<latency>\d{1,9}(?:\.\d{1,9})?)s)?"
    r"(?P<rest>(?: .*)?)\n$"
)
_LATENCY_LEFT = "^ latency="
#: What may make a line a row or an event in ``rgw.parse`` (broader than its patterns:
#: a line this finds is left to it).
_MAYBE_ROW = (r"req done|RESTFUL_IO|(?i:broken pipe)|SIGTERM|signal: Terminated|"
              r"handle_sigterm")
_FIELDS = ("date", "clock", "fraction", "zone", "req", "op", "http", "latency")


def read_rgw(lines: pa.Array, ctx: ParseContext) -> tuple[np.ndarray, pd.DataFrame,
                                                          dict[str, np.ndarray]]:
    daemon = pc.match_substring_regex(lines, _PREFIX)
    maybe = pc.match_substring_regex(lines, _MAYBE_ROW)
    idle = np.flatnonzero(pc.and_not(daemon, maybe).to_numpy(zero_copy_only=False))
    done = np.flatnonzero(pc.match_substring_regex(lines, _PREFIX + _DONE).to_numpy(
        zero_copy_only=False))
    read, frame = _requests(take_at(lines, done), done, ctx) if len(done) else (
        done, pd.DataFrame())
    return read, frame, {rgw.OTHER_MESSAGE: idle}


def _requests(lines: pa.Array, where: np.ndarray, ctx: ParseContext) -> tuple[
        np.ndarray, pd.DataFrame]:
    """The ``req done`` rows of ``lines`` (at ``where`` in the block) that are sure."""
    matched = pc.extract_regex(lines, _PREFIX + _REQ_DONE)
    sure = pc.and_(matched.is_valid(), pc.invert(pc.fill_null(pc.and_(
        pc.equal(pc.struct_field(matched, "latency"), ""),
        pc.match_substring_regex(pc.struct_field(matched, "rest"), _LATENCY_LEFT)), False)))
    parts = matched.filter(sure)
    c = {name: pc.struct_field(parts, name) for name in _FIELDS}
    times = _utc(c, ctx)
    good = ~np.isnat(times)
    read = where[sure.to_numpy(zero_copy_only=False)][good]
    if not good.all():
        keep = pa.array(good)
        times, c = times[good], {k: v.filter(keep) for k, v in c.items()}
    if not len(read):
        return read, pd.DataFrame()
    op, http = pc.cast(c["op"], pa.int64()), pc.cast(c["http"], pa.int64())
    as_logged = pc.or_(pc.greater_equal(op, 0), pc.greater_equal(http, 400))
    gone = pc.is_in(op, pa.array(sorted(rgw._CLIENT_GONE), pa.int64()))
    latency = c["latency"]
    frame = pa.table({
        "side": repeated("server", len(read)),
        "service": repeated(ctx.settings.get("service", "rgw"), len(read)),
        "request_id": c["req"],
        "status": pc.if_else(as_logged, c["http"], pc.if_else(gone, "499", "500")),
        "latency_s": pc.cast(pc.if_else(pc.equal(latency, ""), None, latency), pa.float64()),
        "upstream": pc.binary_join_element_wise("op status=", c["op"], " http_status=",
                                                c["http"], ""),
    }).to_pandas()
    frame.index = pd.DatetimeIndex(times, name="time").tz_localize("UTC")
    return read, frame


def _utc(c: dict[str, pa.Array], ctx: ParseContext) -> np.ndarray:
    """RGW's times as UTC ``datetime64[ns]``, cut to microseconds; NaT where ``rgw.parse``
    must decide (no such day; a zone-less minute ``log_zone`` skips or repeats)."""
    seconds = cast_times(pc.binary_join_element_wise(c["date"], c["clock"], "T"),
                         pa.timestamp("s"))
    fraction = pc.utf8_rpad(pc.utf8_slice_codeunits(c["fraction"], 0, 6), 6, "0")
    micros = pc.cast(fraction, pa.int64()).to_numpy(zero_copy_only=False)
    local = seconds + (micros * 1000).astype("timedelta64[ns]")
    zone = c["zone"]
    digits = pc.replace_substring(pc.utf8_slice_codeunits(zone, 1), ":", "")
    minutes = pc.add(pc.multiply(_int(pc.utf8_slice_codeunits(digits, 0, 2)), 60),
                     _int(pc.utf8_slice_codeunits(digits, 2, 4)))
    signed = pc.if_else(pc.starts_with(zone, "-"), pc.negate(minutes), minutes)
    offsets = signed.to_numpy(zero_copy_only=False).astype("timedelta64[m]")
    out = local - offsets
    zoneless = pc.equal(zone, "").to_numpy(zero_copy_only=False) & ~np.isnat(local)
    if zoneless.any():
        in_zone = log_zone(ctx)
        out[zoneless] = local[zoneless] if in_zone is UTC else local_to_utc(
            local[zoneless], in_zone)
    return out


def _int(texts: pa.Array) -> pa.Array:
    """Digits as integers, 0 where there are none (``Z``, or no zone)."""
    return pc.cast(pc.if_else(pc.equal(texts, ""), "0", texts), pa.int64())


#: The table the rows belong to (``blocks`` puts them there).
read_rgw.table = "requests"
