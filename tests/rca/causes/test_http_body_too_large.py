"""http.body_too_large: 413s that dominate the failures, sizes vs the limit, who and where."""

import pytest

from rca import record
from rca.causes import http_body_too_large as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at, req, requests

TH = DEFAULTS["thresholds"]["http_body_too_large"]
MB = 1_000_000


def rows413(n, size=6 * MB, side="client", upstream=""):
    out = []
    for i in range(n):
        r = req(3700 + i * 20, "upload", 413, 0.01, side=side, station="10.1.2.3",
                upstream=upstream)
        r["bytes"] = size if side == "client" else 183
        out.append(r)
    return out


def window(rows, services=("upload",)):
    ok = [req(t, "upload", 200, 0.8, station="10.1.2.3") for t in range(0, 4000, 60)]
    return Window(at(3600), at(4200), at(0), {"requests": requests(ok + rows),
                                              "objects": record.empty("objects")},
                  {"services": list(services)})


def test_uploads_over_the_limit_rejected_by_the_proxy():
    f = judge(cause.CAUSE, window(rows413(8)), TH)
    assert f.score == pytest.approx(0.8)
    assert f.entity == "service/upload" and "10.1.2.3" in f.summary
    assert all(e.supports for e in f.evidence)


@pytest.mark.parametrize("n, fires", [(5, True), (4, False)])
def test_min_count_edge(n, fires):
    assert (judge(cause.CAUSE, window(rows413(n)), TH).score > 0) is fires


@pytest.mark.parametrize("timeouts, fires", [
    (5, True),   # 5 of 10 failures are 413: half
    (6, False),  # 5 of 11: the 413s are a side show of another fault
])
def test_min_share_edge(timeouts, fires):
    other = [req(3800 + i, "upload", "timeout", 5.0, station="10.9.9.9")
             for i in range(timeouts)]
    assert (judge(cause.CAUSE, window(rows413(5) + other), TH).score > 0) is fires


@pytest.mark.parametrize("size, score", [
    (1048577, 0.8),  # a byte over nginx's 1m default
    (1048576, 0.6),  # at the limit: the proxy's limit is lower than the default
])
def test_body_limit_edge(size, score):
    assert judge(cause.CAUSE, window(rows413(6, size)), TH).score == pytest.approx(score)


def test_proxy_answering_itself_adds_when_its_log_records_upstreams():
    served = [req(3650 + i, "upload", 200, 0.5, side="server", upstream="10.244.1.5:8000")
              for i in range(5)]
    f = judge(cause.CAUSE, window(rows413(8, side="server") + served), TH)
    assert f.score == pytest.approx(0.8)  # 0.6 + 0.2 for no upstream (no client sizes)
    assert "no upstream" in f.evidence[-1].text


def test_no_413_does_not_fire():
    other = [req(3800 + i, "upload", "timeout", 5.0) for i in range(8)]
    f = judge(cause.CAUSE, window(other), TH)
    assert f.score == 0.0 and not f.evidence[0].supports
