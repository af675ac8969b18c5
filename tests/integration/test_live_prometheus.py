"""Collecting live through PromQL gives the same answer as collecting the same files.

Why: a user with a Prometheus and a user with exported files must get the same incidents
and the same ranked causes. Each built-in replayed day's exposition files are loaded into
a real server (Debian's ``prometheus``, backfilled with ``promtool``; Debian's
``victoria-metrics``, imported through ``/api/v1/import/prometheus``), then ``rca collect
--prometheus URL`` (logs and kube objects from the same files) is analysed beside a
collection of the files alone. The servers' own request counters hold the query budget.
"""

from __future__ import annotations

import json
import time
import urllib.request
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rca.cli import main
from rca.config import DEFAULTS
from rca.config import load as load_config
from rca.replay import BUILTINS, builtin, generate
from rca.signals import SIGNALS, evaluate
from rca.signals import available as signals_available
from rca.store import Store
from tests.integration import servers

pytestmark = pytest.mark.integration

#: Per backend: the self-metric counting range queries, and the share of signal points
#: that must equal the offline evaluation of the files (Prometheus: all but the first
#: range after a series starts; VictoriaMetrics: see docs/live-sources.md).
BACKENDS = {
    "prometheus": ("prometheus_http_requests_total", 'handler="/api/v1/query_range"', 0.99),
    "victoria-metrics": ("vm_http_requests_total", 'path="/api/v1/query_range"', 0.97),
}


#: Live series come at the query step (60 s), files at the scrape interval (30 s): an
#: incident placed by a raw series (restarts_total) may start up to one step later live.
STEP = pd.Timedelta(seconds=60)


@pytest.fixture(scope="module", params=list(BUILTINS))
def day(request, tmp_path_factory):
    """(scenario dir, common CLI args, file sources, analysis of the files alone)."""
    tmp = tmp_path_factory.mktemp(request.param)
    scenario = generate(builtin(request.param), tmp / "scenario")
    expected = json.loads((scenario / "expected.json").read_text())
    common = ["--since", expected["window"]["since"], "--until", expected["window"]["until"],
              "--tz", expected["tz"]]
    logs = ["--logs", str(scenario / "logs" / "*")] if any((scenario / "logs").iterdir()) else []
    files = [*logs,
             *(a for p in sorted((scenario / "kube").glob("*.json")) for a in ("--kube", str(p)))]
    metrics = [a for p in _om(scenario) for a in ("--metrics-file", str(p))]
    store = tmp / "store-files"
    assert main(["collect", "--store", str(store), *common, *files, *metrics, "-o", "json"]) == 0
    return scenario, expected, common, files, _analysis(store, common), store


def _om(scenario: Path) -> list[Path]:
    return sorted((scenario / "metrics").glob("*.om"))


def _analysis(store: Path, common: list[str]) -> dict:
    out = store.parent / f"{store.name}.json"
    with open(out, "w") as fh, redirect_stdout(fh):
        assert main(["analyze", "--store", str(store), *common, "-o", "json"]) == 0
    return json.loads(out.read_text())


