"""The Prometheus collector over HTTP: auth, TLS, gaps, the concurrency bound, shaping.

The server is a local stub answering in the Prometheus HTTP API's documented shape; the
same queries against real engines are in ``tests/integration/test_live_prometheus.py``.
"""

import time
from datetime import UTC

import numpy as np
import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.prometheus import PrometheusSource, Settings, settings_from, shape
from rca import live
from rca.config import DEFAULTS, load
from rca.signals import SIGNALS
from tests.collectors.http_stub import self_signed, serve

SINCE, UNTIL = pd.Timestamp("2021-08-23T03:00:00Z"), pd.Timestamp("2021-08-23T04:00:00Z")
CTX = ParseContext("prometheus", UTC)
TOKEN = "s3cr3t-t0ken-value"
#: Queries a source built from the config makes: the signals and the raw series detectors read.
FROM_CONFIG = len(SIGNALS) + len(DEFAULTS["sources"]["prometheus"]["raw_metrics"])


def _matrix(req, labels=None):
    """A query_range answer: one series per node, a value at every step."""
    start, end, step = float(req.params["start"]), float(req.params["end"]), 60
    values = [[t, "0.25"] for t in np.arange(start, end + 1, step).tolist()]
    series = [{"metric": {"instance": f"10.0.0.{i}:9100", **(labels or {})}, "values": values}
              for i in (1, 2)]
    return 200, {"status": "success", "data": {"resultType": "matrix", "result": series}}, {}


def _fetch(settings):
    return list(PrometheusSource(settings).fetch(SINCE, UNTIL, CTX))


def _config(tmp_path, text):
    f = tmp_path / "rca.yaml"
    f.write_text(text)
    return load(str(f))


def test_token_file_and_tenant_header_reach_the_server(tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")

    def respond(req):
        if req.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"status": "error", "error": "unauthorized"}, {}
        return _matrix(req)

    with serve(respond) as stub:
        cfg = _config(tmp_path, f"sources:\n  prometheus:\n    url: {stub.url}\n"
                      f"    bearer_token_file: {token}\n    headers:\n"
                      "      X-Scope-OrgID: factory-a\n")
        batches = _fetch(settings_from(cfg, live.Flags()))
    assert [g for b in batches for g in b.gaps] == []
    assert {r.headers["x-scope-orgid"] for r in stub.requests} == {"factory-a"}
    assert len(stub.requests) == FROM_CONFIG
    assert all(len(b.frames["metrics"]) == 2 * 60 for b in batches)


def test_a_refused_token_is_a_gap_that_does_not_show_the_token(tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN)

    def respond(req):  # a proxy that echoes what it refused, as some do
        return 403, {"status": "error", "errorType": "forbidden",
                     "error": f"token {req.headers['authorization']} refused"}, {}

    with serve(respond) as stub:
        settings = settings_from(load(None, None), live.Flags(
            {"prometheus": stub.url, "prometheus_token_file": str(token)}))
        batches = _fetch(settings)
    gaps = [g for b in batches for g in b.gaps]
    assert len(gaps) == FROM_CONFIG
    assert all("HTTP 403" in g.reason and TOKEN not in g.reason for g in gaps)
    assert all(b.frames["metrics"].empty for b in batches)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_with_the_ca_file_and_with_insecure(tmp_path):
    cert, key = self_signed(tmp_path)
    with serve(_matrix, cert=(cert, key)) as stub:
        ok = _fetch(Settings(stub.url, verify=str(cert), retries=0))
        insecure = _fetch(Settings(stub.url, verify=False, retries=0))
        unknown_ca = _fetch(Settings(stub.url, retries=0))
    assert not any(b.gaps for b in ok) and not any(b.gaps for b in insecure)
    assert sum(len(b.frames["metrics"]) for b in ok) == len(SIGNALS) * 120
    reasons = {g.reason for b in unknown_ca for g in b.gaps}
    assert reasons and all("SSL" in r or "certificate" in r for r in reasons), reasons


def test_a_failed_or_empty_signal_is_a_named_gap_and_the_others_land():
    def respond(req):
        if "histogram_quantile" in req.params["query"]:
            return 422, {"status": "error", "errorType": "execution",
                         "error": "query processing would load too many samples"}, {}
        if "node_load1" in req.params["query"]:
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}, {}
        return _matrix(req)

    with serve(respond) as stub:
        batches = _fetch(Settings(stub.url, retries=0))
    gaps = {g.what: g.reason for b in batches for g in b.gaps}
    assert gaps == {
        "signal coredns_request_p99_seconds":
            "HTTP 422: query processing would load too many samples",
        "signal node_load1": "no series: node_load1 not found "
                             "(renamed? set sources.prometheus.metric_names)",
    }
    landed = {b.source for b in batches if not b.frames["metrics"].empty}
    assert landed == {f"prometheus: {n}" for n in SIGNALS} - {
        "prometheus: coredns_request_p99_seconds", "prometheus: node_load1"}


def test_unreachable_server_is_a_gap_not_a_crash():
    with serve(_matrix) as stub:
        url = stub.url
    batches = _fetch(Settings(url, retries=0, timeout_s=2))
    assert all(g.reason.startswith("cannot connect") for b in batches for g in b.gaps)
    assert len(batches) == len(SIGNALS)


@pytest.mark.parametrize("bound", [1, 3])
def test_queries_in_flight_stay_within_the_bound(bound):
    def slow(req):
        time.sleep(0.08)
        return _matrix(req)

    with serve(slow) as stub:
        _fetch(Settings(stub.url, concurrency=bound, max_range_s=1200))  # 3 chunks each
    assert len(stub.requests) == 3 * len(SIGNALS)
    assert stub.max_in_flight == bound  # used, and never exceeded


def test_shape_keeps_nan_and_inf_and_maps_labels_back():
    series = [{"metric": {"kubernetes_node": "w1", "instance": "10.0.0.1:9100"},
               "values": [[1629687600, "NaN"], [1629687660, "+Inf"], [1629687720, "0.5"]]}]
    df = shape(SIGNALS["node_load1"], series, {"node": "kubernetes_node"})
    assert list(df["entity"].unique()) == ["node/w1"]
    assert df["name"].unique().tolist() == ["node_load1"]
    assert np.isnan(df["value"].iloc[0]) and np.isinf(df["value"].iloc[1])
    assert df.index[0] == pd.Timestamp("2021-08-23T03:00:00Z")
    assert df["row_id"].is_unique
    again = shape(SIGNALS["node_load1"], series, {"node": "kubernetes_node"})
    assert again["row_id"].tolist() == df["row_id"].tolist()  # re-collection dedupes


def test_no_url_no_source_and_unknown_signals_refused(tmp_path):
    assert settings_from(load(None, None), live.Flags()) is None
    cfg = _config(tmp_path, "sources:\n  prometheus:\n    url: http://127.0.0.1:1\n"
                  "    signals: [no_such_signal_total]\n")
    with pytest.raises(live.SourceError, match="unknown no_such_signal_total"):
        settings_from(cfg, live.Flags())
