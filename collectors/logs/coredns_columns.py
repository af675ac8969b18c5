"""CoreDNS ``log`` plugin lines, as the node's CRI log file holds them, read as columns.

    2021-08-23T03:03:01.123456789Z stdout F [INFO] 10.244.1.17:41234 - 5113 "AAAA IN
    neishi.inference.svc.cluster.local. udp 50 false 512" NOERROR qr,aa,rd 143 0.000166s

Why one RE2 pattern with groups (Arrow's ``extract_regex``) and no CSV reader: the line has
one quoted part and fixed fields, and the pattern both checks and cuts it in one pass.

Why the rows equal ``coredns.parse``'s: the pattern is that parser's, tightened to the
current default format (a CRI ``F`` line, ``[INFO]``, an IPv4 or bracketed IPv6 client,
class ``IN``, a duration in seconds); an older format, kubectl's own time, CoreDNS's own
time, a Go duration (``1.2ms``), an ``[ERROR]`` line or anything else goes to the
per-line parser. Times are the CRI time cut to microseconds, as ``parse_rfc3339`` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectors.base import ParseContext
from collectors.logs.jsonl_columns import cast_times

__all__ = ["read_coredns"]

_TIME = (r"(?P<time>(?:19[7-9]\d|2[01]\d\d)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T"
         r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))")
_CLIENT = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):(?P<port>\d{1,5})"
_PATTERN = (
    rf"^{_TIME} (?:stdout|stderr) F \[INFO\] {_CLIENT} - (?P<id>\d{{1,5}}) "
    r'"(?P<qtype>[A-Z0-9]+) IN (?P<name>[^\s"]+) (?P<proto>udp|tcp) \d+ (?:true|false) \d+" '
    r"(?P<rcode>[A-Z]+|-) [a-z,]* \d{1,9} (?P<duration>\d{1,9}(?:\.\d{1,9})?)s\n$"
)
_FIELDS = ("time", "ip", "port", "id", "qtype", "name", "proto", "rcode", "duration")


def read_coredns(lines: pa.Array, ctx: ParseContext) -> tuple[np.ndarray, pd.DataFrame]:
    matched = pc.extract_regex(lines, _PATTERN)
    read = np.flatnonzero(matched.is_valid().to_numpy(zero_copy_only=False))
    if not len(read):
        return read, pd.DataFrame()
    parts = matched.filter(matched.is_valid())
    c = {name: parts.field(name) for name in _FIELDS}
    times = cast_times(c["time"], pa.timestamp("ns", tz="UTC"))  # NaT: no such day
    good = ~np.isnat(times)
    if not good.all():
        keep = pa.array(good)
        read, times, c = read[good], times[good], {k: v.filter(keep) for k, v in c.items()}
    times = times.astype(np.int64)
    rcode = c["rcode"]
    frame = pa.table({
        "client_ip": pc.utf8_trim(c["ip"], "[]"),
        "client_port": pc.cast(c["port"], pa.int64()),
        "query_id": pc.cast(c["id"], pa.int64()),
        "qtype": c["qtype"],
        "name": c["name"],
        "proto": c["proto"],
        "rcode": pc.if_else(pc.equal(rcode, "-"), "", rcode),  # "-": no answer was sent
        "latency_s": pc.cast(c["duration"], pa.float64()),
    }).to_pandas()
    micros = (times - times % 1000).astype("datetime64[ns]")  # parse_rfc3339 cuts to µs
    frame.index = pd.DatetimeIndex(micros, name="time").tz_localize("UTC")
    return read, frame


#: The table the rows belong to (``blocks`` puts them there).
read_coredns.table = "dns"
