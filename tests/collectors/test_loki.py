"""The Loki collector against a local server replaying ``query_range`` in Loki's shape.

No Loki can be installed here (Debian's ``loki`` package is an unrelated tool), so the
stub below implements what the collector relies on, as Loki documents it: entries in
``[start, end)``, oldest first across streams with ``direction=forward``, at most
``limit`` of them, ``values`` as ``[ns timestamp string, line]``; a 400 for a range over
``max_query_length``, 429 when rate limited. The lines are real log lines of
``tests/data/logs``; what comes out must equal reading those files.
"""

import json
import re
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.logs import read_log
from collectors.loki import LokiSource, Settings, settings_from
from rca import live
from rca.config import load
from tests.collectors.faults import assert_shown, collect_and_show
from tests.collectors.http_stub import serve

DATA = Path(__file__).parent.parent / "data" / "logs"
T0 = pd.Timestamp("2021-08-23T00:00:00Z").value
HOUR = 3600 * 10**9
SINCE, UNTIL = pd.Timestamp(T0, tz="UTC"), pd.Timestamp(T0 + 24 * HOUR, tz="UTC")
STREAMS = {'{app="ingress-nginx"}': "ingress-nginx.log", '{app="station"}': "requests.jsonl"}
CTX = ParseContext("loki", UTC, {"show_malformed": 3})


