"""JSON lines read as columns, a block at once: the plain records, each field a column.

Why orjson, called once per line from C (``map``): measured per CPU-second on ``make
bench``'s lines, the standard library's scanner reads ~600,000 records in the same loop,
orjson ~1,500,000, and Arrow's JSON reader ~800,000 but refuses a whole block for one
record whose field changes type (``"status": "timeout"`` after ``200``) or one garbage
line. orjson is stricter than ``json`` (no ``NaN``, no lone surrogates, no integers past
64 bits): a record it refuses is left to the per-line parser, which reads it as before.
The per-line parser spent its time in dateutil and ``Timestamp`` (~20 µs a line); here
times are read by Arrow's ISO parser, once per block.

Why the rows equal the per-line parser's: a record is taken here only when every field
it uses has the plain shape (strings as strings, numbers as finite numbers >= 0, a
status code the per-line parser's own ``_status`` accepts, an ISO time with its offset
and at most microseconds, years 1970-2199); anything else (epoch times, zone-less times,
numeric strings, a Docker wrapper, bad JSON) goes back to ``jsonl.parse`` line by line,
which reads it or reports it malformed as before.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectors.base import LineError, ParseContext
from collectors.logs import jsonl
from collectors.logs.line_bytes import take_at

__all__ = ["cast_times", "local_to_utc", "read_jsonl"]

#: ISO times this module reads itself: ``T`` or a space, at most microseconds (dateutil
#: reads no finer), hours 00-23, years 1970-2199, with an offset, ``Z`` or none (``--tz``).
_ISO = (r"^(19[7-9]\d|2[01]\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):"
        r"[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$")
_ZONED = r"(Z|[+-]\d\d:\d\d)$"
_DOCKER = '{"log":'
_TEXTS = ("station", "service", "request_id", "upstream")


def read_jsonl(lines: pa.Array, ctx: ParseContext) -> tuple[np.ndarray, pd.DataFrame]:
    names = {**jsonl.DEFAULT_FIELDS, **ctx.settings.get("jsonl_fields", {})}
    objs, where = _records(lines)
    if not objs:
        return np.zeros(0, dtype=np.int64), pd.DataFrame()
    keys = [names[f] for f in jsonl.DEFAULT_FIELDS]
    rows = [tuple(map(o.get, keys)) for o in objs]
    col = dict(zip(jsonl.DEFAULT_FIELDS, zip(*rows, strict=True), strict=True))
    ok = np.ones(len(objs), dtype=bool)
    columns = {f: _texts(col[f], ok) for f in _TEXTS}
    columns["side"] = _sides(col["side"], ok)
    status = _statuses(col["status"], ok)
    gave_up = np.isin(status, list(jsonl._GAVE_UP))
    latency = _numbers(col["latency_ms"], ok, missing=gave_up)
    columns["latency_s"] = pa.array(latency / 1000.0)
    columns["status"] = pa.array(status, pa.string())
    columns["bytes"] = pa.array(_numbers(col["bytes"], ok, missing=True))
    times = _times(col["ts"], ctx.zone)
    ok &= ~np.isnat(times)
    if not ok.any():
        return np.zeros(0, dtype=np.int64), pd.DataFrame()
    keep = pa.array(ok)
    frame = pa.table({f: c.filter(keep) for f, c in columns.items()}).to_pandas()
    frame.index = pd.DatetimeIndex(times[ok], name="time").tz_localize("UTC")
    return where[ok], frame


def _kinds_ok(values: tuple, kinds: frozenset, ok: np.ndarray) -> bool:
    """Whether every value is of one of ``kinds``; if not, ``ok`` loses those that are not."""
    if set(map(type, values)) <= kinds:
        return True
    ok &= np.fromiter((type(v) in kinds for v in values), bool, len(values))
    return False


_STR = frozenset({str, type(None)})
_NUMBER = frozenset({int, float})
_NUMBER_OR_NONE = _NUMBER | {type(None)}
_STATUS = frozenset({int, str, type(None)})


def _texts(values: tuple, ok: np.ndarray) -> pa.Array:
    """A text field: strings ('' when missing); any other JSON type is the per-line
    parser's (it writes it as Python prints it)."""
    if not _kinds_ok(values, _STR, ok):
        values = [v if type(v) is str else None for v in values]
    return pc.fill_null(pa.array(values, pa.string()), "")


def _sides(values: tuple, ok: np.ndarray) -> pa.Array:
    if not (_kinds_ok(values, _STR, ok) and set(values) <= {None, "client", "server"}):
        ok &= np.fromiter((v is None or v == "client" or v == "server" for v in values),
                          bool, len(values))
        values = [v if v == "client" or v == "server" else None for v in values]
    return pc.fill_null(pa.array(values, pa.string()), "client")


def _statuses(values: tuple, ok: np.ndarray) -> np.ndarray:
    """Each status as the per-line parser's ``_status`` gives it, read once per distinct
    value (a log has a handful); a value it refuses is left to it."""
    if not _kinds_ok(values, _STATUS, ok):  # bools, lists…: never a distinct key
        values = tuple(v if type(v) in _STATUS else None for v in values)
    seen = {}
    for v in set(values):
        try:
            seen[v] = jsonl._status(v, "status")
        except LineError:
            seen[v] = None
    out = np.array([seen[v] for v in values], dtype=object)
    refused = out == None  # noqa: E711 (elementwise)
    if refused.any():
        ok &= ~refused
        out[refused] = ""
    return out


def _numbers(values: tuple, ok: np.ndarray, missing) -> np.ndarray:
    """JSON numbers as floats where they are finite and >= 0; a missing value is NaN,
    fine where ``missing`` says so; anything else is left to the per-line parser."""
    out, absent = _floats(values)
    ok &= (out >= 0.0) & (out < math.inf) | (absent & missing)
    return out


