"""Shared measurements: computed once per window, the same answer for every cause."""

from rca import record
from rca.finding import Window
from rca.measure import latency_split, server_latency
from tests.rca.frames import at, req, requests


def _window(server_s, with_ids=True):
    rows = [req(t, "neishi", latency=0.3) for t in range(0, 3600, 60)]
    for i in range(6):
        rid = f"id{i}" if with_ids else ""
        rows.append(req(3600 + i * 5, "neishi", "timeout", 16.0, request_id=rid))
        rows.append(req(3600 + i * 5 + 15, "inference-neishi", "200", server_s, side="server",
                        request_id=rid, station="10.0.0.9"))
    rows.append(req(3610, "neishi", "200", 0.4, request_id="ok1"))  # success: not counted
    rows.append(req(3610, "inference-neishi", "200", 0.39, side="server", request_id="ok1"))
    tables = {"requests": requests(rows), "objects": record.empty("objects")}
    return Window(at(3540), at(3700), at(0), tables, {"services": ["neishi"]})


def test_split_clears_a_fast_server_inside_long_waits():
    split = latency_split(_window(0.45))
    assert split.matched == 6
    assert (split.client_p50_s, split.server_p50_s) == (16.0, 0.45)
    assert round(split.outside_p50_s, 2) == 15.55


def test_no_ids_no_split():
    assert latency_split(_window(0.45, with_ids=False)) is None


def test_measurements_are_cached_on_the_window():
    w = _window(9.0)
    assert server_latency(w) is server_latency(w)
    assert latency_split(w) is latency_split(w)
    assert server_latency(w).p95_now == 9.0
