"""ingress-nginx and nginx ``combined`` access lines read as Arrow columns, a block at once.

Why Arrow's CSV reader: an access line is space-separated fields, some in double quotes,
which is exactly what it splits in C (one thread per call, so rejected rows keep their
numbers). Why the result equals the per-line regex's: a line is split only when it
matches, in RE2, the format's regex tightened so that no quote appears outside the three
quoted fields; then the CSV reader and the regex cut it at the same places, into the
same fields. The tightening also leaves out what the per-line parser treats specially
(upstream lists, absurd numbers, times the strict pattern refuses): such a line goes back
to the per-line parser (``blocks``), which reads it or reports it malformed as before.

Times: Arrow's ``strptime`` is lenient (``31/Feb`` becomes ``03/Mar``, ``:60`` seconds
pass), so each distinct ``$time_local`` must also fit a strict pattern and give back its
own day of month; the rest go to the per-line parser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from collectors.base import ParseContext
from collectors.logs import ingress_nginx, nginx_combined
from collectors.logs.line_bytes import repeated, take_at

__all__ = ["read_ingress", "read_time_local", "read_timed"]

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
#: The ``$time_local`` texts this module reads itself: years 1970-2199 and offsets within
#: ±23:59 (the per-line parser also reads the odd others, or refuses them).
_STRICT_TIME = (rf"^\d\d/({_MONTHS})/(19[7-9]\d|2[01]\d\d):([01]\d|2[0-3]):[0-5]\d:[0-5]\d "
                r"[+-]([01]\d|2[0-3])[0-5]\d$")
_DIGITS = r"\d{1,15}"  # bytes: at most 15 digits, so the float is exact
_SECONDS = r"\d{1,9}(?:\.\d{1,9})?"
_TOKEN = r'[^\s,"]+'  # one field, no list (", "): a list takes the per-line full regex
_WORD = r'[^\s"]+'
_BRACKETED = r'\[[^\]"]*\]'
_TIME = r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"  # one space: two CSV fields
_COMBINED = [
    (rf"{_WORD} - {_WORD} ", ["remote_addr", "dash", "remote_user"]),
    (rf"{_TIME} ", ["time_open", "time_close"]),
    (rf'"[^"]*" \d{{3}} {_DIGITS} "[^"]*" "[^"]*"',
     ["request", "status", "body_bytes_sent", "http_referer", "http_user_agent"]),
]
_INGRESS = [
    *_COMBINED,
    (rf" \d+ {_SECONDS} {_BRACKETED} {_BRACKETED}",
     ["request_length", "request_time", "proxy_upstream_name", "proxy_alternative_upstream_name"]),
    (rf" {_TOKEN} {_TOKEN} {_TOKEN} {_TOKEN} {_TOKEN}",
     ["upstream_addr", "upstream_response_length", "upstream_response_time", "upstream_status",
      "req_id"]),
]
_TIMED = [*_COMBINED, (rf" {_SECONDS}", ["request_time"])]
#: The first segment of a request's target (``GET /neishi/predict?n=7 HTTP/1.1`` ->
#: ``neishi``), what ``nginx_combined._first_segment`` reads, when the request holds no
#: ``:`` (an absolute-form ``http://host/…`` target is left to it).
_FIRST_SEGMENT = r"^[^ ]* /*(?P<segment>[^ ?/:]*)"


def read_ingress(lines: pa.Array, ctx: ParseContext) -> tuple[np.ndarray, pd.DataFrame]:
    read, c = _split(lines, _INGRESS, ["remote_addr", "status", "body_bytes_sent",
                                       "request_time", "proxy_upstream_name", "upstream_addr",
                                       "req_id"])
    if not len(read):
        return read, pd.DataFrame()
    upstream = c["upstream_addr"]
    names = pc.utf8_slice_codeunits(c["proxy_upstream_name"], 1, -1)
    return _frame(read, c, {
        "service": _per_distinct(names, ingress_nginx._service),
        "request_id": c["req_id"],
        "upstream": pc.if_else(pc.equal(upstream, "-"), "", upstream),
    })


def read_timed(lines: pa.Array, ctx: ParseContext) -> tuple[np.ndarray, pd.DataFrame]:
    read, c = _split(lines, _TIMED, ["remote_addr", "request", "status", "body_bytes_sent",
                                     "request_time"])
    if not len(read):
        return read, pd.DataFrame()
    return _frame(read, c, {
        "service": _first_segments(c["request"]),
    })


def _frame(read: np.ndarray, c: dict[str, pa.Array], extra: dict) -> tuple[np.ndarray,
                                                                          pd.DataFrame]:
    columns = {
        "side": repeated("server", len(read)),
        "station": c["remote_addr"],
        "latency_s": c["request_time"],
        "status": c["status"],
        "bytes": c["body_bytes_sent"],
        **extra,
    }
    frame = pa.table(columns).to_pandas()
    frame.index = pd.DatetimeIndex(c["time"].to_pandas(), name="time")
    return read, frame


def _split(lines: pa.Array, fields: list, wanted: list[str]) -> tuple[np.ndarray,
                                                                     dict[str, pa.Array]]:
    """Positions of the lines the format's regex matches (with no stray quote), and the
    ``wanted`` columns of those lines, typed; times checked too."""
    pattern = "^" + "".join(piece for piece, _ in fields) + "\n$"
    names = [name for _, group in fields for name in group]
    rows = np.flatnonzero(pc.match_substring_regex(lines, pattern).to_numpy(
        zero_copy_only=False))
    none = np.zeros(0, dtype=np.int64), {}
    if not len(rows):
        return none
    picked = lines if len(rows) == len(lines) else take_at(lines, rows)
    data = picked.buffers()[2]
    offsets = np.frombuffer(picked.buffers()[1], dtype=np.int32)[
        picked.offset:picked.offset + len(picked) + 1]
    text = data[int(offsets[0]):int(offsets[-1])]
    rejected: list = []

    def reject(row) -> str:
        rejected.append(row.number)
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(text),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=False,
                                          block_size=len(text) + 1),
            parse_options=pcsv.ParseOptions(
                delimiter=" ", quote_char='"', double_quote=False, escape_char=False,
                newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=reject),
            convert_options=pcsv.ConvertOptions(
                column_types={**dict.fromkeys(names, pa.string()),
                              **dict.fromkeys(("time_open", "time_close"), _CODED)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=[*wanted, "time_open", "time_close"]))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return none
    if rejected or table.num_rows != len(rows):  # the regex promised otherwise: trust nothing
        return none
    cols = {name: table.column(name).combine_chunks() for name in table.column_names}
    times = _times(cols.pop("time_open"), cols.pop("time_close"))
    cols["time"] = times
    for name in ("request_time", "body_bytes_sent"):
        cols[name] = pc.cast(cols[name], pa.float64())
    good = times.is_valid()
    if good.false_count:
        cols = {name: col.filter(good) for name, col in cols.items()}
        rows = rows[good.to_numpy(zero_copy_only=False)]
    return rows, cols


#: The two halves of ``[$time_local]`` come from the CSV reader dictionary-encoded: a busy
#: log repeats each second many times, and its offset always.
_CODED = pa.dictionary(pa.int32(), pa.string())


def _times(opening: pa.DictionaryArray, closing: pa.DictionaryArray) -> pa.Array:
    """``[23/Aug/2021:11:03:05`` and ``+0800]`` as UTC timestamps, each distinct second
    read once (when the log has one offset, as logs do: else each line's pair)."""
    if len(closing.dictionary) == 1:
        texts = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(opening.dictionary, 1),
            pc.utf8_slice_codeunits(closing.dictionary[0], 0, -1), " ")
        return read_time_local(texts).take(opening.indices)
    return read_time_local(pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(opening.cast(pa.string()), 1),
        pc.utf8_slice_codeunits(closing.cast(pa.string()), 0, -1), " "))