def _floats(values: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The JSON numbers among ``values`` as floats (NaN elsewhere), and which are missing."""
    if not set(map(type, values)) <= _NUMBER_OR_NONE:  # bools, texts…: not numbers here
        values = [v if type(v) in _NUMBER else math.inf for v in values]
    try:
        array = pa.array(values, pa.float64())
    except (pa.ArrowInvalid, OverflowError):  # an integer past 2**63
        array = pa.array([float(v) if type(v) is float or (type(v) is int and abs(v) < 2**53)
                          else (None if v is None else math.inf) for v in values], pa.float64())
    return array.to_numpy(zero_copy_only=False), array.is_null().to_numpy(zero_copy_only=False)


def _records(lines: pa.Array) -> tuple[list[dict], np.ndarray]:
    """The lines that are one JSON object each (not a Docker wrapper), and where: all
    of them by orjson in one C loop; when one fails, line by line."""
    first = pc.utf8_slice_codeunits(lines, 0, 7)
    maybe = pc.and_(pc.starts_with(first, "{"), pc.invert(pc.equal(first, _DOCKER)))
    where = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
    if not len(where):
        return [], where
    picked = take_at(lines, where)
    offsets = np.frombuffer(picked.buffers()[1], dtype=np.int32)[
        picked.offset:picked.offset + len(picked) + 1]
    pieces = picked.buffers()[2].to_pybytes()[int(offsets[0]):int(offsets[-1])].split(b"\n")
    del pieces[-1]
    try:
        objs = list(map(orjson.loads, pieces))
    except orjson.JSONDecodeError:
        objs = [_loads(piece) for piece in pieces]
    if set(map(type, objs)) == {dict}:
        return objs, where
    mine = np.fromiter((type(o) is dict for o in objs), bool, len(objs))
    return [o for o in objs if type(o) is dict], where[mine]


def _loads(piece: bytes):
    try:
        return orjson.loads(piece)
    except orjson.JSONDecodeError:
        return None


def _times(values: list, zone: tzinfo) -> np.ndarray:
    """UTC nanoseconds (NaT where the per-line parser must decide); a zone-less time is
    read in ``zone``, as ``parse_instant`` does."""
    texts = pa.array([v if type(v) is str else None for v in values], pa.string())
    plain = pc.fill_null(pc.match_substring_regex(texts, _ISO), False)
    zoned = pc.and_(plain, pc.match_substring_regex(texts, _ZONED))
    utc = cast_times(pc.if_else(zoned, texts, None), pa.timestamp("ns", tz="UTC"))
    local = cast_times(pc.if_else(pc.and_not(plain, zoned), texts, None), pa.timestamp("ns"))
    out = utc
    naive = ~np.isnat(local)
    if naive.any():
        out[naive] = local_to_utc(local[naive], zone)
    epoch, _ = _floats(values)
    is_epoch = (epoch >= 0.0) & (epoch < math.inf)
    if is_epoch.any():
        out[is_epoch] = _from_epoch(epoch[is_epoch])
    return out


#: Epoch seconds read here: up to 2191 (the per-line parser decides beyond).
_LAST_EPOCH_S = 7.0e9


def _from_epoch(values: np.ndarray) -> np.ndarray:
    """Epoch seconds (milliseconds above ``jsonl._EPOCH_MS_ABOVE``) as
    ``datetime.fromtimestamp`` reads them: whole microseconds, rounded half to even."""
    seconds = np.where(values > jsonl._EPOCH_MS_ABOVE, values / 1000.0, values)
    late = ~(seconds < _LAST_EPOCH_S)
    seconds[late] = 0.0
    whole = np.trunc(seconds)
    micros = np.rint((seconds - whole) * 1e6)
    times = ((whole.astype(np.int64) * 1_000_000 + micros.astype(np.int64)) * 1000).astype(
        "datetime64[ns]")
    times[late] = np.datetime64("NaT")
    return times


def cast_times(texts: pa.Array, kind: pa.DataType) -> np.ndarray:
    """ISO texts as ``datetime64[ns]`` (NaT where Arrow cannot read one)."""
    try:
        times = pc.cast(texts, kind)
    except pa.ArrowInvalid:  # a day the month lacks: find it line by line (rare)
        times = pa.array([_one_time(t, kind) for t in texts.to_pylist()], pa.int64()).cast(kind)
    return times.to_numpy(zero_copy_only=False).astype("datetime64[ns]")


def _one_time(text: str | None, kind: pa.DataType) -> int | None:
    if text is None:
        return None
    try:
        return pc.cast(pa.scalar(text), kind).value
    except pa.ArrowInvalid:
        return None


def local_to_utc(local: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Wall times in ``zone`` as UTC, the offset found once per distinct minute (zone
    rules change on whole minutes); a minute the clocks skip or repeat is NaT, left to
    the per-line parser."""
    minutes = local.astype("datetime64[m]")
    distinct, back = np.unique(minutes, return_inverse=True)
    offsets = np.array([_offset(m.item(), zone) for m in distinct], dtype="timedelta64[ns]")
    out = local - offsets[back]
    out[np.isnat(offsets[back])] = np.datetime64("NaT")
    return out


def _offset(minute: datetime, zone: tzinfo):
    first = minute.replace(tzinfo=zone).utcoffset()
    if first != minute.replace(tzinfo=zone, fold=1).utcoffset():
        return np.timedelta64("NaT")
    return np.timedelta64(int(first.total_seconds() * 1e9), "ns")