def _counter(url: str, metric: str, label: str) -> float:
    """A counter from the server's own ``/metrics`` (no self-scrape: the test asks it)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(metric + "{") and label in line)


def _settled(url: str, counter: tuple[str, str], before: float) -> float:
    """The counter once it has moved and stopped moving: VictoriaMetrics counts a request
    a moment after answering it."""
    last, deadline = _counter(url, *counter), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = _counter(url, *counter)
        if now == last and now > before:
            return now
        last = now
    return last


def _ranking(result: dict) -> list:
    return [(i["scope"], i["symptoms"], [(c["id"], c["status"]) for c in i["causes"]])
            for i in result["incidents"]]


def _assert_same_times(live: dict, files: dict) -> None:
    """The same incidents at the same times, to within one query step."""
    assert len(live["incidents"]) == len(files["incidents"])
    for a, b in zip(live["incidents"], files["incidents"], strict=True):
        for key in ("start", "end"):
            gap = abs(pd.Timestamp(a[key]) - pd.Timestamp(b[key]))
            assert gap <= STEP, (key, a[key], b[key])


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_live_collection_gives_the_files_answer(day, backend, tmp_path):
    scenario, expected, common, files, from_files, file_store = day
    with _server(backend, scenario, tmp_path) as url:
        counter = BACKENDS[backend][:2]
        before = _counter(url, *counter)
        store = tmp_path / "store-live"
        assert main(["collect", "--store", str(store), *common, *files,
                     "--prometheus", url, "-o", "json"]) == 0
        queries = _settled(url, counter, before) - before
    live = _analysis(store, common)
    # one query per declared signal for a day: the aggregation ran in the server
    raw = DEFAULTS["sources"]["prometheus"]["raw_metrics"]
    assert queries == len(SIGNALS) + len(raw), f"{queries} range queries for {len(SIGNALS)} signals"
    stored = Store(store).load("metrics")
    summary = json.loads(sorted((store / "collections").glob("*.json"))[-1].read_text())
    no_series = {g["what"].removeprefix("signal ") for g in summary["gaps"]
                 if g["reason"].startswith("no series")}
    # every declared signal (and raw series a detector reads) is stored, or named as a gap
    # because the day has no such metric
    wanted = set(SIGNALS) | set(raw)
    assert set(stored["name"]) | no_series == wanted and not set(stored["name"]) & no_series
    # every signal the day's files give offline is collected live too (days of other
    # worlds carry few metrics: what they have is compared, and they must have some)
    offline = Store(file_store).load("metrics")
    available = {n for n, sig in SIGNALS.items() if signals_available(sig, offline)}
    assert available <= set(stored["name"]), available - set(stored["name"])
    assert offline.empty or available, "the day's metrics give no signal to compare"
    _assert_same_times(live, from_files)
    assert _ranking(live) == _ranking(from_files)
    want = [i["cause"] for i in expected["incidents"]]
    assert [i["causes"][0]["id"] for i in live["incidents"]] == want
    for a, b in zip(live["incidents"], from_files["incidents"], strict=True):
        for x, y in zip(a["causes"], b["causes"], strict=True):
            assert x["score"] == pytest.approx(y["score"], abs=0.02), (a["id"], x["id"])
    _assert_signals_match(stored, file_store, expected, BACKENDS[backend][2])


def _assert_signals_match(stored: pd.DataFrame, file_store: Path, expected: dict,
                          share: float) -> None:
    """The live signal rows equal the offline evaluation of the same files, point by point
    (a quiet day has no incident to compare, so this is what can fail there)."""
    since, until = (pd.Timestamp(expected["window"][k]).tz_convert("UTC")
                    for k in ("since", "until"))
    raw = Store(file_store).load("metrics")
    for name, signal in SIGNALS.items():
        live = stored[stored["name"] == name]
        if live.empty and not signals_available(signal, raw):
            continue  # the day has no such metric: a named gap, checked above
        off = evaluate(signal, raw, since, until - pd.Timedelta(seconds=1), 60)
        off = off[(off.index >= since) & off["value"].notna()]
        a = live.reset_index().set_index(["time", "entity"])["value"].dropna()
        b = off.reset_index().set_index(["time", "entity"])["value"]
        b = b[~b.index.duplicated()]
        assert len(a) and len(b), f"{name}: live {len(a)} points, offline {len(b)}"
        common = a.index.intersection(b.index)
        same = np.isclose(a[common], b[common], rtol=1e-6, atol=1e-9)
        coverage = len(common) / max(len(a), len(b))
        assert coverage >= share and same.mean() >= share, (
            f"{name}: {coverage:.3f} of points in both, {same.mean():.3f} equal")


class _server:
    """The backend with the day's samples loaded; its URL."""

    def __init__(self, backend: str, scenario: Path, tmp: Path) -> None:
        self.backend, self.scenario, self.tmp = backend, scenario, tmp

    def __enter__(self) -> str:
        if self.backend == "prometheus":
            self.ctx = servers.backfilled_prometheus(_om(self.scenario), self.tmp)
            return self.ctx.__enter__()
        self.ctx = servers.victoria_metrics(self.tmp)
        url = self.ctx.__enter__()
        try:
            files = _om(self.scenario)  # a day of another world may carry no metrics at all
            assert servers.import_into_victoria_metrics(url, files) > 0 or not files
        except BaseException:
            self.ctx.__exit__(None, None, None)
            raise
        return url

    def __exit__(self, *exc) -> None:
        self.ctx.__exit__(*exc)


@pytest.mark.parametrize("day", BUILTINS[:1], indirect=True)
def test_config_sources_alone_collect(day, tmp_path, monkeypatch):
    """``rca collect --since …`` with no source flag reads ``sources:`` from rca.yaml."""
    scenario, expected, common, files, from_files, _ = day
    with servers.backfilled_prometheus(_om(scenario), tmp_path) as url:
        cfg = tmp_path / "rca.yaml"
        cfg.write_text(f"sources:\n  prometheus:\n    url: {url}\n  logs:\n    globs: "
                       f"['{scenario / 'logs' / '*'}']\n")
        monkeypatch.setenv("RCA_CONFIG", str(cfg))
        assert load_config().get("sources.prometheus.url") == url
        store = tmp_path / "store"
        assert main(["collect", "--store", str(store), *common]) == 0
    tables = Store(store).tables()
    assert "requests" in tables and "metrics" in tables
    assert [i["start"] for i in _analysis(store, common)["incidents"]] == \
        [i["start"] for i in from_files["incidents"]]