def read_time_local(texts: pa.Array) -> pa.Array:
    """``23/Aug/2021:11:03:05 +0800`` texts as UTC timestamps; null where unsure.

    Each distinct text is read once: a busy log repeats the same second many times."""
    coded = pc.dictionary_encode(texts).combine_chunks() if isinstance(
        texts, pa.ChunkedArray) else pc.dictionary_encode(texts)
    distinct = coded.dictionary
    strict = pc.match_substring_regex(distinct, _STRICT_TIME)
    local = pc.strptime(pc.utf8_slice_codeunits(distinct, 0, 20), format="%d/%b/%Y:%H:%M:%S",
                        unit="s", error_is_null=True)
    good = pc.and_(strict, pc.equal(pc.day(local), _int_at(distinct, 0, 2, strict)))
    hours = _int_at(distinct, 22, 24, good)
    minutes = _int_at(distinct, 24, 26, good)
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(distinct, 21, 22), "-"), -1, 1)
    offset = pc.multiply(sign, pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)))
    seconds = pc.subtract(pc.cast(local, pa.int64()), offset)
    utc = pc.cast(pc.if_else(good, seconds, None), pa.timestamp("s", tz="UTC"))
    return utc.take(coded.indices)


def _int_at(texts: pa.Array, start: int, stop: int, good: pa.Array) -> pa.Array:
    part = pc.utf8_slice_codeunits(texts, start, stop)
    return pc.cast(pc.if_else(good, part, "0"), pa.int64())


def _first_segments(requests: pa.Array) -> pa.Array:
    """The service of each request line: its first path segment, read by RE2 where the
    request is plain, else by ``_first_segment`` once per distinct request. Why not all
    by distinct request: URLs carry ids and queries, so nearly every one is distinct."""
    segment = pc.struct_field(pc.extract_regex(requests, _FIRST_SEGMENT), [0])
    plain = pc.and_(segment.is_valid(), pc.invert(pc.match_substring(requests, ":")))
    if not plain.false_count:
        return segment
    other = pc.invert(plain)
    return pc.replace_with_mask(segment, other, _per_distinct(
        requests.filter(other), nginx_combined._first_segment))


def _per_distinct(values: pa.Array, function) -> pa.Array:
    """``function`` applied once per distinct value (a log has few services)."""
    coded = pc.dictionary_encode(values)
    mapped = pa.array([function(v) for v in coded.dictionary.to_pylist()], pa.string())
    return mapped.take(coded.indices)