def _entries() -> list[tuple[int, dict, str]]:
    """Each file as one stream, a line every 20 minutes; both streams share timestamps,
    so pages end in the middle of a nanosecond that holds several entries."""
    out = []
    for selector, name in STREAMS.items():
        labels = dict(re.findall(r'(\w+)="([^"]*)"', selector))
        lines = [x for x in (DATA / name).read_text().splitlines() if x.strip()]
        out += [(T0 + i * HOUR // 3, labels, line) for i, line in enumerate(lines)]
    return out


class Loki:
    """``/loki/api/v1/query_range`` over fixed entries, with Loki's limits."""

    def __init__(self, max_range_ns=6 * HOUR, throttle=0, errors=0, status=503):
        self.entries, self.max_range_ns = _entries(), max_range_ns
        self.throttle, self.errors, self.status = throttle, errors, status

    def __call__(self, req):
        if self.throttle:
            self.throttle -= 1
            return 429, "too many outstanding requests", {}
        if self.errors:
            self.errors -= 1
            return self.status, "upstream connect error", {}
        p = req.params
        start, end, limit = int(p["start"]), int(p["end"]), int(p["limit"])
        assert p["direction"] == "forward"
        if end - start > self.max_range_ns:
            return 400, (f"the query time range exceeds the limit (query length: "
                         f"{(end - start) // HOUR}h0m0s, limit: "
                         f"{self.max_range_ns // HOUR}h0m0s)"), {}
        wanted = dict(re.findall(r'(\w+)="([^"]*)"', p["query"]))
        if not wanted:
            return 400, "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER", {}
        hits = sorted((e for e in self.entries if start <= e[0] < end and e[1] == wanted),
                      key=lambda e: e[0])[:limit]
        result = {}
        for ts, labels, line in hits:
            key = json.dumps(labels, sort_keys=True)
            result.setdefault(key, {"stream": labels, "values": []})["values"].append(
                [str(ts), line])
        body = {"status": "success", "data": {"resultType": "streams",
                                              "result": list(result.values())}}
        return 200, body, {}


def _fetch(stub, loki_stub=None, **kw):
    slept = []
    settings = Settings(stub.url, tuple(STREAMS), **{"limit": 4, **kw})
    source = LokiSource(settings, sleep=slept.append)
    return list(source.fetch(SINCE, UNTIL, CTX)), slept


def _rows(batches, table="requests"):
    frames = [b.frames[table] for b in batches if table in b.frames]
    return pd.concat(frames) if frames else pd.DataFrame()


def _same_as_files(rows: pd.DataFrame) -> None:
    want = pd.concat([read_log(DATA / n, "auto", CTX).frames["requests"]
                      for n in STREAMS.values()])
    cols = [c for c in want.columns if c not in ("row_id", "source")]
    got = rows[cols].sort_values(cols).reset_index()
    assert len(want) > 20
    pd.testing.assert_frame_equal(got, want[cols].sort_values(cols).reset_index())


def test_paged_chunked_and_throttled_reads_give_the_files_rows():
    server = Loki(throttle=2)
    with serve(server) as stub:
        batches, slept = _fetch(stub)
    assert [g for b in batches for g in b.gaps] == []
    rows = _rows(batches)
    _same_as_files(rows)
    assert rows["row_id"].is_unique
    assert len(slept) == 2 and all(0 < s <= 30 for s in slept)  # backoff, bounded
    # a 24 h window in 6 h chunks after the first 400, each paged by 4 entries
    too_long = [r for r in stub.requests
                if int(r.params["end"]) - int(r.params["start"]) > 6 * HOUR]
    assert len(too_long) >= 1
    assert all(int(r.params["limit"]) == 4 for r in stub.requests)


def test_recollecting_gives_the_same_row_ids():
    with serve(Loki()) as stub:
        first, _ = _fetch(stub)
        again, _ = _fetch(stub, limit=1000, max_range_s=6 * 3600)
    assert sorted(_rows(first)["row_id"]) == sorted(_rows(again)["row_id"])


def test_malformed_lines_are_counted_like_the_files():
    with serve(Loki()) as stub:
        batches, _ = _fetch(stub, limit=1000, max_range_s=6 * 3600)
    want = sum(read_log(DATA / n, "auto", CTX).malformed for n in STREAMS.values())
    assert sum(b.malformed for b in batches) == want


def test_exhausted_retries_are_a_gap_and_later_chunks_still_come():
    server = Loki(errors=4, status=503)
    with serve(server) as stub:
        batches, slept = _fetch(stub, limit=1000, max_range_s=6 * 3600, retries=3)
    gaps = [g for b in batches for g in b.gaps]
    assert len(gaps) == 1 and "HTTP 503" in gaps[0].reason and "(tried 4 times)" in gaps[0].reason
    assert gaps[0].until - gaps[0].since == pd.Timedelta(hours=6)
    assert len(slept) == 3 and slept == sorted(slept)  # growing backoff
    assert len(_rows(batches)) > 0  # the other chunks and selector landed


def test_a_bad_selector_is_a_gap_not_retried():
    with serve(Loki()) as stub:
        source = LokiSource(Settings(stub.url, ("not logql",), max_range_s=86400),
                            sleep=lambda s: None)
        batches = list(source.fetch(SINCE, UNTIL, CTX))
    gaps = [g for b in batches for g in b.gaps]
    assert len(gaps) == 1 and gaps[0].reason.startswith("HTTP 400: parse error")
    assert (gaps[0].since, gaps[0].until) == (SINCE, UNTIL)  # the whole window, named
    assert len(stub.requests) == 3  # 24 h and 12 h too long, then 6 h: parse error, no retry


def _show(tmp_path, stub, selector, config=""):
    return collect_and_show(tmp_path, SINCE, UNTIL, ["--loki", stub.url, "--logql", selector],
                            "sources:\n  loki:\n    max_range_s: 21600\n    retries: 2\n"
                            "    backoff_s: 0.01\n    backoff_max_s: 0.05\n" + config)


def test_429_on_every_try_is_one_gap_over_the_window(tmp_path):
    with serve(Loki(throttle=1000)) as stub:
        shown = _show(tmp_path, stub, '{app="station"}')
    assert_shown(shown, "loki", 'logql {app="station"}',
                 "HTTP 429: too many outstanding requests (tried 3 times)", SINCE, UNTIL)
    assert len(stub.requests) == 4 * 3  # 4 chunks of 6 h, each tried 3 times: bounded


def test_400_bad_selector_is_a_gap_over_the_window(tmp_path):
    with serve(Loki()) as stub:
        shown = _show(tmp_path, stub, "not logql")
    assert_shown(shown, "loki", "logql not logql", "HTTP 400: parse error", SINCE, UNTIL)
    assert len(stub.requests) == 1  # not retried, and not asked again for later chunks


def test_flags_and_config(tmp_path):
    assert settings_from(load(None, None), live.Flags()) is None
    with pytest.raises(live.SourceError, match="no LogQL selector"):
        settings_from(load(None, None), live.Flags({"loki": "http://127.0.0.1:1"}))
    f = tmp_path / "rca.yaml"
    f.write_text("sources:\n  loki:\n    url: http://127.0.0.1:1\n    logql: ['{a=\"b\"}']\n"
                 "    limit: 100\n")
    s = settings_from(load(str(f)), live.Flags({"logql": ['{app="x"}']}))
    assert (s.queries, s.limit) == (('{app="x"}',), 100)
